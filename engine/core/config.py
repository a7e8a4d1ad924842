"""Frozen, validated configuration objects shared by the GUI, the CLI and the engine."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.core.errors import ConfigError

MODEL_KINDS = ("dense", "sparse", "deep", "conv", "residual", "vae", "conv_vae", "aae", "n2n", "conv1d",
               "transformer")
MODEL_LABELS = {
    "dense": "Dense (one hidden code layer)",
    "sparse": "Sparse (L1 on the code)",
    "deep": "Deep dense (two hidden layers per side)",
    "conv": "Convolutional",
    "residual": "Residual denoiser (DnCNN-style, any image size)",
    "vae": "Variational (dense, 784-512-latent)",
    "conv_vae": "Variational (convolutional)",
    "aae": "Adversarial (AAE, latent prior)",
    "n2n": "Self-supervised denoiser (Neighbor2Neighbor)",
    "conv1d": "Sequence: 1-D convolutional (windows of a series)",
    "transformer": "Sequence: transformer (self-attention, windows of a series)",
}
SEQUENCE_KINDS = ("conv1d", "transformer")
GENERATIVE_KINDS = ("vae", "conv_vae", "aae")
SELF_SUPERVISED_KINDS = ("n2n",)  # trained on a folder of noisy images alone (engine.denoise.selfsupervised)
VAE_KINDS = ("vae", "conv_vae")
LATENT_RANGE = (1, 256)
PRIORS = ("gaussian", "mixture")
PRIOR_LABELS = {
    "gaussian": "Gaussian N(0, I)",
    "mixture": "Mixture of Gaussians (one component per class)",
}
LOSSES = ("bce", "mse")
LOSS_LABELS = {"bce": "Binary cross-entropy", "mse": "Mean squared error"}
# The choices of the other front-end settings, here so that every front end offers the same ones without
# importing the (heavy) modules that implement them.
CLASSICAL_DENOISERS = {"nl_means": "Non-local means", "tv": "TV Chambolle", "wavelet": "Wavelet BayesShrink",
                       "bm3d": "BM3D"}  # on colour images BM3D runs as CBM3D (engine.denoise.classical.method_label)
EXPORT_FORMATS = {"keras": "Keras (.keras)", "savedmodel": "TensorFlow SavedModel (folder)",
                  "tflite": "TensorFlow Lite (.tflite)", "onnx": "ONNX (.onnx)"}
EXPORT_PARTS = {"model": "Whole autoencoder", "encoder": "Encoder only", "decoder": "Decoder only"}
EXPORT_SUFFIXES = {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}


@dataclass(frozen=True)
class Limits:
    low: float
    high: float
    help: str


@dataclass(frozen=True)
class TrainConfig:
    model_kind: str = "dense"
    code_size: int = 32
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-3
    loss: str = "bce"
    noise_factor: float = 0.0
    l1_weight: float = 1e-5
    validation_fraction: float = 0.1
    early_stopping_patience: int = 0
    seed: int = 0
    preview_count: int = 8
    lr_schedule: str = "cosine"
    filters: int = 32
    depth: int = 12
    beta: float = 1.0
    prior: str = "gaussian"
    # The code layer of the dense, deep and sparse kinds: None = the kind's own (linear; ReLU for sparse, whose
    # L1 penalty wants codes that are zero). Runs recorded before this setting existed trained "relu" codes.
    code_activation: str | None = None

    LIMITS: ClassVar[dict[str, Limits]] = {
        "code_size": Limits(1, 4096, "Units in the code (bottleneck) layer; for conv, channels of the code map."),
        "epochs": Limits(1, 10000, "Passes over the training data."),
        "batch_size": Limits(1, 65536, "Samples per gradient step."),
        "learning_rate": Limits(1e-7, 10.0, "Adam step size. Too large makes the loss blow up (NaN)."),
        "noise_factor": Limits(0.0, 5.0, "Std of Gaussian noise added to inputs (denoising); 0 = plain autoencoder."),
        "l1_weight": Limits(0.0, 1.0, "Weight of the L1 activity penalty on the code (sparse model only)."),
        "validation_fraction": Limits(0.0, 0.9, "Share of samples held out when the data has no test split."),
        "early_stopping_patience": Limits(0, 10000, "Stop after this many epochs without a better validation loss; 0 = off."),
        "seed": Limits(0, 2**31 - 1, "Random seed: same seed, same data and settings give the same run."),
        "preview_count": Limits(1, 32, "Validation samples shown in the live preview."),
        "filters": Limits(1, 1024, "Channels of the hidden layers of the conv, residual and sequence models."),
        "depth": Limits(3, 64, "Convolution layers of the residual denoiser."),
        "beta": Limits(0.0, 100.0, "Weight of the KL term (VAE only); 1 = the standard ELBO."),
    }

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.model_kind not in MODEL_KINDS:
            raise ConfigError(f"Unknown model kind {self.model_kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
        if self.loss not in LOSSES:
            raise ConfigError(f"Unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}.")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"Unknown learning-rate schedule {self.lr_schedule!r}; use 'constant' or 'cosine'.")
        if self.code_activation not in (None, "relu", "linear"):
            raise ConfigError(f"Unknown code activation {self.code_activation!r}; use 'relu' or 'linear'.")
        if self.prior not in PRIORS:
            raise ConfigError(f"Unknown prior {self.prior!r}; choose one of {', '.join(PRIORS)}.")
        if self.model_kind == "residual" and (self.noise_factor <= 0 or self.loss != "mse"):
            raise ConfigError("The residual denoiser learns to remove noise: train it as a denoiser (a noise factor "
                              "above 0; 0.1 = sigma 25 on a 0-255 scale) with mean squared error.")
        if self.generative:
            low, high = LATENT_RANGE
            size = self.code_size
            if isinstance(size, bool) or not isinstance(size, (int, float)) or size != size \
                    or int(size) != size or not low <= size <= high:
                raise ConfigError(f"The latent size (code size) of the {MODEL_LABELS[self.model_kind]} model must be "
                                  f"a whole number from {low} to {high}; got {size!r}.")
        for name, lim in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}.")
            if value != value or not (lim.low <= value <= lim.high):  # NaN fails too
                raise ConfigError(f"{name} = {value} is out of range; allowed {lim.low:g} to {lim.high:g}. {lim.help}")
        if self.generative:
            if self.model_kind in VAE_KINDS and self.loss != "bce":
                raise ConfigError("A variational autoencoder needs binary cross-entropy: its loss (the ELBO) is the "
                                  "cross-entropy summed over pixels plus beta times the KL term. Choose binary "
                                  "cross-entropy, or an Adversarial (AAE) model for mean squared error.")
        # Denoising generative models are allowed: the noisy image goes in, the clean one is the target.

    @property
    def denoising(self) -> bool:
        return self.noise_factor > 0

    @property
    def code_activation_used(self) -> str:
        """The dense, deep and sparse kinds' code activation: the one set, else the kind's own."""
        return self.code_activation or ("relu" if self.model_kind == "sparse" else "linear")

    @property
    def generative(self) -> bool:
        """True for the VAE and AAE kinds (code_size is then the latent size)."""
        return self.model_kind in GENERATIVE_KINDS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(unknown)}.")
        return cls(**values)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


DATA_KINDS = ("mnist", "mnist_download", "mnist_file", "folder", "patches", "array")
DATA_LABELS = {
    "mnist": "MNIST (Keras cache, else built-in subset)",
    "mnist_download": "MNIST, download full set (60k)",
    "mnist_file": "MNIST file (mnist.npz or IDX files)",
    "folder": "Folder of my images",
    "patches": "Folder of clean images, cut into patches (denoisers)",
    "array": "Array file (.npy / .npz)",
}


@dataclass(frozen=True)
class DataSpec:
    """Where the training data comes from and how it is prepared."""

    kind: str = "mnist"
    path: str = ""
    image_size: int = 28
    color: str = "grey"
    validation_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ConfigError(f"Unknown data source {self.kind!r}; choose one of {', '.join(DATA_KINDS)}.")
        if self.kind in ("mnist_file", "folder", "patches", "array") and not self.path:
            what = "folder" if self.kind in ("folder", "patches") else "file"
            raise ConfigError(f"Choose a {what} for '{DATA_LABELS[self.kind]}'.")
        if not 4 <= self.image_size <= 512:
            raise ConfigError(f"Image size {self.image_size} is out of range; allowed 4 to 512 pixels.")
        if self.color not in ("grey", "rgb"):
            raise ConfigError(f"Colour must be 'grey' or 'rgb', got {self.color!r}.")
        if not 0.0 < self.validation_fraction <= 0.9:
            raise ConfigError(f"Validation fraction {self.validation_fraction} is out of range; allowed 0.01 to 0.9.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataSpec":
        """The spec recorded in a dict (a run's data entry, saved settings); other keys (e.g. the data's
        summary) are ignored; bad values raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in dict(values).items() if k in known})
        except TypeError as exc:
            raise ConfigError(f"Bad data settings: {exc}") from exc
