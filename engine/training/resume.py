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
    config, spec = _settings(run)
    if epochs is not None:
        config = config.replace(epochs=epochs)
    done = len(run.history.get("loss", []))
    if config.epochs <= done:
        raise ConfigError(f"Run {run.id} already has {done} of {config.epochs} epochs; ask for more than {done} "
                          f"epochs in all to train longer.")
    return ResumePlan(run, config, spec, done)


def _settings(run: RunInfo) -> tuple[TrainConfig, DataSpec]:
    """The run's own settings and data, once its state allows it to continue (not training, checkpointed)."""
    if run.status == "running" or is_active(run):
        raise RunError(f"Run {run.id} is still training.")
    if not run.checkpoint_path.is_file():
        raise RunError(f"Run {run.id} has no checkpoint (no epoch was finished); start a new run instead.")
    try:
        # Recorded before code_activation existed: the run's model has a ReLU code, and continues with one.
        return TrainConfig.from_dict({"code_activation": "relu", **run.config}), DataSpec.from_dict(run.data)
    except (ConfigError, TypeError) as exc:
        raise RunError(f"Run {run.id} has settings this version cannot use: {exc}") from exc


ROLLBACK_DIVISOR = 10  # the learning rate a rolled-back run continues with: the old one / 10


def plan_rollback(run: RunInfo) -> ResumePlan:
    """Continue a run that diverged (or was no better than the mean sample) from its best epoch, with the
    learning rate divided by ROLLBACK_DIVISOR, for the epochs it had left (at least those thrown away)."""
    config, spec = _settings(run)
    best = run.metrics.get("best_epoch")
    if best is None:
        raise RunError(f"Run {run.id} has no good epoch to roll back to; start a new run with a lower learning "
                       f"rate.")
    done, recorded = int(best) + 1, len(run.history.get("loss", []))
    rate = config.learning_rate / ROLLBACK_DIVISOR
    low = TrainConfig.LIMITS["learning_rate"].low
    if rate < low:
        raise ConfigError(f"The learning rate would fall below {low:g}; start a new run instead.")
    config = config.replace(epochs=max(config.epochs, done + max(1, recorded - done)), learning_rate=rate)
    return ResumePlan(run, config, spec, done)


def rollback_advised(run: RunInfo) -> bool:
    """A run worth rolling back: it diverged (NaN) or was no better than the mean sample."""
    return run.status == "diverged" or "baseline" in (run.metrics.get("warning_checks") or [])
