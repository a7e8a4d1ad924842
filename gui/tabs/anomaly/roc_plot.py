"""ROC and precision-recall curves side by side, with the current threshold's operating point.

The curves, chance lines and points are persistent artists updated with set_data; a message
(e.g. "need labels") hides both axes until curves are set again.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas


class RocPrPlot(MplCanvas):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.5, 3.4), min_size=(320, 200))
        self.roc_ax, self.pr_ax = self.figure.subplots(1, 2)
        (self._roc,) = self.roc_ax.plot([], [], color="tab:blue", linewidth=1.8, label="ROC curve")
        (self._chance,) = self.roc_ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="chance")
        (self._roc_point,) = self.roc_ax.plot([], [], "o", markersize=9, color="tab:red", markeredgecolor="white",
                                              zorder=5, label="current threshold")
        (self._pr,) = self.pr_ax.plot([], [], color="tab:blue", linewidth=1.8, drawstyle="steps-post",
                                      label="precision-recall")
        self._baseline = self.pr_ax.axhline(np.nan, color="0.5", linestyle="--", linewidth=1, label="chance")
        (self._pr_point,) = self.pr_ax.plot([], [], "o", markersize=9, color="tab:red", markeredgecolor="white",
                                            zorder=5, label="current threshold")
        for ax, xlabel, ylabel in ((self.roc_ax, "false positive rate", "true positive rate"),
                                   (self.pr_ax, "recall", "precision")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.set_box_aspect(1)
            ax.grid(True, alpha=0.3)
        self.roc_ax.legend(loc="lower right", fontsize="small")
        self._message = self.figure.text(0.5, 0.5, "", ha="center", va="center", color="0.3", wrap=True)
        self._curves: dict = {}
        self._point: tuple[float, float, float, float] | None = None
        self.show_message("No curves yet.")

    # -- public API -----------------------------------------------------------------------
    def set_curves(self, fpr, tpr, auroc: float, precision, recall, ap: float, positive_rate: float) -> None:
        """Draw both curves; titles give AUROC and average precision."""
        self._curves = {"fpr": np.asarray(fpr, float), "tpr": np.asarray(tpr, float),
                        "precision": np.asarray(precision, float), "recall": np.asarray(recall, float),
                        "auroc": float(auroc), "ap": float(ap), "positive_rate": float(positive_rate)}
        c = self._curves
        self._roc.set_data(c["fpr"], c["tpr"])
        self._pr.set_data(c["recall"], c["precision"])  # steps as sklearn's PrecisionRecallDisplay draws them
        self._baseline.set_ydata([c["positive_rate"]] * 2)
        self._baseline.set_label(f"chance ({c['positive_rate']:.2f})")
        self.roc_ax.set_title(f"ROC, AUROC {c['auroc']:.3f}", fontsize="medium")
        self.pr_ax.set_title(f"Precision-recall, AP {c['ap']:.3f}", fontsize="medium")
        self.pr_ax.legend(handles=[self._pr, self._baseline, self._pr_point], loc="lower left", fontsize="small")
        for ax in (self.roc_ax, self.pr_ax):
            ax.set_visible(True)
        self._message.set_text("")
        self.invalidate_layout()
        self.request_draw()

    def set_point(self, fpr: float, tpr: float, recall: float, precision: float) -> None:
        """Mark the current threshold on both curves."""
        self._point = (float(fpr), float(tpr), float(recall), float(precision))
        self._roc_point.set_data([fpr], [tpr])
        self._pr_point.set_data([recall], [precision])
        self.request_draw()

    def clear_point(self) -> None:
        self._point = None
        self._roc_point.set_data([], [])
        self._pr_point.set_data([], [])
        self.request_draw()

    def show_message(self, text: str) -> None:
        """Hide the curves and show `text` in the middle."""
        for ax in (self.roc_ax, self.pr_ax):
            ax.set_visible(False)
        self._message.set_text(text)
        self.invalidate_layout()
        self.request_draw()

    def message(self) -> str:
        return self._message.get_text()

    def curves_visible(self) -> bool:
        return self.roc_ax.get_visible() and self.pr_ax.get_visible()

    def curve_data(self) -> dict:
        """What is drawn: fpr, tpr, precision, recall arrays and auroc, ap, positive_rate ({} before any)."""
        if not self._curves:
            return {}
        fpr, tpr = self._roc.get_data()
        recall, precision = self._pr.get_data()
        return {**self._curves, "fpr": np.asarray(fpr), "tpr": np.asarray(tpr), "recall": np.asarray(recall),
                "precision": np.asarray(precision), "positive_rate": float(self._baseline.get_ydata()[0])}

    def point(self) -> tuple[float, float, float, float] | None:
        """(fpr, tpr, recall, precision) of the marked operating point, or None."""
        if self._point is None:
            return None
        (fpr,), (tpr,) = self._roc_point.get_data()
        (recall,), (precision,) = self._pr_point.get_data()
        return float(fpr), float(tpr), float(recall), float(precision)
