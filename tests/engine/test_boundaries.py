"""The boundaries the architecture promises, checked in fresh processes: every engine module imports with
no Qt (and so does the CLI), the GUI window starts without TensorFlow, and the light modules stay light.
(.importlinter checks the import graph statically; these check what really gets loaded.)"""
import subprocess
import sys

import pytest

from tests.paths import ROOT

ENGINE_MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                        for p in (ROOT / "engine").rglob("*.py"))
LIGHT = {  # modules the window or `--help` import while starting: no NumPy and no TensorFlow
    "engine.core.config", "engine.core.errors", "cli.app", "cli.parser",
}


def _loaded_after(code: str) -> set[str]:
    probe = code + "; import sys; print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(out.stdout.strip().splitlines()[-1].split(","))


def test_every_engine_module_is_walked():
    assert len(ENGINE_MODULES) > 40 and "engine.jobs" in ENGINE_MODULES and "engine.training.fit" in ENGINE_MODULES


def test_the_whole_engine_and_the_cli_load_no_qt():
    modules = _loaded_after("import " + ", ".join(ENGINE_MODULES + ["cli.app", "cli.commands", "cli.progress"]))
    assert "tensorflow" in modules and "keras" in modules  # the probe really imported the heavy modules
    assert "PySide6" not in modules and "shiboken6" not in modules and "gui" not in modules


@pytest.mark.parametrize("module", sorted(LIGHT))
def test_light_modules_load_neither_numpy_nor_tensorflow(module):
    modules = _loaded_after(f"import {module}")
    assert not modules & {"numpy", "tensorflow", "keras", "PySide6"}, modules


def test_gui_window_module_does_not_import_tensorflow():
    modules = _loaded_after("import gui.main_window")
    assert "PySide6" in modules
    assert "tensorflow" not in modules and "keras" not in modules
