"""Drive the real app offscreen and save screenshots of each tab during and after training.

Usage: QT_QPA_PLATFORM=offscreen python tools/screenshots.py OUT_DIR [--kind dense] [--epochs 6]
           [--latent N] [--noise S] [--refine K]   (--refine: a VAE's Sampling tab with refined codes too)
       QT_QPA_PLATFORM=offscreen python tools/screenshots.py OUT_DIR --open MODEL.keras [--refine K]
       QT_QPA_PLATFORM=offscreen python tools/screenshots.py OUT_DIR --denoise astronaut [--sigma 25]
       QT_QPA_PLATFORM=offscreen python tools/screenshots.py OUT_DIR --anomaly mnist|synthetic|table|sequence
           [--path FILE] [--label COLUMN] [--epochs N]   (each view of the Anomaly tab, mid-training and after)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402

from matplotlib.backend_bases import MouseEvent  # noqa: E402

from engine.core.config import GENERATIVE_KINDS  # noqa: E402
from engine.denoise.pipeline import BUNDLED  # noqa: E402
from main import open_window  # noqa: E402
from gui.common.forms import set_choice  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--kind", default="dense")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--mid-epoch", type=int, default=3, help="grab the mid-training shot after this epoch")
    parser.add_argument("--latent", type=int, default=0, help="code / latent size (0: the tab's default)")
    parser.add_argument("--open", default="", help="instead of training: open this model file (Model > Open) and "
                        "shoot the Sampling tab (a VAE / AAE) or the Reconstruction tab")
    parser.add_argument("--refine", type=int, default=0, help="VAE: then refine the Sampling tab's codes this many steps")
    parser.add_argument("--denoise", default="", help="instead of training: denoise this sample photograph")
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--anomaly", default="", help="instead: train a detector on this Anomaly tab source")
    parser.add_argument("--path", default="", help="the table / series file for --anomaly table|sequence")
    parser.add_argument("--label", default="", help="the label column for --anomaly table|sequence")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat)
    app, window = open_window(sys.argv, settings)
    window.resize(1400, 900)
    if args.denoise:
        denoise_shots(app, window, out, args.denoise, args.sigma)
        return 0
    if args.anomaly:
        anomaly_shots(app, window, out, args.anomaly, args.path, args.epochs, args.mid_epoch, args.label)
        return 0
    tab = window.training_tab
    set_choice(tab.model_kind, args.kind)
    tab.epochs.setValue(args.epochs)
    if args.latent:
        tab.code_size.setValue(args.latent)
    tab.denoising.setChecked(args.noise > 0)
    if args.noise:
        tab.noise_factor.setValue(args.noise)
    shots = {"mid": False}

    def on_event(event):
        from engine.core.events import EpochEnded
        if isinstance(event, EpochEnded) and event.epoch + 1 == args.mid_epoch and not shots["mid"]:
            shots["mid"] = True
            QTimer.singleShot(300, lambda: window.grab().save(str(out / f"training_{args.kind}_mid.png")))

    def after_training():
        if not args.open:
            window.grab().save(str(out / f"training_{args.kind}_done.png"))
        if args.kind in GENERATIVE_KINDS or getattr(window.session.model, "kind", "") in ("vae", "aae"):
            window.tabs.setCurrentWidget(window.sampling_tab)
            QTimer.singleShot(200, wait_sampling)
            return
        window.tabs.setCurrentWidget(window.reconstruction_tab)
        QTimer.singleShot(200, wait_recon)

    def wait_recon():
        if window.reconstruction_tab.recon is None:
            QTimer.singleShot(200, wait_recon)
            return
        QTimer.singleShot(400, lambda: (window.grab().save(str(out / f"reconstruction_{args.kind}.png")),
                                        window.reconstruction_tab.worst_first.setChecked(True)))
        QTimer.singleShot(1200, lambda: (window.grab().save(str(out / f"reconstruction_{args.kind}_worst.png")),
                                         show_digits() if args.noise else window.close()))

    def show_digits():  # a denoising autoencoder: the Denoise tab's Digits page
        window.tabs.setCurrentWidget(window.denoise_tab)
        window.denoise_tab.views.setCurrentWidget(window.denoise_tab.digits_view)
        QTimer.singleShot(200, wait_digits)

    def wait_digits():
        view = window.denoise_tab.digits_view
        if view.digits is None or view.runner.is_running():
            QTimer.singleShot(200, wait_digits)
            return
        QTimer.singleShot(400, lambda: (window.grab().save(str(out / f"denoise_digits_{args.kind}.png")),
                                        window.close()))

    def wait_sampling():
        st = window.sampling_tab
        if st.view is None or st.runner.is_running():
            QTimer.singleShot(200, wait_sampling)
            return
        x0, x1, y0, y1 = st.view.plane.bounds  # click a point on the latent plane, as a user would
        st.scatter.draw()
        px, py = st.scatter.ax.transData.transform((x0 + 0.3 * (x1 - x0), y0 + 0.7 * (y1 - y0)))
        MouseEvent("button_press_event", st.scatter, px, py, button=1)._process()
        MouseEvent("button_release_event", st.scatter, px, py, button=1)._process()
        QTimer.singleShot(1500, lambda: (window.grab().save(str(out / f"sampling_{args.kind}.png")),
                                         refine() if args.refine else window.close()))

    def refine():  # a VAE: refine the codes, grab the tab while that runs and when it is done
        st = window.sampling_tab
        st.refine_steps.setValue(args.refine)
        QTimer.singleShot(1500, lambda: window.grab().save(str(out / f"sampling_{args.kind}_refining.png")))
        QTimer.singleShot(2000, wait_refined)

    def wait_refined():
        st = window.sampling_tab
        if st.view is None or st.view.refine_steps != args.refine or st.runner.is_running():
            QTimer.singleShot(200, wait_refined)
            return
        QTimer.singleShot(800, lambda: (window.grab().save(str(out / f"sampling_{args.kind}_refined.png")),
                                        window.close()))

    if args.open:  # as File > Open model does; the shots are then named after the file
        args.kind = Path(args.open).stem
        window.reconstruction_tab.runner.finished.connect(lambda: QTimer.singleShot(500, after_training))
        QTimer.singleShot(200, lambda: window.reconstruction_tab.open_model(args.open))
    else:
        tab.runner.event_emitted.connect(on_event)
        tab.runner.finished.connect(lambda: QTimer.singleShot(500, after_training))
        QTimer.singleShot(200, tab.start)
    app.exec()
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))
    return 0


def waiter(app, window, out: Path):
    """wait(done, timeout) spinning the event loop, and shot(name) saving the window."""
    def wait(done, timeout=600.0):
        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            app.processEvents(QEventLoop.AllEvents, 50)
            time.sleep(0.01)
        return done()

    def shot(name):
        wait(lambda: False, timeout=0.5)  # let layouts and canvases settle
        window.grab().save(str(out / name))
        print(out / name)

    return wait, shot


def anomaly_shots(app, window, out: Path, source: str, path: str, epochs: int, mid_epoch: int,
                  label: str = "") -> None:
    """Train a detector in the Anomaly tab; grab the live curves mid-training, then every view."""
    from engine.core.events import EpochEnded

    wait, shot = waiter(app, window, out)
    tab = window.anomaly_tab
    window.tabs.setCurrentWidget(tab)
    set_choice(tab.source, source)
    tab.epochs.setValue(epochs)
    if path:
        chooser = tab.sequence_chooser if source == "sequence" else tab.table_chooser
        chooser.path.setText(path)
        chooser.path.editingFinished.emit()
        wait(lambda: not tab.runner.is_running())
        chooser.set_label(label)
    epochs_seen = []
    tab.runner.event_emitted.connect(lambda e: isinstance(e, EpochEnded) and epochs_seen.append(e.epoch))
    tab.start()
    if wait(lambda: len(epochs_seen) >= mid_epoch or not tab.runner.is_running()) and tab.runner.is_running():
        shot(f"anomaly_{source}_training.png")
    wait(lambda: not tab.runner.is_running())
    for i in range(1, tab.views.count()):
        tab.views.setCurrentIndex(i)
        shot(f"anomaly_{source}_{i}.png")
    window.close()


def denoise_shots(app, window, out: Path, sample: str, sigma: float) -> None:
    """Open a sample photograph, add Gaussian noise, compare the bundled model with NL-means."""
    wait, shot = waiter(app, window, out)

    tab = window.denoise_tab
    window.tabs.setCurrentWidget(tab)
    tab.open_sample(sample)
    if not wait(lambda: tab.image is not None and not tab.runner.is_running()):
        raise TimeoutError(f"could not open the sample {sample!r}")
    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData("gaussian"))
    tab.sigma.setValue(sigma)
    for method, box in tab.method_boxes.items():
        box.setChecked(method in ("nl_means", BUNDLED))
    tab.denoise()
    if not wait(lambda: not tab.runner.is_running()):
        raise TimeoutError("denoising did not finish in time")
    tab.method_combo.setCurrentIndex(tab.method_combo.findData(BUNDLED))
    wait(lambda: not tab.strength_panel.runner.is_running(), timeout=60)  # the strength preview
    wait(lambda: False, timeout=1.0)
    wait(lambda: not tab.strength_panel.runner.is_running(), timeout=60)
    shot(f"denoise_{sample}.png")
    tab.view_combo.setCurrentIndex(tab.view_combo.findData("diff_clean"))
    shot(f"denoise_{sample}_difference.png")
    window.close()


if __name__ == "__main__":
    sys.exit(main())
