"""The Denoise tab's Photo page: its widgets and their layout (the behaviour is in
gui.tabs.denoise_tab, which subclasses PhotoView and connects the signals).

Left, in a scroll area: the image, the noise to add, the methods, Denoise / Cancel and the
progress. Right: the linked image panels over the metrics table.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QMenu, QProgressBar, QPushButton, QScrollArea,
                               QSpinBox, QSplitter, QTableWidget, QToolButton, QVBoxLayout, QWidget)

from engine.denoise.pipeline import MODEL_METHOD, NOISE_KINDS, NOISE_LABELS
from engine.denoise.jobs_tmp import BUNDLED
from gui.widgets.image_panels import ImagePanels

METHODS = {  # method id -> checkbox text, in the order they run and are listed
    BUNDLED: "Bundled denoiser (DnCNN)",
    MODEL_METHOD: "Current model",
    "nl_means": "Non-local means",
    "tv": "TV (Chambolle)",
    "wavelet": "Wavelet (BayesShrink)",
}
VIEWS = {"result": "Result", "diff_clean": "|result − clean|", "diff_noisy": "|result − noisy|"}
COLUMNS = ("Method", "PSNR (dB)", "SSIM", "Seconds", "Megapixels/s")


class PhotoView(QWidget):
    """Builds the Photo page's widgets as attributes (open_button, noise_kind, method_boxes, panels,
    metrics_table, ...); connects nothing."""

    def _build_photo_page(self) -> QWidget:
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Open a PNG, JPEG, TIFF or BMP photograph (or drop one onto this tab).")
        self.sample_button = QToolButton()
        self.sample_button.setText("Sample")
        self.sample_button.setToolTip("One of scikit-image's photographs (no download needed).")
        self.sample_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.sample_menu = QMenu(self.sample_button)
        self.sample_button.setMenu(self.sample_menu)
        self.image_info = QLabel("No image yet. Open one, drop one here, or pick a sample.")
        self.image_info.setWordWrap(True)
        image_box = QGroupBox("Image")
        column = QVBoxLayout(image_box)
        row = QHBoxLayout()
        row.addWidget(self.open_button, 1)
        row.addWidget(self.sample_button)
        column.addLayout(row)
        column.addWidget(self.image_info)

        self.noise_kind = QComboBox()
        for kind in NOISE_KINDS:
            self.noise_kind.addItem(NOISE_LABELS[kind].split(" (")[0] if kind != "none" else "None", kind)
            self.noise_kind.setItemData(self.noise_kind.count() - 1, NOISE_LABELS[kind], Qt.ItemDataRole.ToolTipRole)
        self.noise_kind.setCurrentIndex(self.noise_kind.findData("gaussian"))
        self.noise_kind.setToolTip("Noise added on purpose: the clean image then serves as the reference for "
                                   "PSNR and SSIM.\nChoose None to denoise a photo that is noisy already.")
        self.sigma = QDoubleSpinBox()
        self.sigma.setRange(0.0, 255.0)
        self.sigma.setDecimals(1)
        self.sigma.setValue(25.0)
        self.sigma.setToolTip("Standard deviation on a 0-255 scale (Gaussian, speckle). 25 is clearly visible.")
        self.amount = QDoubleSpinBox()
        self.amount.setRange(0.0, 100.0)
        self.amount.setDecimals(1)
        self.amount.setSuffix(" %")
        self.amount.setValue(5.0)
        self.amount.setToolTip("Share of pixels turned black or white (salt and pepper).")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed, same noise: compare methods and settings on identical input.")
        noise_box = QGroupBox("Noise to add")
        form = QFormLayout(noise_box)
        form.addRow("Kind", self.noise_kind)
        form.addRow("Sigma (0-255)", self.sigma)
        form.addRow("Amount", self.amount)
        form.addRow("Seed", self.seed)

        self.method_boxes: dict[str, QCheckBox] = {}
        methods_box = QGroupBox("Methods")
        column_methods = QVBoxLayout(methods_box)
        for method, text in METHODS.items():
            box = QCheckBox(text)
            self.method_boxes[method] = box
            column_methods.addWidget(box)
        self.method_boxes[BUNDLED].setChecked(True)
        self.method_boxes["nl_means"].setChecked(True)
        self.method_boxes["nl_means"].setToolTip("scikit-image non-local means (fast mode), tuned on photographs.")
        self.method_boxes["tv"].setToolTip("Total-variation denoising (Chambolle): flat areas, sharp edges.")
        self.method_boxes["wavelet"].setToolTip("Wavelet shrinkage (BayesShrink): very fast, softer result.")

        self.denoise_button = QPushButton("Denoise")
        self.denoise_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current tile; nothing is changed.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.denoise_button, 1)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)

        controls = QWidget()
        column = QVBoxLayout(controls)
        for widget in (image_box, noise_box, methods_box):
            column.addWidget(widget)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.progress_label)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        scroll.setMinimumWidth(280)

        self.panels = ImagePanels(hint="Open an image (File > Open image…, the button on the left, or drop a file "
                                       "here),\nor pick a sample photograph.")
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("Which method's output the result panel shows (and Save writes).")
        self.method_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.view_combo = QComboBox()
        for key, label in VIEWS.items():
            self.view_combo.addItem(label, key)
        self.view_combo.setToolTip("Result, or where it differs from the clean original or from the noisy input "
                                   "(colour map; brighter = larger difference).")
        self.save_button = QPushButton("Save result…")
        self.save_button.setToolTip("Save the shown method's output (PNG, TIFF, JPEG or BMP by extension; "
                                    "16-bit and transparency kept where the format allows).")
        row = self.panels.tool_row
        row.addStretch(1)
        row.addWidget(QLabel("Show"))
        row.addWidget(self.method_combo)
        row.addWidget(self.view_combo)
        row.addWidget(self.save_button)

        self.metrics_table = QTableWidget(0, len(COLUMNS))
        self.metrics_table.setHorizontalHeaderLabels(COLUMNS)
        self.metrics_table.verticalHeader().setVisible(False)
        row_height = self.metrics_table.fontMetrics().height() + 8
        self.metrics_table.verticalHeader().setDefaultSectionSize(row_height)
        self.metrics_table.setMinimumHeight(4 * row_height)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.metrics_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.metrics_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_note = QLabel("Metrics appear here after Denoise.")
        self.metrics_note.setWordWrap(True)
        bottom = QWidget()
        bottom_column = QVBoxLayout(bottom)
        bottom_column.setContentsMargins(0, 0, 0, 0)
        bottom_column.addWidget(self.metrics_note)
        bottom_column.addWidget(self.metrics_table, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.panels)
        right.addWidget(bottom)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)
        right.setSizes([520, 8 * row_height])  # room for the noisy row and all five methods

        page = QSplitter(Qt.Orientation.Horizontal)
        page.addWidget(scroll)
        page.addWidget(right)
        page.setStretchFactor(1, 1)
        page.setSizes([300, 960])
        return page
