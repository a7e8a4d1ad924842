"""The model's architecture: Keras' summary beside a diagram of its layers with their output shapes."""
from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPlainTextEdit, QPushButton, QScrollArea, QSplitter, QTableWidget, QTableWidgetItem,
                               QTabWidget, QVBoxLayout, QWidget)

from gui.common import file_dialogs
from gui.common.canvas import MplCanvas

PART_COLOURS = {"encoder": "#cfe2f3", "decoder": "#d9ead3", "discriminator": "#fce5cd", "": "#eeeeee"}
ROW_INCHES = 0.55


class LayerDiagram(MplCanvas):
    """One box per layer, top to bottom in data-flow order, coloured by part (encoder, decoder, ...)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, figsize=(4.2, 6), layout=None, min_size=(300, 200))
        self.rows = []

    def set_rows(self, rows) -> None:
        self.rows = list(rows)
        fig = self.figure
        fig.clear()
        height = max(3.0, ROW_INCHES * len(self.rows) + 0.6)
        fig.set_size_inches(4.2, height)
        self.setMinimumHeight(int(height * fig.dpi))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 1)
        ax.set_ylim(len(self.rows) + 0.5, -0.5)
        ax.axis("off")
        self.ax = ax
        for i, row in enumerate(self.rows):
            ax.add_patch(_box(i, PART_COLOURS.get(row.part, "#eeeeee")))
            params = f", {row.params:,} params" if row.params else ""
            ax.text(0.42, i - 0.12, f"{row.kind}  ({row.name})", ha="center", va="center", fontsize=8.5,
                    fontweight="bold")
            ax.text(0.42, i + 0.2, f"{row.output_shape}{params}", ha="center", va="center", fontsize=8)
            if i:
                ax.annotate("", (0.42, i - 0.4), (0.42, i - 0.6), arrowprops={"arrowstyle": "->", "lw": 0.8})
        parts = [p for p in dict.fromkeys(r.part for r in self.rows) if p]
        if parts:
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(color=PART_COLOURS[p], label=p) for p in parts], loc="upper right",
                      fontsize=7, frameon=False)
        self.draw_idle()

    def box_texts(self) -> list[str]:
        return [t.get_text() for t in self.ax.texts] if self.rows else []


def layer_table(rows, totals: tuple[int, int]) -> QTableWidget:
    """One row per layer (part, name, type, output shape, parameters), then the totals, as Keras' summary."""
    total, trainable = totals
    table = QTableWidget(len(rows) + 2, 5)
    table.setHorizontalHeaderLabels(["Part", "Layer", "Type", "Output shape", "Parameters"])
    lines = [(r.part, r.name, r.kind, r.output_shape, f"{r.params:,}") for r in rows]
    lines += [("", "Total", "", "", f"{total:,}"), ("", "Trainable", "", "", f"{trainable:,}")]
    for r, line in enumerate(lines):
        for c, text in enumerate(line):
            item = QTableWidgetItem(text)
            if c == 4:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if r >= len(rows):
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def _box(i: int, colour: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((0.03, i - 0.38), 0.78, 0.76, boxstyle="round,pad=0.01,rounding_size=0.03",
                          facecolor=colour, edgecolor="#555555", linewidth=0.8)


class ArchitectureDialog(QDialog):
    """Summary text and diagram for a model; the diagram saves as PNG (Keras' plot_model with Graphviz)."""

    def __init__(self, model, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        from engine.models.architecture import graphviz_available, layer_rows, parameter_totals, summary_text

        self.model = model
        self.setWindowTitle(f"Architecture: {title or model.name}")
        self.summary = QPlainTextEdit(summary_text(model))
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.summary.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        rows = layer_rows(model)
        self.table = layer_table(rows, parameter_totals(model))
        views = QTabWidget()
        views.addTab(self.table, "Layers")
        views.addTab(self.summary, "Keras summary")
        self.diagram = LayerDiagram()
        self.diagram.set_rows(rows)
        scroll = QScrollArea()
        scroll.setWidget(self.diagram)
        scroll.setWidgetResizable(True)
        scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(views)
        splitter.addWidget(scroll)
        splitter.setSizes([620, 420])
        self.graphviz = graphviz_available()
        how = ("Keras' plot_model (Graphviz)" if self.graphviz else
               "this diagram (Graphviz is not installed; with pydot and Graphviz, Keras' plot_model is used)")
        note = QLabel(f"Save diagram writes {how}.")
        note.setWordWrap(True)
        save = QPushButton("Save diagram as PNG…")
        save.clicked.connect(self._save_dialog)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(note, 1)
        row.addWidget(save)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(row)
        self.resize(1100, 700)

    @Slot()
    def _save_dialog(self) -> None:
        path = file_dialogs.save_file(self, "Save diagram", "figure", f"{self.model.name}.png", "PNG (*.png)")
        if path:
            self.save_png(path)

    def save_png(self, path: str) -> bool:
        from engine.models.architecture import plot_model_png
        from engine.core.fileio import atomic_path

        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            if self.graphviz:
                plot_model_png(self.model, path)
            else:
                with atomic_path(path) as tmp:
                    self.diagram.figure.savefig(tmp, format="png", dpi=120)
        except (OSError, ImportError) as exc:
            QMessageBox.warning(self, "Could not save the diagram", f"{path}: {exc}")
            return False
        return True
