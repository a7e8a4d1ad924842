"""Time to quality on full MNIST: the seed's plain Keras script against the app's engine with its default
settings, in one process, side by side; prints the ratio app / seed (target <= 0.15 for dense).

dense: the seed's 784-32-784 (ReLU code, Adam 1e-3, batch 256, up to 50 epochs) until validation BCE <= 0.0928
       (what it reaches at about epoch 47), then the app's default dense model until the same.
conv:  the seed's convolutional autoencoder (the Keras blog's: 16-8-8 filters, 3x3, max-pooling to 4x4x8, Adam,
       batch 128) for 10 epochs; its validation BCE after them is the target for the app's default conv model.
Usage: python benchmarks/time_to_quality.py [--kind dense|conv] [--mnist ../shared/data/mnist.npz] [--target T]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from engine.core.config import TrainConfig  # noqa: E402
from engine.core.jobs import JobState  # noqa: E402
from engine.data.mnist import load_mnist  # noqa: E402
from engine.core.events import EpochEnded  # noqa: E402
from engine.training.fit import train  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def seed_dense():
    inp = keras.Input(shape=(784,))
    encoded = keras.layers.Dense(32, activation="relu")(inp)
    decoded = keras.layers.Dense(784, activation="sigmoid")(encoded)
    return keras.Model(inp, decoded), 256


def seed_conv():
    layers = keras.layers
    inp = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inp)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)  # 4 x 4 x 8
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)  # valid: 16 -> 14
    x = layers.UpSampling2D(2)(x)
    out = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inp, out), 128


def seed_script(kind, x_train, x_test, target, max_epochs=50):
    """The seed's recipe, as written in its slides, timed until it reaches the target (None: `max_epochs`)."""
    keras.utils.set_random_seed(0)
    autoencoder, batch = seed_dense() if kind == "dense" else seed_conv()
    shape = (-1,) + tuple(autoencoder.input_shape[1:])
    xt, xv = x_train.reshape(shape), x_test.reshape(shape)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    reached = {}
    start = time.perf_counter()

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if target is not None and logs["val_loss"] <= target and not reached:
                reached.update(epoch=epoch + 1, seconds=time.perf_counter() - start, val=logs["val_loss"])
                self.model.stop_training = True

    hist = autoencoder.fit(xt, xt, epochs=max_epochs, batch_size=batch, shuffle=True, validation_data=(xv, xv),
                           callbacks=[Watch()], verbose=0)
    total = time.perf_counter() - start
    if not reached:
        reached.update(epoch=max_epochs, seconds=total, val=hist.history["val_loss"][-1], missed=target is not None)
    return reached


def app_defaults(kind, dataset, target, max_epochs):
    config = TrainConfig(model_kind=kind, epochs=max_epochs)
    stop = threading.Event()
    reached = {}
    start = time.perf_counter()

    def on_event(event):
        if isinstance(event, EpochEnded) and event.logs.get("val_loss", 1) <= target and not reached:
            reached.update(epoch=event.epoch + 1, seconds=time.perf_counter() - start, val=event.logs["val_loss"])
            stop.set()

    result = train(config, dataset, JobState(on_event, stop))
    if not reached:
        reached.update(epoch=len(result.history["loss"]), seconds=time.perf_counter() - start,
                       val=result.history["val_loss"][-1], missed=True)
    reached["config"] = (f"{kind}, lr {config.learning_rate:g} {config.lr_schedule}, batch {config.batch_size}, "
                         f"{max_epochs} epochs max")
    return reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--kind", choices=("dense", "conv"), default="dense")
    parser.add_argument("--target", type=float, default=None,
                        help="validation BCE to reach (dense: 0.0928; conv: the seed's after --seed-epochs)")
    parser.add_argument("--seed-epochs", type=int, default=None, help="conv: the seed's epochs (10)")
    parser.add_argument("--app-epochs", type=int, default=TrainConfig().epochs)
    args = parser.parse_args()
    dataset = load_mnist(args.mnist)
    print(dataset.summary())
    if args.kind == "dense":
        target = 0.0928 if args.target is None else args.target
        seed = seed_script("dense", dataset.x_train, dataset.x_val, target)
    else:  # the seed runs its epochs first: its final validation BCE is the app's target
        seed = seed_script("conv", dataset.x_train, dataset.x_val, args.target, args.seed_epochs or 10)
        target = seed["val"] if args.target is None else args.target
    print(f"target validation BCE {target:.4f}")
    app = app_defaults(args.kind, dataset, target, args.app_epochs)
    for name, r in (("seed script", seed), ("app defaults", app)):
        flag = "  (target NOT reached)" if r.get("missed") else ""
        print(f"{name:13s}: val BCE {r['val']:.4f} at epoch {r['epoch']:3d} after {r['seconds']:7.1f} s{flag}")
    print(f"app config: {app['config']}")
    print(f"time-to-quality ratio app/seed = {app['seconds'] / seed['seconds']:.3f} (target <= 0.15 for dense)")


if __name__ == "__main__":
    main()
