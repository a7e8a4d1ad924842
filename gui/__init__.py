"""The desktop app (PySide6): the main window and the shared session (main_window, session), the job
runner that keeps the window live while engine jobs run (worker), one package per tab (tabs/) and the
widgets several tabs share (common/). No model maths here: every computation is an engine job."""
