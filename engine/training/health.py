"""Health checks while training, one small callback each: they warn, with a fix, before a run wastes the
user's time. Each warns once per run, as a HealthWarning event, in the tracker (so in the run record and
the final message):

- baseline: the validation loss is no better than predicting the mean sample (a learning rate too high:
  every reconstruction the same blob);
- collapse: a VAE's KL term near zero for several epochs (posterior collapse: the code says nothing);
- dead units: most code units zero for every validation sample (dead ReLUs);
- overfitting: the validation loss rising for several epochs while the training loss falls.

Data outside [0, 1] for a sigmoid output with cross-entropy is refused before training starts
(`check_data_range`), since no epoch of such a run could be right.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from engine.core.config import VAE_KINDS, TrainConfig
from engine.core.errors import ConfigError
from engine.core.events import HealthWarning
from engine.training.callbacks import Tracker, Tracking, monitored

EPS = 1e-7
COLLAPSE_KL = 0.1  # nats per sample, summed over the latent dimensions: a code that carries ~nothing
DEAD_FRACTION = 0.5  # warn when at least half the code units are dead
SAMPLE_LIMIT = 512  # validation samples the dead-unit check encodes each epoch
MIN_SAMPLES = 32  # fewer validation samples cannot tell a dead unit from a quiet one
MIN_STEPS = 100  # optimizer steps before a check judges the model: on tiny data a sound run still outputs
                 # about the mean after a few epochs of 6 steps (it beats it after ~30-50 steps)


def check_data_range(config: TrainConfig, x_train: np.ndarray, x_val: np.ndarray) -> bool:
    """True when every value is in [0, 1] (the model then ends in a sigmoid); ConfigError when the loss is
    binary cross-entropy and the data is not, with the range found and the fix."""
    low, high = float(min(x_train.min(), x_val.min())), float(max(x_train.max(), x_val.max()))
    unit_range = low >= 0 and high <= 1
    if config.loss == "bce" and not unit_range:
        fix = ("A variational autoencoder needs data in [0, 1]: rescale it (images are scaled on loading)"
               if config.model_kind in VAE_KINDS else "Choose mean squared error, or rescale the data to [0, 1]")
        raise ConfigError(f"Binary cross-entropy needs data in [0, 1]; this data runs from {low:.4g} to "
                          f"{high:.4g}. {fix}.")
    return unit_range


def baseline_loss(x_train: np.ndarray, x_val: np.ndarray, loss: str) -> float:
    """The validation loss of the trivial model that outputs the mean training sample, in the training
    loss (binary cross-entropy or mean squared error, averaged over every value)."""
    mean = np.asarray(x_train).mean(axis=0, dtype=np.float64).astype(np.float32)  # no float64 copy of the data
    target = np.asarray(x_val, np.float32)
    if loss == "bce":
        p = np.clip(mean, EPS, 1 - EPS)
        return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean(dtype=np.float64))
    with np.errstate(over="ignore"):  # values beyond float32's square: an infinite baseline, never warned of
        return float(np.square(target - mean).mean(dtype=np.float64))


class HealthCheck(Tracking):
    """A check that counts epochs in a row where `sick(epoch, logs)` holds and warns once at `patience`;
    with `steps` (per epoch) it judges only from the epoch where MIN_STEPS steps were done."""

    name = ""

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], patience: int, steps: int | None = None):
        super().__init__(tracker)
        self.emit, self.patience = emit, patience
        self.first_epoch = 0 if steps is None else max(0, math.ceil(MIN_STEPS / max(1, steps)) - 1)
        self._in_a_row = 0
        self._warned = False

    def sick(self, epoch: int, logs: dict) -> bool:
        raise NotImplementedError

    def message(self, epoch: int, logs: dict) -> str:
        raise NotImplementedError

    def whole_epoch_ended(self, epoch, logs):
        if self._warned or epoch < self.first_epoch:
            return
        self._in_a_row = self._in_a_row + 1 if self.sick(epoch, logs) else 0
        if self._in_a_row >= self.patience:
            self._warned = True
            message = self.message(epoch, logs)
            self.tracker.warnings.append(message)
            self.tracker.warning_checks.append(self.name)
            self.emit(HealthWarning(self.name, epoch, message))


class NoBetterThanBaseline(HealthCheck):
    """The validation loss has not beaten the mean-sample baseline for `patience` epochs."""

    name = "baseline"

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], baseline: float, learning_rate: float,
                 steps: int | None = None, patience: int = 2):
        super().__init__(tracker, emit, patience, steps)
        self.baseline, self.learning_rate = baseline, learning_rate

    def sick(self, epoch, logs):
        return not monitored(logs) < self.baseline

    def message(self, epoch, logs):
        return (f"After {epoch + 1} epoch(s) the validation loss ({monitored(logs):.4g}) is no better than "
                f"predicting the mean sample ({self.baseline:.4g}): every reconstruction is about the same blob. "
                f"Lower the learning rate (now {self.learning_rate:g}), e.g. to {self.learning_rate / 10:g}.")


class PosteriorCollapse(HealthCheck):
    """A VAE whose KL term (nats per sample) stays below COLLAPSE_KL for `patience` epochs."""

    name = "collapse"

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], beta: float, steps: int | None = None,
                 patience: int = 3):
        super().__init__(tracker, emit, patience, steps)
        self.beta = beta

    @staticmethod
    def _kl(logs) -> float:
        return float(logs.get("val_kl", logs.get("kl", np.inf)))

    def sick(self, epoch, logs):
        return self._kl(logs) < COLLAPSE_KL

    def message(self, epoch, logs):
        return (f"Posterior collapse: for {self.patience} epochs the KL term has stayed at {self._kl(logs):.3g} "
                f"nats, so the latent code carries almost nothing and the decoder ignores it (samples and the "
                f"latent map will all look alike). Lower beta (now {self.beta:g}), e.g. to {self.beta / 4:g}.")


class DeadCodeUnits(HealthCheck):
    """At least DEAD_FRACTION of the code units (the encoder output's last axis) are zero for every one
    of up to SAMPLE_LIMIT validation samples, for `patience` epochs."""

    name = "dead units"

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], encoder, x_val: np.ndarray,
                 learning_rate: float, l1_weight: float = 0.0, steps: int | None = None, patience: int = 2):
        super().__init__(tracker, emit, patience, steps)
        self.encoder, self.x = encoder, np.asarray(x_val[:SAMPLE_LIMIT])
        self.learning_rate, self.l1_weight = learning_rate, l1_weight
        self.dead = self.units = 0

    def sick(self, epoch, logs):
        codes = np.asarray(self.encoder(self.x, training=False))
        codes = codes.reshape(-1, codes.shape[-1])  # conv codes: every position of a channel
        self.units = codes.shape[-1]
        self.dead = int((np.abs(codes).max(axis=0) == 0).sum())
        return self.units > 1 and self.dead >= DEAD_FRACTION * self.units

    def message(self, epoch, logs):
        fix = f"Lower the learning rate (now {self.learning_rate:g})"
        if self.l1_weight > 0:
            fix += f" or the L1 weight (now {self.l1_weight:g})"
        return (f"{self.dead} of {self.units} code units are zero for every validation sample (dead ReLUs): the "
                f"code is narrower than the {self.units} units asked for. {fix}, or train again with another seed.")


class Overfitting(HealthCheck):
    """The validation loss rose, and the training loss fell, in each of the last `patience` epochs."""

    name = "overfitting"

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], patience: int = 3):
        super().__init__(tracker, emit, patience)
        self._previous: tuple[float, float] | None = None
        self._first_rise: float | None = None

    def sick(self, epoch, logs):
        if "val_loss" not in logs:
            return False
        now, previous = (float(logs["loss"]), float(logs["val_loss"])), self._previous
        self._previous = now
        rising = previous is not None and now[1] > previous[1] and now[0] < previous[0]
        if rising and self._in_a_row == 0:
            self._first_rise = previous[1]
        return rising

    def message(self, epoch, logs):
        best = self.tracker.best_epoch
        kept = f"The best epoch ({best + 1}) is kept. " if best is not None else ""
        return (f"Overfitting: for {self.patience} epochs the validation loss rose ({self._first_rise:.4g} -> "
                f"{float(logs['val_loss']):.4g}) while the training loss fell; the model is learning the training "
                f"samples by heart. {kept}Stop here, or use more data, a smaller code, denoising or early stopping.")


def health_checks(config: TrainConfig, model, emit: Callable[[Any], None], tracker: Tracker,
                  x_train: np.ndarray, x_val: np.ndarray, steps: int) -> list[HealthCheck]:
    """The checks that apply to this model (`steps` per epoch): the baseline compares reconstruction losses
    (not for VAEs and AAEs, whose loss has other terms); dead units need a ReLU code (conv, sparse, and
    dense or deep when set so) and MIN_SAMPLES validation samples."""
    from engine.models.builders import part

    checks: list[HealthCheck] = [Overfitting(tracker, emit)]
    if config.model_kind in VAE_KINDS:
        checks.append(PosteriorCollapse(tracker, emit, config.beta, steps))
    if config.generative:
        return checks
    checks.append(NoBetterThanBaseline(tracker, emit, baseline_loss(x_train, x_val, config.loss),
                                       config.learning_rate, steps))
    encoder = part(model, "encoder")
    relu_code = config.model_kind == "conv" or (config.model_kind in ("dense", "sparse", "deep")
                                                and config.code_activation_used == "relu")
    if relu_code and encoder is not None and len(x_val) >= MIN_SAMPLES:
        checks.append(DeadCodeUnits(tracker, emit, encoder, x_val, config.learning_rate,
                                    config.l1_weight if config.model_kind == "sparse" else 0.0, steps))
    return checks
