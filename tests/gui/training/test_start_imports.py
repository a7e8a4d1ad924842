"""Pressing Start right after launch: TensorFlow is imported by a worker, never on the GUI thread.

Importing it takes seconds; on the GUI thread the window would freeze that long (it did: the Training tab
imported Keras through engine.training.control when Start was pressed). Nor does Start load a C extension
module on the GUI thread: while the warm-up dlopen()s TensorFlow's libraries, a dlopen() there waits for
the loader's lock with the GIL held (Start froze ~450 ms importing the run store's _csv). Run in a fresh
interpreter, where TensorFlow is not imported yet, with an import hook that records which thread asks."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from tests.paths import ROOT

_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, os, sys, tempfile, threading, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, {root!r})
    from importlib.machinery import ExtensionFileLoader, PathFinder
    asked, extensions, armed = [], [], []

    class Spy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            main = threading.current_thread() is threading.main_thread()
            if name in ("tensorflow", "keras") and not any(n == name for n, _ in asked):
                asked.append((name, main))
            if armed and main:
                spec = PathFinder.find_spec(name, path)
                if spec is not None and isinstance(spec.loader, ExtensionFileLoader):
                    extensions.append(name)
            return None

    sys.meta_path.insert(0, Spy())
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from gui.main_window import MainWindow
    from tests.gui.helpers import use_array

    app = QApplication([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(QSettings(os.path.join(tmp, "s.ini"), QSettings.IniFormat))
    window.show()
    app.processEvents()
    tab = window.training_tab
    use_array(tab, {data!r}, epochs=1)
    armed.append(True)
    tab.start()  # before the background warm-up (300 ms after the plots) has begun
    finished = []
    tab.runner.finished.connect(lambda: finished.append(True))
    deadline = time.monotonic() + 240
    while not (tab.runner.is_running() or finished) and time.monotonic() < deadline:
        app.processEvents()  # Start waits for the plots, imported in the background as the window showed
        time.sleep(0.01)
    armed.clear()
    while not finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    print("RESULT " + json.dumps({{"asked": asked, "extensions": extensions, "finished": bool(finished),
                                   "model": window.session.model is not None}}), flush=True)
    window.close()
    """
)


def test_start_right_after_launch_imports_tensorflow_and_c_modules_off_the_gui_thread(tmp_path):
    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.random((40, 8, 8)).astype(np.float32))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=str(ROOT), data=str(data))],
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["finished"] and result["model"], result  # the training ran and gave a model
    asked = dict(result["asked"])
    assert set(asked) == {"tensorflow", "keras"}, result
    on_gui_thread = [name for name, main in asked.items() if main]
    assert not on_gui_thread, f"imported on the GUI thread: {on_gui_thread}"
    assert result["extensions"] == [], f"C extension modules loaded on the GUI thread at Start: {result['extensions']}"
