"""Self-supervised denoising: a denoiser trained on noisy images alone, with no clean copies.

The method is Neighbor2Neighbor (T. Huang, S. Li, X. Jia, H. Lu, J. Liu, "Neighbor2Neighbor: Self-Supervised
Denoising from Single Noisy Images", CVPR 2021, arXiv:2101.02824). A random neighbour sub-sampler picks two
different adjacent pixels in every 2x2 cell of a noisy image y, which gives two half-size images g1(y) and
g2(y): their noise is independent and their signals nearly agree. The network f learns to map one onto the
other:

    loss = |f(g1(y)) - g2(y)|^2 + gamma * |f(g1(y)) - g2(y) - (g1(f(y)) - g2(f(y)))|^2

f(y) is computed without a gradient. The second term (the regulariser) corrects for the small difference
between the two neighbours' signals. As in the authors' code, gamma ramps linearly from 0 to its final
value (2 for Gaussian noise) over the training.

The network is the app's noise-level-aware U-Net (engine.models.denoiser.build_unet_denoiser). It is told
each image's noise level, estimated from that image (engine.denoise.noise_level), or the known sigma when
one is given. A sub-sampled image has the same per-pixel noise as the image. So the trained model is an
ordinary denoiser: saved as .keras it opens in safe mode and denoises like the bundled one. The curves are
the reconstruction term on the training batches ("loss") and on fixed validation crops of the same images
with fixed sub-samplings ("val_loss"). The kept model is the one with the lowest validation loss.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from engine.core.errors import ConfigError, TrainingError
from engine.core.events import BatchEnded, EpochEnded, Finished, PreviewReady, SettingsChanged, Started
from engine.core.jobs import JobState
from engine.denoise.noisy_crops import (LEVELS, MIN_PATCH, Crops, as_images, image_levels, preview_crops,
                                        read_noisy_images, usable_patch)

# The cell positions are 0 1 / 2 3. The ordered pairs of different, adjacent (not diagonal) positions are the
# paper's sub-sampler. Its code draws one of these eight per cell.
NEIGHBOUR_PAIRS = ((0, 1), (0, 2), (1, 3), (2, 3), (1, 0), (2, 0), (3, 1), (3, 2))
BATCH_EVENT_INTERVAL_S = 0.1  # at most ~10 batch events a second, as engine.training.callbacks


@dataclass(frozen=True)
class SelfSupervisedConfig:
    minutes: float = 30.0  # wall-time budget; 0 = none (the epochs decide)
    epochs: int = 10000  # at most
    steps_per_epoch: int = 0  # 0: enough patches to cover the images' area once (20 to 200 steps)
    batch_size: int = 8
    patch: int = 128  # side of the training crops; the network trains on half of it (sub-sampled)
    learning_rate: float = 1e-3
    cosine: bool = True  # the learning rate decays to 2% over the budget (time or epochs)
    gamma: float = 2.0  # the regulariser's final weight (the paper's value for Gaussian noise)
    width: int = 32  # U-Net filters: width, 2 x width, 4 x width
    blocks: int = 2
    seed: int = 0
    sigma: float | None = None  # the images' noise std (0-1 scale) when known; None: estimated per image
    patience: int = 0  # stop after this many epochs without a better validation loss; 0 = never
    previews: int = 4  # fixed crops shown after every epoch
    preview_size: int = 96
    validation_crops: int = 16

    def __post_init__(self) -> None:
        checks = {"minutes": (0.0, 10000.0), "epochs": (1, 100000), "steps_per_epoch": (0, 100000),
                  "batch_size": (1, 1024), "patch": (MIN_PATCH, 1024), "learning_rate": (1e-7, 1.0),
                  "gamma": (0.0, 100.0), "width": (4, 256), "blocks": (1, 8), "seed": (0, 2**31 - 1),
                  "patience": (0, 100000), "previews": (1, 32), "preview_size": (16, 512),
                  "validation_crops": (1, 1024)}
        for name, (low, high) in checks.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ConfigError(f"Self-supervised training: {name.replace('_', ' ')} must be from {low:g} to "
                                  f"{high:g}, got {value!r}.")
        if self.sigma is not None and not 0.0 <= self.sigma <= 1.0:
            raise ConfigError(f"The noise sigma must be from 0 to 1 (a 0-255 sigma divided by 255), got {self.sigma}.")


@dataclass
class SelfSupervisedResult:
    model: Any  # the keras U-Net: inputs [noisy, noise_level], output the denoised image
    history: dict[str, list[float]]
    best_epoch: int | None
    best_val_loss: float | None
    stopped_by_user: bool
    message: str
    seconds: float
    steps: int  # gradient steps taken
    levels: list = field(default_factory=list)  # the NoiseLevel (engine.denoise.noise_level) each image was told


# ----------------------------------------------------------------------------- the sub-sampler and the loss

def neighbour_masks(shape, seed):
    """Two one-hot masks (batch, h, w, 4) over the 2x2 cells: for each cell a random ordered pair of different,
    adjacent positions (NEIGHBOUR_PAIRS), the same for every channel. `seed`: a stateless seed (2 integers)."""
    import tensorflow as tf

    pick = tf.random.stateless_uniform(shape, seed, 0, len(NEIGHBOUR_PAIRS), dtype=tf.int32)
    pairs = tf.constant(NEIGHBOUR_PAIRS, tf.int32)
    return tf.one_hot(tf.gather(pairs[:, 0], pick), 4), tf.one_hot(tf.gather(pairs[:, 1], pick), 4)


def subsample(x, mask):
    """The half-size image that takes, in every 2x2 cell of x (batch, H, W, C), the pixel `mask` marks."""
    import tensorflow as tf

    shape = tf.shape(x)
    b, h, w, c = shape[0], shape[1] // 2, shape[2] // 2, shape[3]
    cells = tf.reshape(tf.transpose(tf.reshape(x, [b, h, 2, w, 2, c]), [0, 1, 3, 2, 4, 5]), [b, h, w, 4, c])
    return tf.reduce_sum(cells * tf.cast(mask, x.dtype)[..., None], axis=3)


def neighbour_losses(model, noisy, level, masks, full=None):
    """(reconstruction, regulariser) of Neighbor2Neighbor for a batch, both means over pixels. `full`: f(y) when
    already computed (outside the gradient tape, which then need not keep its activations)."""
    import tensorflow as tf

    first, second = masks
    full = model([noisy, level], training=False) if full is None else full
    full = tf.stop_gradient(full)  # f(y): no gradient, as in the paper
    output = model([subsample(noisy, first), subsample(level, first)], training=True)
    diff = output - subsample(noisy, second)
    expected = subsample(full, first) - subsample(full, second)
    return tf.reduce_mean(tf.square(diff)), tf.reduce_mean(tf.square(diff - expected))


class _Steps:
    """The compiled train and validation steps of one model and optimizer."""

    def __init__(self, model, optimizer):
        import tensorflow as tf

        self.model, self.optimizer = model, optimizer
        optimizer.build(model.trainable_variables)
        self.train = tf.function(self._train, reduce_retracing=True)
        self.validate = tf.function(self._validate, reduce_retracing=True)

    def _train(self, noisy, level, seed, gamma):
        import tensorflow as tf

        shape = tf.shape(noisy)
        masks = neighbour_masks([shape[0], shape[1] // 2, shape[2] // 2], seed)
        full = self.model([noisy, level], training=False)
        with tf.GradientTape() as tape:
            rec, reg = neighbour_losses(self.model, noisy, level, masks, full)
            loss = rec + gamma * reg
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return rec, reg

    def _validate(self, noisy, level, first, second):
        return neighbour_losses(self.model, noisy, level, (first, second))[0]


# ----------------------------------------------------------------------------- training

def train_self_supervised(images: Sequence[np.ndarray], config: SelfSupervisedConfig = SelfSupervisedConfig(),
                          state: JobState | None = None, *, references: Sequence[np.ndarray] | None = None,
                          control=None, description: str = "", data: str = "") -> SelfSupervisedResult:
    """Train a noise-level-aware U-Net on the noisy `images` ((H, W) or (H, W, C) in [0, 1], any sizes) until
    the epochs or the time budget run out, or a stop is asked for; blocks until then. It emits Started,
    BatchEnded, EpochEnded, PreviewReady and Finished (engine.core.events). `references` are the clean
    images, if known: they are used only for the previews, never for training. `control`
    (engine.training.requests.TrainingControl) changes the epochs and learning rate from the next epoch.
    The model handed back holds the best epoch's weights. After a stop before the first epoch ended it
    holds the last weights."""
    import keras
    import tensorflow as tf

    from engine.models.denoiser import build_unet_denoiser

    state = state or JobState()
    images = as_images(images)
    side, usable = usable_patch(images, config.patch)
    state.note("Estimating the noise of the images…" if config.sigma is None else "Preparing the crops…")
    levels = image_levels(images, config.sigma)
    crops = Crops([images[i] for i in usable], [levels[i] for i in usable], side)
    keras.utils.set_random_seed(config.seed)
    channels = images[0].shape[-1]
    model = build_unet_denoiser(channels, tuple(config.width * 2 ** k for k in range(LEVELS)), config.blocks)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    steps = _Steps(model, optimizer)
    area = sum(im.shape[0] * im.shape[1] for im in crops.images)
    per_epoch = config.steps_per_epoch or int(np.clip(math.ceil(area / (config.batch_size * side * side)), 20, 200))
    rng = np.random.default_rng(config.seed)
    val_rng = np.random.default_rng(config.seed + 1)
    val_noisy, val_level = crops.sample(val_rng, config.validation_crops, augment=False)
    val_masks = neighbour_masks([len(val_noisy), side // 2, side // 2], [config.seed, 1 << 20])
    shown, shown_level, shown_clean = preview_crops(images, levels, config.previews, config.preview_size,
                                                    None if references is None else as_images(references))
    known = "given" if config.sigma is not None else "estimated"
    levels_text = ", ".join(f"{255 * lv.mean_sigma():.1f}" for lv in levels[:6]) + (", ..." if len(levels) > 6 else "")
    text = description or (f"Training a self-supervised denoiser (Neighbor2Neighbor) on {len(crops.images)} noisy "
                           f"image(s), {side}x{side} crops, batch {config.batch_size}")
    text += f"; noise sigma {known}: {levels_text} (of 255)"
    if len(usable) < len(images):
        text += f"; {len(images) - len(usable)} image(s) smaller than the crops left out"
    budget = config.minutes * 60.0
    state.emit(Started(config.epochs, per_epoch, text + ".", data=data or text))

    history: dict[str, list[float]] = {}
    best_val, best_epoch, best_weights = math.inf, None, None
    total_epochs, rate, taken = config.epochs, config.learning_rate, 0
    started = time.perf_counter()
    stopped = out_of_time = early = False
    diverged = ""
    epoch = 0
    while epoch < total_epochs and not (stopped or out_of_time):
        epoch_started = time.perf_counter()
        recs, regs = [], []
        last_event, last_step = epoch_started, 0
        for step in range(per_epoch):
            if state.should_stop():
                stopped = True
                break
            now = time.perf_counter()
            if budget and now - started >= budget:
                out_of_time = True
                break
            done = max((epoch * per_epoch + step) / (total_epochs * per_epoch), (now - started) / budget if budget else 0)
            done = min(1.0, done)
            optimizer.learning_rate.assign(rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * done)))
                                           if config.cosine else rate)
            noisy, level = crops.sample(rng, config.batch_size)
            rec, reg = steps.train(tf.constant(noisy), tf.constant(level), tf.constant([config.seed, taken], tf.int64),
                                   tf.constant(config.gamma * done, tf.float32))
            taken += 1
            recs.append(float(rec))
            regs.append(float(reg))
            now = time.perf_counter()
            if now - last_event >= BATCH_EVENT_INTERVAL_S or step + 1 == per_epoch:
                state.emit(BatchEnded(epoch, step + 1, per_epoch, float(np.mean(recs[last_step:]))))
                last_event, last_step = now, len(recs)
        if stopped or not recs:  # an epoch cut short by Stop is not counted (its mean would not compare)
            break
        val = float(np.mean([float(steps.validate(val_noisy[i:i + config.batch_size],
                                                   val_level[i:i + config.batch_size],
                                                   val_masks[0][i:i + config.batch_size],
                                                   val_masks[1][i:i + config.batch_size]))
                             for i in range(0, len(val_noisy), config.batch_size)]))
        logs = {"loss": float(np.mean(recs)), "val_loss": val, "regulariser": float(np.mean(regs))}
        if not all(math.isfinite(v) for v in logs.values()):
            diverged = (f"The loss became {logs['loss']} in epoch {epoch + 1}: training diverged. Lower the learning "
                        f"rate (now {rate:g}) and train again.")
            break
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        improved = val < best_val
        if improved:
            best_val, best_epoch, best_weights = val, epoch, [w.copy() for w in model.get_weights()]
        state.emit(EpochEnded(epoch, total_epochs, logs, time.perf_counter() - epoch_started, improved))
        denoised = np.clip(np.asarray(model([shown, shown_level], training=False)), 0.0, 1.0)
        state.emit(PreviewReady(epoch, shown.copy(), denoised, shown_clean.copy()))
        epoch += 1
        total_epochs, rate = _apply_control(control, state, epoch, total_epochs, rate)
        if config.patience and best_epoch is not None and epoch - 1 - best_epoch >= config.patience:
            early = True
            break
    seconds = time.perf_counter() - started
    if best_weights is not None:
        model.set_weights(best_weights)
    if diverged and best_epoch is None:
        raise TrainingError(diverged)
    how = ("stopped" if stopped else "time" if out_of_time else "early" if early else "")
    message = _message(history, best_epoch, best_val, how, seconds, taken)
    message = f"{diverged} {message}" if diverged else message
    state.emit(Finished(history, best_epoch, None if best_epoch is None else best_val, stopped, seconds, message))
    return SelfSupervisedResult(model, history, best_epoch, None if best_epoch is None else best_val, stopped,
                                message, seconds, taken, levels)


def _apply_control(control, state: JobState, done: int, total: int, rate: float) -> tuple[int, float]:
    """The epochs and learning rate asked for while the training runs (engine.training.control)."""
    if control is None:
        return total, rate
    from engine.training.control import describe_change

    asked, changed = control.take(), {}
    if "epochs" in asked and asked["epochs"] != total:
        changed["epochs"] = total = max(done, int(asked["epochs"]))
    if "learning_rate" in asked and asked["learning_rate"] != rate:
        changed["learning_rate"] = rate = float(asked["learning_rate"])
    if changed:
        state.emit(SettingsChanged(done - 1, total, rate, describe_change(done, changed)))
    return total, rate


def _message(history, best_epoch, best_val, how: str, seconds: float, taken: int) -> str:
    """One line on how the training ended: `how` is "stopped", "time", "early" or ""."""
    epochs = len(history.get("loss", []))
    if best_epoch is None:
        if not taken:
            return "Stopped before the first step: the model is untrained (it returns its input)."
        return (f"Stopped before the first epoch ended ({taken} steps): the model is only partly trained."
                if how == "stopped" else f"Training ended after {taken} steps without a usable epoch.")
    ended = {"stopped": f"Stopped by you after {epochs} epoch(s)", "time": f"Time budget reached after {epochs} "
             f"epoch(s)", "early": f"Early stopping after epoch {epochs}"}.get(how, f"Finished {epochs} epoch(s)")
    return (f"{ended} ({taken} steps, {seconds:.0f} s); kept the best model, epoch {best_epoch + 1} "
            f"(validation loss {best_val:.5f}).")


# ----------------------------------------------------------------------------- the Training tab's model kind

def train_from_spec(spec, config, state: JobState, control=None):
    """The self-supervised model kind of the generic training settings (engine.core.config "n2n"): train on the
    noisy images of the folder `spec` names (engine.core.config.DataSpec; its image size is the crop size) with
    the epochs, batch size, learning rate and schedule, filters, patience, previews and seed of `config` (a
    TrainConfig). With a noise factor the images are taken as clean: that much Gaussian noise is added to
    them, and the clean copies only score the previews. Returns (dataset, result) for engine.jobs.TrainOutcome:
    the dataset holds the preview crops, the result is an engine.training.fit.TrainResult."""
    from engine.data.dataset import Dataset
    from engine.data.noise import add_gaussian
    from engine.training.fit import TrainResult

    if spec.kind not in ("folder", "patches") or not spec.path:
        raise ConfigError("The self-supervised denoiser trains on a folder of noisy images: choose a folder of "
                          "images as the data source (its image size is the crop size, e.g. 128).")
    state.note("Reading the noisy images…")
    images, names, skipped = read_noisy_images(spec.path, spec.color, state=state)
    references = None
    if config.denoising:  # clean photographs: noisy copies to train on, the clean ones only for the previews
        references = images
        images = [add_gaussian(im, config.noise_factor, config.seed + k) for k, im in enumerate(images)]
    settings = SelfSupervisedConfig(
        minutes=0, epochs=config.epochs, batch_size=config.batch_size, patch=max(MIN_PATCH, spec.image_size),
        learning_rate=config.learning_rate, cosine=config.lr_schedule == "cosine",
        width=int(np.clip(config.filters, 4, 256)), seed=config.seed, patience=config.early_stopping_patience,
        previews=config.preview_count)
    where = f"{len(images)} {'noisy' if references is None else 'clean'} image(s) in {spec.path}"
    added = f" with Gaussian noise {config.noise_factor:g} added" if references is not None else ""
    result = train_self_supervised(images, settings, state, references=references, control=control,
                                   data=f"{where}{added}" + (f"; {len(skipped)} file(s) skipped" if skipped else ""))
    shown = preview_crops(as_images(images), result.levels, config.preview_count, settings.preview_size)[0]
    dataset = Dataset(shown, shown, source=f"Crops of {where}{added}", skipped=tuple(skipped), origin=where)
    history = result.history
    message = result.message + " (Self-supervised runs are not recorded in the run store.)"
    metadata = {"input_shape": [None, None, int(shown.shape[-1])], "config": config.to_dict(),
                "self_supervised": "Neighbor2Neighbor", "images": list(names[:50])}
    train_result = TrainResult(result.model, config, history, result.best_epoch, result.best_val_loss,
                               result.stopped_by_user, message, dataset.summary(), metadata)
    return dataset, train_result
