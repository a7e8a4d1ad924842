"""Autoencoder Studio: `python main.py` opens the app; `python main.py train|denoise|score|export ...`
runs headless (the cli package) without importing Qt."""
from __future__ import annotations

import os
import sys


def run_gui(argv: list[str]) -> int:
    from gui.platform_check import display_problem

    problem = display_problem()
    if problem:  # Qt itself would abort the process with a misleading message
        print(f"error: {problem}", file=sys.stderr)
        return 1
    app, _window = open_window(argv)
    if os.environ.get("AES_STARTUP_PROBE"):  # benchmarks/startup.py: report when the window is up, then leave
        import time

        from PySide6.QtCore import QTimer

        plots = _window.training_tab.plots

        def plots_drawn() -> None:  # then when the Training tab's plots are built and drawn
            drawn = plots.is_built() and not (plots.view.loss_plot.is_dirty() or plots.view.preview.is_dirty())
            if drawn:
                print(f"plots-shown {time.time():.6f}", flush=True)
                app.quit()
            else:
                QTimer.singleShot(5, plots_drawn)

        QTimer.singleShot(0, lambda: (print(f"window-shown {time.time():.6f}", flush=True), plots_drawn()))
    return app.exec()


def open_window(argv: list[str], settings=None):
    """The application and its shown main window, set up as the app runs (the benchmarks use it too):
    (app, window). `settings`: a QSettings to use instead of the user's."""
    import gc

    gc.disable()  # no cycle collection while the window is built (~200 passes, a tenth of the start), and
    # after it only on the GUI thread (gui.collector)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui import collector
    from gui.main_window import APP_NAME, MainWindow

    app = QApplication.instance() or QApplication(argv)
    collector.install()  # garbage cycles are collected on this thread only, from now on (Qt objects die here)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("AutoencoderStudio")
    window = MainWindow(settings)
    window.show()
    # What the start built lives as long as the window (and ~2,000 objects of its garbage are not worth the 90 ms a
    # full pass over the ~130,000 takes): at the event loop's first turn, collections stop walking it; so too
    # once the plots, imported in the background after the window showed, are built.
    QTimer.singleShot(0, gc.freeze)
    window.training_tab.plots.built.connect(gc.freeze)
    return app, window


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
