"""App overhead: the same training through the GUI's worker path vs a bare `model.fit` script.

Both sides train the identical model (engine.models.builders.build_autoencoder + engine.training.fit.compile_model:
same XLA and steps_per_execution choices) on the same MNIST subset for the same epochs and batch.
App side: the real MainWindow (offscreen unless QT_QPA_PLATFORM is set, temp-file QSettings), its
Training tab's widgets set and start() called; timed from start() to the JobRunner's finished signal
(data loading, model building, events through the Qt signal path, live plots and previews included).
Bare side: np.load + scale, build, compile, model.fit(verbose=0) on the same tf.data pipeline the
engine feeds (or plain arrays with --bare arrays), same validation data. TensorFlow is imported before
either side is timed; a tiny warm-up fit absorbs TF's one-time initialisation (--no-warmup to keep it).
Runs alternate A B B A ...; prints each time (setup = until the model is compiled / the engine's
Started event; fit = the rest), the process CPU seconds of each run (less sensitive than wall time
to other load on the machine), the medians and the wall-time ratio app/bare (target <= 1.05).

Defaults (full MNIST, 10 epochs, dense) take ~15-25 s per run on 2 CPU cores; the conv model is
~35 s per epoch on full MNIST there, so give it fewer samples or epochs.
Usage: python benchmarks/overhead.py [--mnist ../shared/data/mnist.npz] [--samples 60000]
       [--val-samples 10000] [--epochs 10] [--kind dense] [--repeats 3] [--bare pipeline|arrays]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "PySide6")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep the figures readable

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401 - the one-time import neither side pays
import keras  # noqa: E402

from engine.core.config import MODEL_KINDS, TrainConfig  # noqa: E402
from engine.data.mnist import EMBEDDED_MNIST  # noqa: E402
from engine.core.events import Started  # noqa: E402
from engine.models.builders import build_autoencoder  # noqa: E402
from engine.training.pipeline import compile_model, train_pipeline  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def write_subset(source: Path, n_train: int, n_val: int, folder: Path) -> tuple[Path, int, int]:
    """A Keras-layout mnist.npz holding the first n_train / n_val digits (both sides read it)."""
    with np.load(source, allow_pickle=False) as d:
        arrays = {"x_train": d["x_train"][:n_train], "y_train": d["y_train"][:n_train],
                  "x_test": d["x_test"][:n_val], "y_test": d["y_test"][:n_val]}
    path = folder / "mnist_subset.npz"
    np.savez(path, **arrays)
    return path, len(arrays["x_train"]), len(arrays["x_test"])


# ------------------------------------------------------------------------------ bare side
def bare_fit(path: Path, config: TrainConfig, feed: str) -> tuple[float, float]:
    """What a plain script does: load, scale, build, compile, fit. Returns (seconds, setup seconds)."""
    start = time.perf_counter()
    with np.load(path, allow_pickle=False) as d:
        x_train = (d["x_train"].astype(np.float32) / 255.0)[..., None]
        x_val = (d["x_test"].astype(np.float32) / 255.0)[..., None]
    keras.utils.set_random_seed(config.seed)
    steps = -(-len(x_train) // config.batch_size)
    model = build_autoencoder(config, x_train.shape[1:], "sigmoid")
    compile_model(model, config, steps)
    val_batch = max(config.batch_size, 256)
    setup = time.perf_counter() - start
    if feed == "arrays":
        model.fit(x_train, x_train, batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
                  validation_data=(x_val, x_val), validation_batch_size=val_batch, verbose=0)
    else:
        model.fit(train_pipeline(x_train, config.batch_size, 0.0, config.seed),
                  validation_data=tf.data.Dataset.from_tensor_slices((x_val, x_val)).batch(val_batch),
                  epochs=config.epochs, verbose=0, shuffle=False)
    return time.perf_counter() - start, setup


def warm_up(config: TrainConfig) -> None:
    """One tiny fit so TF/XLA's process-wide initialisation is paid before any timing."""
    x = np.random.default_rng(0).random((512, 28, 28, 1), dtype=np.float32)
    model = build_autoencoder(config.replace(epochs=1), x.shape[1:])
    compile_model(model, config.replace(epochs=1), 8)
    model.fit(x, x, batch_size=64, epochs=1, verbose=0)


