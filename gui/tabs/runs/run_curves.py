"""Chosen runs side by side: their validation curves overlaid, and each run's mean code activation."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from matplotlib.ticker import MaxNLocator

from gui.common.canvas import MplCanvas


class RunCurves(MplCanvas):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, figsize=(6, 5))
        self.curves_ax, self.bars_ax = self.figure.subplots(2, 1, height_ratios=(3, 1.4))
        self.curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.activations: dict[str, float] = {}
        self._empty_key: str | None = None  # the key of the empty plot shown now, if one is
        self.show_runs([], "val_loss")

    def show_runs(self, runs, key: str = "val_loss") -> None:
        """Overlay `key` (e.g. val_loss) of each run by epoch; bars of mean code activation below."""
        if not runs and key == self._empty_key:
            return  # shown already (e.g. built, then shown with nothing ticked): clearing the axes costs ~20 ms
        self._empty_key = None if runs else key
        ax, bars = self.curves_ax, self.bars_ax
        ax.clear()
        bars.clear()
        self.curves, self.activations = {}, {}
        colours = {}  # a run's bar has its line's colour
        for i, run in enumerate(runs):
            colours[run.id] = f"C{i % 10}"
            values = np.asarray(run.history.get(key) or run.history.get("loss") or [], float)
            if len(values):
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, marker="o", markersize=3, label=_short(run), color=colours[run.id])
                self.curves[run.id] = (epochs, values)
            activation = run.metrics.get("mean_code_activation")
            if activation is not None:
                self.activations[run.id] = float(activation)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key.replace("_", " "))
        ax.grid(True, alpha=0.3)
        self.log_scale = _spans_scales([values for _, values in self.curves.values()])
        if self.log_scale:  # e.g. a VAE's loss per image beside a loss per pixel: both curves readable
            ax.set_yscale("log")
        if self.curves:
            ax.legend(fontsize="small", loc="upper right")
            ax.set_title(f"{key.replace('_', ' ')} of {len(self.curves)} run(s)" + (", log scale" if self.log_scale
                                                                                       else ""))
        else:
            ax.set_title("Tick runs in the list to compare their curves")
        labels = [_short(r) for r in runs if r.id in self.activations]
        values = [self.activations[r.id] for r in runs if r.id in self.activations]
        self.bar_colours = [colours[r.id] for r in runs if r.id in self.activations]
        bars.barh(range(len(values)), values, color=self.bar_colours)
        bars.set_yticks(range(len(values)), labels, fontsize="small")
        bars.invert_yaxis()
        bars.set_xlabel("mean code activation (validation samples)")
        if not values:  # no scale to read: no ticks either
            bars.set_yticks([])
            bars.set_xticks([])
            bars.text(0.5, 0.5, "no code activations recorded", ha="center", va="center", transform=bars.transAxes,
                      color="grey")
        self.invalidate_layout()
        self.request_draw()


def _spans_scales(curves: list[np.ndarray], ratio: float = 50.0) -> bool:
    """True when the curves' typical values differ by more than `ratio` (and all are positive): on a linear
    axis the smaller ones would lie flat on zero."""
    medians = [float(np.median(c)) for c in curves if len(c)]
    return len(medians) > 1 and min(medians) > 0 and max(medians) / min(medians) > ratio and all(
        (np.asarray(c) > 0).all() for c in curves)


def _short(run) -> str:
    if run.name:
        return run.name
    config = run.config
    kind = config.get("model_kind", "?")
    extra = f" L1 {config.get('l1_weight'):g}" if kind == "sparse" else ""
    when = run.id[9:15]  # HHMMSS of the run's id (yyyymmdd-HHMMSS-kind-xxxx)
    stamp = f"{when[:2]}:{when[2:4]}:{when[4:]}" if when.isdigit() else run.id[:15]
    return f"{kind} {config.get('code_size', '')}{extra} ({stamp})"
