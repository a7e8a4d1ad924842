"""The Sampling tab's widgets and their layout (the behaviour is in gui.tabs.sampling.tab).

Left: the latent plane (scatter of the validation means, the decoded picked point beside it) over
the interpolation strip; right: samples from the prior over the 2-D manifold. Each view has a
Save PNG button.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from gui.common.image_grid import ImageGrid
from gui.tabs.sampling.latent_scatter import LatentScatter
from gui.tabs.sampling.manifold_view import ManifoldView

MODES = {"linear": "Linear", "slerp": "Spherical (slerp)"}
MANIFOLD_AXES = (60, 45)  # about what the manifold's axis labels take left of and below it, in pixels


def _spin(low: int, high: int, value: int, tip: str, prefix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    box.setPrefix(prefix)
    return box


def _group(title: str, *rows) -> QGroupBox:
    box = QGroupBox(title)
    column = QVBoxLayout(box)
    for row in rows:
        if isinstance(row, QWidget):
            column.addWidget(row, 0 if isinstance(row, QLabel) else 1)
        else:
            column.addLayout(row)
    return box


def _row(*widgets, stretch: bool = True) -> QHBoxLayout:
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w) if isinstance(w, QWidget) else row.addLayout(w)
    if stretch:
        row.addStretch(1)
    return row


class SamplingView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._build()

    def _build(self) -> None:
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("QLabel { font-weight: bold; padding: 6px; border: 1px solid palette(mid); }")
        self.model_label = QLabel("No model yet.")
        self.model_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        left = _split(Qt.Vertical, (self._scatter_box(), 3), (self._interpolation_box(), 2))
        self._right = _split(Qt.Vertical, (self._samples_box(), 1), (self._manifold_box(), 1))
        self._columns = _split(Qt.Horizontal, (left, 3), (self._right, 2))
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(_row(self.model_label, self.progress, stretch=False))
        layout.addWidget(self._columns, 1)
        # What is enabled only while a VAE or AAE is shown.
        self.controls = [self.grid_size, self.seed, self.resample_button, self.save_samples_button,
                         self.manifold_size, self.save_manifold_button, self.save_scatter_button, self.index_a,
                         self.index_b, self.mode, self.steps, self.save_strip_button]

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self.fit_columns)  # once the splitters have their new sizes

    def fit_columns(self) -> None:
        """The prior samples and the manifold are square: share the right column's height so that both are
        the same size, and make it as wide as the manifold and its axis labels need, not wider (the latent
        plane and the interpolation strip get the rest)."""
        samples, manifold = self.samples_grid.parentWidget(), self.manifold.parentWidget()
        heights = self._right.sizes()
        free = sum(heights) - (samples.height() - self.samples_grid.height()) - (manifold.height()
                                                                                 - self.manifold.height())
        side = (free - MANIFOLD_AXES[1]) // 2  # of each square
        if side <= 0 or samples.height() <= 0:
            return
        top = side + samples.height() - self.samples_grid.height()
        self._right.setSizes([top, sum(heights) - top])
        width = side + MANIFOLD_AXES[0] + self._right.width() - self.samples_grid.width()
        total = sum(self._columns.sizes())
        width = max(self._right.minimumSizeHint().width(), min(width, total * 2 // 5))
        self._columns.setSizes([total - width, width])

    def _samples_box(self) -> QGroupBox:
        self.grid_size = _spin(2, 16, 8, "Samples per side of the grid.", "grid ")
        self.seed = _spin(0, 999_999, 0, "Random seed of the draws: the same seed gives the same samples.",
                          "seed ")
        self.resample_button = QPushButton("Resample")
        self.resample_button.setToolTip("Draw new samples (the next seed).")
        self.resample_button.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))
        self.samples_grid = ImageGrid()
        self.samples_grid.setMinimumSize(150, 120)
        self.save_samples_button = QPushButton("Save PNG…")
        return _group("Samples from the prior", _row(self.grid_size, self.seed, self.resample_button),
                      self.samples_grid, _row(self.save_samples_button))  # one row would widen the column

    def _manifold_box(self) -> QGroupBox:
        self.manifold_size = _spin(3, 30, 15, "Decoded images per side of the manifold.", "grid ")
        self.manifold = ManifoldView()
        self.manifold.setMinimumSize(150, 150)
        self.save_manifold_button = QPushButton("Save PNG…")
        return _group("Latent manifold (2-D latent space)", _row(self.manifold_size, self.save_manifold_button),
                      self.manifold)

    def _scatter_box(self) -> QGroupBox:
        self.scatter = LatentScatter()
        self.scatter.setMinimumSize(180, 150)
        self.decoded = ImageGrid()
        self.decoded.setMinimumSize(110, 110)
        self.decoded.setMaximumWidth(220)
        hint = QLabel("Click or drag on the plane to decode that point.")
        hint.setWordWrap(True)
        self.save_scatter_button = QPushButton("Save PNG…")
        side = QVBoxLayout()
        side.addWidget(self.decoded, 1)
        side.addWidget(hint)
        side.addWidget(self.save_scatter_button)
        plane_row = QHBoxLayout()
        plane_row.addWidget(self.scatter, 3)
        plane_row.addLayout(side, 1)
        self.plane_info = QLabel("")
        self.plane_info.setWordWrap(True)
        self.refine_steps = _spin(0, 500, 0, "VAE only: improve each sample's code with this many gradient steps on "
                                  "its own ELBO, starting from the encoder's guess (iterative inference). 0 = the "
                                  "encoder alone. Better codes for images unlike the training data; ~30 steps take "
                                  "about 30 s for 5,000 digits on 2 CPU cores.", "refine codes: ")
        self.refine_steps.setSuffix(" steps")
        self.refine_steps.setKeyboardTracking(False)  # typing "30" starts one job, not one for "3" first
        self.refine_steps.setSpecialValueText("refine codes: off (encoder only)")
        return _group("Latent space of the validation samples", _row(self.refine_steps), self.plane_info, plane_row)

    def _interpolation_box(self) -> QGroupBox:
        self.index_a = _spin(0, 0, 0, "Validation sample at the start of the interpolation.", "A #")
        self.index_b = _spin(0, 0, 1, "Validation sample at the end of the interpolation.", "B #")
        self.mode = QComboBox()
        for key, label in MODES.items():
            self.mode.addItem(label, key)
        self.mode.setToolTip("Linear: a straight line between the two codes. Spherical: along the great circle, "
                             "keeping the codes' length (often crisper for a Gaussian prior).")
        self.steps = _spin(2, 30, 10, "Images in the strip, both ends included.", "steps ")
        self.thumbnails = ImageGrid()
        self.thumbnails.setMinimumSize(130, 80)
        self.thumbnails.setMaximumWidth(200)
        self.strip = ImageGrid()
        self.strip.setMinimumSize(150, 70)
        self.save_strip_button = QPushButton("Save PNG…")
        strip_row = QHBoxLayout()
        strip_row.addWidget(self.thumbnails, 1)
        strip_row.addWidget(self.strip, 4)
        return _group("Interpolation between two validation images", _row(self.index_a, self.index_b, self.steps),
                      _row(self.mode, self.save_strip_button), strip_row)


def _split(orientation, *parts) -> QSplitter:
    """A splitter of (widget, stretch) parts; stretch 0 leaves the splitter's default."""
    splitter = QSplitter(orientation)
    for i, (widget, stretch) in enumerate(parts):
        splitter.addWidget(widget)
        if stretch:
            splitter.setStretchFactor(i, stretch)
    return splitter
