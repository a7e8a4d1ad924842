"""The engine is importable without Qt, and the GUI starts without TensorFlow."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    probe = code + "; import sys; print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(out.stdout.strip().splitlines()[-1].split(","))


def test_whole_engine_loads_no_qt():
    modules = _loaded_after("import engine.core.config, engine.core.events, engine.data.dataset, engine.data.mnist, engine.data.images, engine.jobs, "
                            "engine.models.builders, engine.training.fit, engine.models.files, engine.core.fileio")
    assert "tensorflow" in modules or "keras" in modules  # the probe really imported the heavy modules
    assert "PySide6" not in modules


def test_gui_window_module_does_not_import_tensorflow():
    modules = _loaded_after("import gui.main_window")
    assert "PySide6" in modules
    assert "tensorflow" not in modules and "keras" not in modules
