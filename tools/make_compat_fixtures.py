"""Write the files a user of version 0.1 has on disk (models, a run, a detector, settings) into
tests/fixtures/v0_1/, so that later versions can be tested against them.

Run once with the version whose files they are: `python tools/make_compat_fixtures.py`. The fixtures
are committed; this script only documents how they were made (it needs that version's modules)."""
from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "v0_1"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def tiny_images(n=40, side=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, side, side, 1)).astype(np.float32)


def tiny_aae():
    """An AAE with the mixture prior, built from small parts (the app's own are 500k parameters)."""
    import keras

    from engine.models.generative import AAE

    def dense(n_in, n_out, name):
        x = keras.Input((n_in,))
        return keras.Model(x, keras.layers.Dense(n_out)(keras.layers.Dense(6, activation="relu")(x)), name=name)

    model = AAE(dense(3, 2, "encoder"), dense(2, 3, "decoder"), dense(2 + 3, 1, "discriminator"),
                prior="mixture", n_classes=2, seed=0, name="aae")
    model(np.zeros((1, 3), np.float32))
    return model


def main() -> None:
    import keras

    from engine.anomaly.data import AnomalySpec
    from engine.core.config import TrainConfig
    from engine.data.dataset import Dataset
    from engine.anomaly.detector import default_config, save_detector, train_detector_job
    from engine.models.files import save_model
    from engine.models.builders import build_autoencoder
    from engine.training.runs import RunStore
    from engine.training.fit import train

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    keras.utils.set_random_seed(0)
    x = tiny_images()
    np.save(OUT / "images.npy", x)
    data = Dataset(x[:32], x[32:], source="compat fixture")

    # Models as the app saves them (File > Save model), one per family of saved classes.
    save_model(build_autoencoder(TrainConfig(model_kind="dense", code_size=4), (8, 8, 1)), OUT / "dense.keras")
    save_model(build_autoencoder(TrainConfig(model_kind="conv_vae", code_size=2, filters=4), (8, 8, 1)),
               OUT / "conv_vae.keras")
    save_model(tiny_aae(), OUT / "aae_mixture.keras")
    save_model(build_autoencoder(TrainConfig(model_kind="transformer", code_size=2, filters=4, loss="mse"), (8, 1),
                                 "linear"), OUT / "transformer.keras")

    # A run stopped after 2 of 4 epochs: resumable from its checkpoint.
    store = RunStore(OUT / "runs")
    config = TrainConfig(model_kind="dense", code_size=4, epochs=4, batch_size=8, seed=0)
    run = store.create(config, {"kind": "array", "path": "images.npy", "image_size": 28, "color": "grey",
                                "validation_fraction": 0.2, "seed": 0, "summary": data.summary()})
    stop = threading.Event()
    train(config, data, lambda e: stop.set() if type(e).__name__ == "EpochEnded" and e.epoch == 1 else None,
          stop, run=run, store=store)
    for junk in ("tensorboard", "log.csv"):
        path = run.path / junk
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    (run.path).rename(run.path.parent / "20261130-000000-dense-v01")
    meta = (run.path.parent / "20261130-000000-dense-v01" / "run.json")
    meta.write_text(meta.read_text().replace(run.id, "20261130-000000-dense-v01"))

    # A table detector (the synthetic demo) with a threshold the user chose.
    outcome = train_detector_job(AnomalySpec("synthetic"), default_config("table", epochs=2))(
        lambda _e: None, threading.Event())
    outcome.detector.threshold = 0.75
    save_detector(outcome.detector, OUT / "synthetic.aedet")
    np.save(OUT / "synthetic_scores.npy", outcome.scores.errors)

    # The settings file a closed window leaves behind.
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.widgets.forms import set_choice

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(OUT / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings)
    tab = window.training_tab
    set_choice(tab.model_kind, "conv_vae")
    tab.code_size.setValue(2)
    tab.epochs.setValue(7)
    tab.learning_rate.setValue(0.002)
    set_choice(tab.data_kind, "array")
    tab.data_path.setText("/data/digits.npz")
    window.denoise_tab.sigma.setValue(15.0)
    window.sampling_tab.refine_steps.setValue(12)
    anomaly = window.anomaly_tab  # built on first use, like in the app
    set_choice(anomaly.source, "sequence")
    anomaly.window.setValue(24)
    window.runs_tab.key.setCurrentIndex(1)
    window.tabs.setCurrentIndex(3)
    window.save_settings()
    window.close()
    app.processEvents()
    print(f"fixtures written to {OUT}:")
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(OUT)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
