"""Shared test setup: headless Qt, and no test may leave a QThread running."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
os.environ.setdefault("QT_API", "PySide6")  # matplotlib's Qt binding
os.environ.setdefault("PYTEST_QT_API", "pyside6")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

_GRACE_S = 2.0  # a thread that just delivered its result needs a moment to end


@pytest.fixture(autouse=True)
def _dangling_qthreads():
    """Fail a test that leaves a JobRunner thread running (after napari's fixture).

    Engine tests never import Qt: the check only runs when PySide6 and gui.worker are
    already loaded, so this fixture imports nothing by itself.
    """
    yield
    if "PySide6" not in sys.modules or "gui.worker" not in sys.modules:
        return
    worker = sys.modules["gui.worker"]
    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance()
    deadline = time.monotonic() + _GRACE_S
    while (threads := worker.live_threads()) and time.monotonic() < deadline:
        if app is not None:
            app.processEvents()
        threads[0].wait(10)
    if threads:
        names = sorted(t.objectName() or repr(t) for t in threads)
        stopped = worker.stop_all(5000)  # keep later tests (and interpreter exit) safe
        pytest.fail(
            f"test left {len(names)} QThread(s) running: {', '.join(names)}"
            + ("" if stopped else " (and they did not stop when asked)")
        )


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread():
    """Once a GUI test has handed garbage collection to the GUI thread (gui.collector), the tests after it run
    with the automatic collector off: what would have been collected is collected between tests."""
    yield
    collector = sys.modules.get("gui.collector")
    if collector is not None and collector.installed() is not None:
        collector.installed().collect_due()


@pytest.fixture(autouse=True)
def _private_run_store(tmp_path_factory, monkeypatch):
    """Every test records its training runs in a fresh folder, never in the user's run store."""
    monkeypatch.setenv("AES_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A folder nobody may write to. Root ignores folder permissions, so there the temporary files every
    writer starts with are refused in this folder exactly as the OS refuses them to other users."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        for name in ("mkstemp", "mkdtemp"):
            real = getattr(tempfile, name)

            def refuse(*args, _real=real, **kwargs):
                where = kwargs.get("dir")
                if where is not None and Path(where).resolve() == folder.resolve():  # as the OS says it
                    name = f"{kwargs.get('prefix') or 'tmp'}abcd1234{kwargs.get('suffix') or ''}"
                    raise PermissionError(13, "Permission denied", str(Path(where) / name))
                return _real(*args, **kwargs)

            monkeypatch.setattr(tempfile, name, refuse)
    yield folder
    folder.chmod(0o755)


def pytest_terminal_summary(terminalreporter, config):
    """Say which random order ran (pytest-randomly), so that a failure that depends on it can be rerun."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and getattr(config.option, "randomly_reorganize", True):
        terminalreporter.write_line(f"random test order: rerun it with --randomly-seed={seed}")
