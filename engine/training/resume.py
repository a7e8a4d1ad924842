"""The resume rule, in one place: which recorded runs can continue, to how many epochs, with what
settings and data. Every front end asks it before offering or starting a resumed run."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.config import DataSpec, TrainConfig
from engine.core.errors import ConfigError, RunError
from engine.training.runs import RunInfo, is_active


@dataclass(frozen=True)
class ResumePlan:
    run: RunInfo
    config: TrainConfig  # the run's own settings, with the total epochs asked for
    spec: DataSpec  # the run's own data
    done: int  # epochs already recorded


def resume_problem(run: RunInfo, epochs: int | None = None) -> str | None:
    """Why `run` cannot continue (to `epochs` in all; default: its own total), or None when it can."""
    try:
        plan_resume(run, epochs)
    except (RunError, ConfigError) as exc:
        return str(exc)
    return None


def plan_resume(run: RunInfo, epochs: int | None = None) -> ResumePlan:
    """What continuing `run` means; RunError when its state forbids it, ConfigError when the settings do."""
    if run.status == "running" or is_active(run):
        raise RunError(f"Run {run.id} is still training.")
    if not run.checkpoint_path.is_file():
        raise RunError(f"Run {run.id} has no checkpoint (no epoch was finished); start a new run instead.")
    try:
        config = TrainConfig.from_dict(run.config)
        spec = DataSpec.from_dict(run.data)
    except (ConfigError, TypeError) as exc:
        raise RunError(f"Run {run.id} has settings this version cannot use: {exc}") from exc
    if epochs is not None:
        config = config.replace(epochs=epochs)
    done = len(run.history.get("loss", []))
    if config.epochs <= done:
        raise ConfigError(f"Run {run.id} already has {done} of {config.epochs} epochs; ask for more than {done} "
                          f"epochs in all to train longer.")
    return ResumePlan(run, config, spec, done)
