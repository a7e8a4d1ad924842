"""What GUI tests do again and again: click a real button, point the Training tab at an array file."""
from PySide6.QtCore import Qt

from gui.common.forms import set_choice


def use_array(tab, path, epochs=3, kind="dense"):
    set_choice(tab.data_kind, "array")
    tab.data_path.setText(str(path))
    set_choice(tab.model_kind, kind)
    tab.epochs.setValue(epochs)
    tab.batch_size.setValue(8)
    tab.code_size.setValue(8)
    tab.filters.setValue(4)


def click(qtbot, button):
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.LeftButton)


def shown(qtbot, widget, width: int, height: int):
    """`widget` on screen at width x height, owned by the test."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def run_fresh(script: str, *args: str, timeout: int = 180):
    """Run `script` in a fresh interpreter (offscreen, from the project root), so that what it imports is not hidden
    by what other tests imported; returns the JSON it printed last."""
    import json
    import os
    import subprocess
    import sys

    from tests.paths import ROOT

    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
