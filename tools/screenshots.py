"""Drive the real app offscreen and save screenshots of each tab during and after training.

Usage: QT_QPA_PLATFORM=offscreen python tools/screenshots.py OUT_DIR [--kind dense] [--epochs 6]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from gui.widgets.forms import set_choice  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--kind", default="dense")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--mid-epoch", type=int, default=3, help="grab the mid-training shot after this epoch")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    tab = window.training_tab
    set_choice(tab.model_kind, args.kind)
    tab.epochs.setValue(args.epochs)
    tab.denoising.setChecked(args.noise > 0)
    if args.noise:
        tab.noise_factor.setValue(args.noise)
    shots = {"mid": False}

    def on_event(event):
        from engine.events import EpochEnded
        if isinstance(event, EpochEnded) and event.epoch + 1 == args.mid_epoch and not shots["mid"]:
            shots["mid"] = True
            QTimer.singleShot(300, lambda: window.grab().save(str(out / f"training_{args.kind}_mid.png")))

    def after_training():
        window.grab().save(str(out / f"training_{args.kind}_done.png"))
        window.tabs.setCurrentWidget(window.reconstruction_tab)
        QTimer.singleShot(200, wait_recon)

    def wait_recon():
        if window.reconstruction_tab.recon is None:
            QTimer.singleShot(200, wait_recon)
            return
        QTimer.singleShot(400, lambda: (window.grab().save(str(out / f"reconstruction_{args.kind}.png")),
                                        window.reconstruction_tab.worst_first.setChecked(True)))
        QTimer.singleShot(1200, lambda: (window.grab().save(str(out / f"reconstruction_{args.kind}_worst.png")),
                                         window.close()))

    tab.runner.event_emitted.connect(on_event)
    tab.runner.finished.connect(lambda: QTimer.singleShot(500, after_training))
    QTimer.singleShot(200, tab.start)
    app.exec()
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
