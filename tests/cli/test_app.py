"""The command line's exit statuses, decided by the type of what a command raised (in-process: fast)."""
import json

import pytest

from cli.app import exit_status
from cli.common import INTERRUPTED, CliError
from engine.core import errors
from engine.core.jobs import Stopped


@pytest.mark.parametrize("exc, code", [
    (CliError("usage"), 2), (CliError("failed while working", 1), 1),
    (Stopped("stopped"), INTERRUPTED),
    (errors.ConfigError("bad setting"), 2), (json.JSONDecodeError("bad", "{", 0), 2),
    (errors.DataError("unreadable"), 1), (errors.ImageError("broken png", path="x.png"), 1),
    (errors.ModelError("not a model"), 1), (errors.DetectorFileError("damaged"), 1),
    (errors.ExportError("differs"), 1), (errors.RunError("still training"), 1),
    (errors.TrainingError("diverged"), 1), (PermissionError(13, "Permission denied"), 1),
])
def test_user_errors_map_to_exit_statuses_by_type(exc, code):
    assert exit_status(exc) == code


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("x"), RuntimeError("oops"), TypeError("t")])
def test_anything_else_is_a_bug_and_keeps_its_traceback(exc):
    assert exit_status(exc) is None


def test_every_user_error_class_gets_a_status():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.UserError)]
    assert len(classes) >= 9
    for cls in classes:
        exc = cls("x", path="p") if cls is errors.ImageError else cls("x")
        assert exit_status(exc) in (1, 2), cls


@pytest.mark.parametrize("diverged, stopped, code", [(False, False, 0), (True, False, 1), (False, True, INTERRUPTED)])
def test_train_exits_1_when_the_loss_diverged_after_the_kept_epoch(tmp_path, monkeypatch, diverged, stopped, code):
    """A NaN after good epochs keeps the best model but is a failed run: exit 1, as the README says."""
    from types import SimpleNamespace

    import engine.jobs
    from cli.app import main

    result = SimpleNamespace(best_epoch=1, model=None, stopped_by_user=stopped, diverged=diverged)
    outcome = engine.jobs.TrainOutcome(dataset=None, result=result, run=None)
    monkeypatch.setattr(engine.jobs, "train_job", lambda *a, **k: lambda state: outcome)
    assert main(["train", "--epochs", "2", "--runs-dir", str(tmp_path)]) == code
