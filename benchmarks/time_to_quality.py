"""Time to quality: dense AE on full MNIST until validation BCE <= 0.0928.

The seed's plain script (784-32-784, Adam 1e-3, batch 256, up to 50 epochs) against the
app's engine with its default settings, in one process, side by side. Prints the ratio.
Usage: python benchmarks/time_to_quality.py [--mnist ../shared/data/mnist.npz] [--target 0.0928]
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


def seed_script(x_train, x_test, target, max_epochs=50):
    """The seed's recipe, as written in its slides, timed until it reaches the target."""
    keras.utils.set_random_seed(0)
    xt, xv = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    inp = keras.Input(shape=(784,))
    encoded = keras.layers.Dense(32, activation="relu")(inp)
    decoded = keras.layers.Dense(784, activation="sigmoid")(encoded)
    autoencoder = keras.Model(inp, decoded)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    reached = {}
    start = time.perf_counter()

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] <= target and not reached:
                reached.update(epoch=epoch + 1, seconds=time.perf_counter() - start, val=logs["val_loss"])
                self.model.stop_training = True

    hist = autoencoder.fit(xt, xt, epochs=max_epochs, batch_size=256, shuffle=True, validation_data=(xv, xv),
                           callbacks=[Watch()], verbose=0)
    total = time.perf_counter() - start
    if not reached:
        reached.update(epoch=max_epochs, seconds=total, val=hist.history["val_loss"][-1], missed=True)
    return reached


def app_defaults(dataset, target, max_epochs):
    config = TrainConfig(model_kind="dense", epochs=max_epochs)
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
    reached["config"] = f"lr {config.learning_rate:g} {config.lr_schedule}, batch {config.batch_size}, {max_epochs} epochs max"
    return reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--target", type=float, default=0.0928)
    parser.add_argument("--app-epochs", type=int, default=TrainConfig().epochs)
    args = parser.parse_args()
    dataset = load_mnist(args.mnist)
    print(dataset.summary())
    app = app_defaults(dataset, args.target, args.app_epochs)
    seed = seed_script(dataset.x_train, dataset.x_val, args.target)
    for name, r in (("seed script", seed), ("app defaults", app)):
        flag = "  (target NOT reached)" if r.get("missed") else ""
        print(f"{name:13s}: val BCE {r['val']:.4f} at epoch {r['epoch']:3d} after {r['seconds']:7.1f} s{flag}")
    print(f"app config: {app['config']}")
    print(f"time-to-quality ratio app/seed = {app['seconds'] / seed['seconds']:.3f} (target <= 0.33)")


if __name__ == "__main__":
    main()
