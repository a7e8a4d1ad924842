"""Autoencoder Studio: `python main.py` opens the app; `python main.py train|denoise|score|export ...`
runs headless (the cli package) without importing Qt."""
from __future__ import annotations

import os
import sys


def run_gui(argv: list[str]) -> int:
    import gc

    gc.disable()  # no cycle collection while the window is built: ~200 passes, a tenth of the start
    from gui.platform_check import display_problem

    problem = display_problem()
    if problem:  # Qt itself would abort the process with a misleading message
        print(f"error: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from gui.main_window import APP_NAME, MainWindow

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("AutoencoderStudio")
    window = MainWindow()
    window.show()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, gc.enable)  # at the event loop's first turn; one pass then goes over all the start made
    if os.environ.get("AES_STARTUP_PROBE"):  # benchmarks/startup.py: report when the window is up, then leave
        import time

        QTimer.singleShot(0, lambda: (print(f"window-shown {time.time():.6f}", flush=True), app.quit()))
    return app.exec()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) <= 1:  # the common case opens the window without even building the command parser
        return run_gui(argv)
    from cli.app import run  # light: no Qt, no TensorFlow
    from cli.parser import build_parser

    args = build_parser(os.path.basename(argv[0]) if argv else "main.py").parse_args(argv[1:])
    if args.command is None:
        return run_gui(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
