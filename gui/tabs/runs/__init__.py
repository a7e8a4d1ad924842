"""Runs tab: every recorded training, compared, reopened, resumed, deleted (run_curves draws the curves)."""
