"""The resume rule (engine.training.resume): which recorded runs may continue, and to what."""
import pytest

from engine.core.config import DataSpec, TrainConfig
from engine.core.errors import ConfigError, RunError
from engine.training.resume import plan_resume, resume_problem
from engine.training.runs import RunInfo, mark_active

CONFIG = TrainConfig(model_kind="dense", code_size=4, epochs=10)
DATA = {"kind": "array", "path": "/data/x.npy", "image_size": 28, "color": "grey", "validation_fraction": 0.2,
        "seed": 1, "summary": "Arrays from /data/x.npy: 8 training + 2 validation samples of 4"}


def run(tmp_path, status="stopped", done=4, checkpoint=True, config=None):
    folder = tmp_path / f"run-{status}-{done}"
    folder.mkdir()
    if checkpoint:
        (folder / "checkpoint.keras").write_bytes(b"PK")
    return RunInfo(folder.name, folder, status, "2026-11-30T00:00:00", dict(config or CONFIG.to_dict()), dict(DATA),
                   {"loss": [1.0] * done, "val_loss": [1.0] * done})


@pytest.mark.parametrize("status", ["stopped", "interrupted", "failed"])
def test_a_run_cut_short_continues_with_its_own_settings_and_data(tmp_path, status):
    plan = plan_resume(run(tmp_path, status))
    assert plan.config == CONFIG and plan.done == 4
    assert plan.spec == DataSpec(kind="array", path="/data/x.npy", validation_fraction=0.2, seed=1)
    assert resume_problem(run(tmp_path, status + "2")) is None


def test_more_epochs_can_be_asked_for_even_after_a_finished_run(tmp_path):
    finished = run(tmp_path, "finished", done=10)
    assert "already has 10 of 10 epochs" in resume_problem(finished)
    with pytest.raises(ConfigError, match="more than 10"):
        plan_resume(finished)
    assert plan_resume(finished, epochs=15).config.epochs == 15
    with pytest.raises(ConfigError, match="already has 10 of 10"):
        plan_resume(finished, epochs=10)  # exactly what it has: nothing left to do
    with pytest.raises(ConfigError, match="already has 10 of 6"):
        plan_resume(finished, epochs=6)  # fewer than it has


def test_a_run_still_training_or_without_a_checkpoint_cannot_continue(tmp_path):
    with pytest.raises(RunError, match="still training"):
        plan_resume(run(tmp_path, "running"))
    import json  # a status read from a run record, as another process wrote it (not an interned literal)

    loaded = run(tmp_path, json.loads('"running"'), done=3)
    with pytest.raises(RunError, match="still training"):
        plan_resume(loaded)
    busy = run(tmp_path, "stopped", done=2)
    mark_active(busy, True)
    try:
        assert "still training" in resume_problem(busy)
    finally:
        mark_active(busy, False)
    assert resume_problem(busy) is None
    with pytest.raises(RunError, match="no checkpoint"):
        plan_resume(run(tmp_path, "stopped", done=0, checkpoint=False))


def test_settings_this_version_cannot_use_are_explained(tmp_path):
    odd = run(tmp_path, config={**CONFIG.to_dict(), "colour": "blue"})
    with pytest.raises(RunError, match="settings this version cannot use"):
        plan_resume(odd)
