"""Autoencoder Studio: `python main.py` opens the app."""
from __future__ import annotations

import argparse
import os
import sys


def run_gui(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import APP_NAME, MainWindow

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("AutoencoderStudio")
    window = MainWindow()
    window.show()
    if os.environ.get("AES_STARTUP_PROBE"):  # benchmarks/startup.py: report when the window is up, then leave
        from PySide6.QtCore import QTimer
        import time

        QTimer.singleShot(0, lambda: (print(f"window-shown {time.time():.6f}", flush=True), app.quit()))
    return app.exec()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(prog="autoencoder-studio", description="Train, inspect and use autoencoders.")
    parser.parse_args(argv[1:])
    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