# ------------------------------------------------------------------------------ app side
class AppSide:
    """The real main window, shown; each run sets the Training tab's widgets and calls start()."""

    def __init__(self, path: Path, config: TrainConfig, settings_file: Path):
        from PySide6.QtCore import QEventLoop, QObject, QSettings, Slot
        from PySide6.QtWidgets import QMessageBox

        from gui.common.forms import set_choice
        from main import open_window

        for name in ("warning", "information", "critical"):  # never block on a dialog
            setattr(QMessageBox, name, staticmethod(lambda _p, title, text, *a, **k: self.errors.append(f"{title}: {text}")))
        self.errors: list[str] = []
        self.app, self.window = open_window([sys.argv[0]], QSettings(str(settings_file), QSettings.IniFormat))
        self.app.processEvents()
        tab = self.tab = self.window.training_tab
        set_choice(tab.data_kind, "mnist_file")
        tab.data_path.setText(str(path))
        tab.apply_config(config)
        assert tab.train_config() == config, (tab.train_config(), config)

        class Receiver(QObject):
            def __init__(self):
                super().__init__()
                self.loop = QEventLoop()
                self.finished_at = self.started_at = 0.0

            @Slot(object)
            def on_event(self, event):
                if isinstance(event, Started):
                    self.started_at = time.perf_counter()

            @Slot()
            def on_finished(self):
                self.finished_at = time.perf_counter()
                self.loop.quit()

        self.receiver = Receiver()
        tab.runner.event_emitted.connect(self.receiver.on_event)
        tab.runner.finished.connect(self.receiver.on_finished)

    def settle(self) -> None:
        """Wait for the follow-up reconstruction the Reconstruction tab starts after training (not timed)."""
        recon = self.window.reconstruction_tab.runner
        while recon.is_running():
            self.app.processEvents()
            time.sleep(0.01)

    def run(self) -> tuple[float, float]:
        """(seconds from start() to finished, seconds from start() to the engine's Started event)."""
        self.settle()
        gui_cpu = time.thread_time()
        start = time.perf_counter()
        self.tab.start()
        self.receiver.loop.exec()
        self.gui_cpu = time.thread_time() - gui_cpu  # CPU seconds the GUI thread itself used
        if self.errors:
            raise RuntimeError("; ".join(self.errors))
        return self.receiver.finished_at - start, self.receiver.started_at - start

    def close(self) -> None:
        self.settle()
        self.window.close()
        self.app.processEvents()


def main() -> None:
    # every app run is recorded in a run store (as for a user): keep these out of the user's store
    os.environ.setdefault("AES_RUNS_DIR", tempfile.mkdtemp(prefix="aes-overhead-runs-"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--samples", type=int, default=60000, help="training digits (first n of x_train)")
    parser.add_argument("--val-samples", type=int, default=10000, help="validation digits (first n of x_test)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--kind", choices=MODEL_KINDS, default="dense")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, interleaved A B B A ...")
    parser.add_argument("--bare", choices=("pipeline", "arrays"), default="pipeline",
                        help="bare side feeds the engine's tf.data pipeline (default) or plain arrays")
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args()

    source = Path(args.mnist)
    if not source.exists():
        print(f"{source} missing: using the embedded subset {EMBEDDED_MNIST}")
        source = EMBEDDED_MNIST
    config = TrainConfig(model_kind=args.kind, epochs=args.epochs, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        path, n_train, n_val = write_subset(source, args.samples, args.val_samples, Path(tmp))
        print(f"{args.kind} autoencoder, {n_train} training + {n_val} validation MNIST digits, "
              f"{args.epochs} epochs, batch {args.batch_size}; bare side feeds {args.bare}; "
              f"{os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}, "
              f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}")
        if not args.no_warmup:
            warm_up(config)
        app = AppSide(path, config, Path(tmp) / "settings.ini")
        times: dict[str, list[float]] = {"app": [], "bare": []}
        cpu: dict[str, list[float]] = {"app": [], "bare": []}
        order = []
        for i in range(args.repeats):
            order += ["app", "bare"] if i % 2 == 0 else ["bare", "app"]
        for side in order:
            cpu_start = time.process_time()
            seconds, setup = app.run() if side == "app" else bare_fit(path, config, args.bare)
            cpu[side].append(time.process_time() - cpu_start)
            times[side].append(seconds)
            gui = f", of which GUI thread {app.gui_cpu:4.1f}" if side == "app" else ""
            print(f"  {side:4s}: {seconds:7.2f} s wall (setup {setup:5.2f} s, fit {seconds - setup:6.2f} s), "
                  f"{cpu[side][-1]:6.1f} CPU s{gui}", flush=True)
        app.close()

    app_s, bare_s = statistics.median(times["app"]), statistics.median(times["bare"])
    print(f"median app  (start() -> finished signal): {app_s:7.2f} s   runs {', '.join(f'{t:.2f}' for t in times['app'])}")
    print(f"median bare (load + build + model.fit)  : {bare_s:7.2f} s   runs {', '.join(f'{t:.2f}' for t in times['bare'])}")
    print(f"process CPU seconds (all threads), medians: app {statistics.median(cpu['app']):.1f}, "
          f"bare {statistics.median(cpu['bare']):.1f}, ratio {statistics.median(cpu['app']) / statistics.median(cpu['bare']):.3f}")
    print(f"overhead ratio app/bare = {app_s / bare_s:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
