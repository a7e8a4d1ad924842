"""The Denoise tab's Photo page: its widgets and their layout, and the settings they keep (the behaviour is
in gui.tabs.denoise.tab, which subclasses PhotoView and connects the signals).

Left, in a scroll area: the image, the noise to add, the methods, Denoise / Cancel and the
progress. Right: the linked image panels over the metrics table.
"""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QMenu, QProgressBar, QPushButton, QSpinBox,
                               QSplitter, QTableWidget, QVBoxLayout, QWidget)

from engine.core.resources import BUNDLED_DENOISER
from engine.data.noise import NOISE_KINDS, NOISE_LABELS, NOISE_NAMES
from engine.denoise.classical import bm3d_support
from engine.denoise.pipeline import BUNDLED, MODEL_METHOD, OLD_METHOD_IDS
from engine.models.guards import fully_convolutional, input_shape, shape_text
from gui.common.forms import scroll_column
from gui.common.recent_files import clean_recent
from gui.tabs.denoise.image_panels import ImagePanels
from gui.tabs.denoise.self_train import SelfTrainButton
from gui.tabs.denoise.strength import StrengthPanel

METHODS = {  # method id -> checkbox text, in the order they run and are listed
    BUNDLED: "Bundled denoiser (U-Net)",
    MODEL_METHOD: "Current model",
    "nl_means": "Non-local means",
    "tv": "TV (Chambolle)",
    "wavelet": "Wavelet (BayesShrink)",
    "bm3d": "BM3D (colour: CBM3D)",
}
VIEWS = {"result": "Result", "diff_clean": "|result − clean|", "diff_noisy": "|result − noisy|"}
COLUMNS = ("Method", "PSNR (dB)", "SSIM", "Seconds", "Megapixels/s")


class PhotoView(QWidget):
    """Builds the Photo page's widgets as attributes (open_button, noise_kind, method_boxes, panels,
    metrics_table, ...); connects nothing."""

    def _build_photo_page(self) -> QWidget:
        image, noise, methods, run = self._image_box(), self._noise_box(), self._methods_box(), self._run_row()
        scroll = scroll_column(image, noise, methods, self.progress_label, min_width=280,
                               actions=(run, self.progress))
        page = QSplitter(Qt.Orientation.Horizontal)
        page.addWidget(scroll)
        page.addWidget(self._results_side())
        page.setStretchFactor(1, 1)
        page.setSizes([300, 960])
        return page

    def _image_box(self) -> QGroupBox:
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Open a PNG, JPEG, TIFF or BMP photograph (or drop one onto this tab).")
        self.sample_button = QPushButton("Sample")  # a push button keeps room for its menu arrow after the text
        self.sample_button.setToolTip("One of scikit-image's photographs (no download needed).")
        self.sample_menu = QMenu(self.sample_button)
        self.sample_button.setMenu(self.sample_menu)
        self.image_info = QLabel("No image yet. Open one, drop one here, or pick a sample.")
        self.image_info.setWordWrap(True)
        box = QGroupBox("Image")
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(self.open_button, 1)
        row.addWidget(self.sample_button)
        column.addLayout(row)
        column.addWidget(self.image_info)
        return box

    def _noise_box(self) -> QGroupBox:
        self.noise_kind = QComboBox()
        for kind in NOISE_KINDS:
            self.noise_kind.addItem(NOISE_NAMES[kind], kind)
            self.noise_kind.setItemData(self.noise_kind.count() - 1, NOISE_LABELS[kind], Qt.ItemDataRole.ToolTipRole)
        self.noise_kind.setCurrentIndex(self.noise_kind.findData("gaussian"))
        self.noise_kind.setToolTip("Noise added on purpose: the clean image then serves as the reference for "
                                   "PSNR and SSIM.\nChoose None to denoise a photo that is noisy already.")
        self.sigma = _spin(QDoubleSpinBox(), 0.0, 255.0, 25.0, "Standard deviation on a 0-255 scale (Gaussian, "
                                                             "speckle). 25 is clearly visible.")
        self.sigma.setDecimals(1)
        self.amount = _spin(QDoubleSpinBox(), 0.0, 100.0, 5.0, "Share of pixels turned black or white (salt and "
                                                              "pepper).")
        self.amount.setDecimals(1)
        self.amount.setSuffix(" %")
        self.seed = _spin(QSpinBox(), 0, 2**31 - 1, 0, "Same seed, same noise: compare methods and settings on "
                                                       "identical input.")
        box = QGroupBox("Noise to add")
        form = QFormLayout(box)
        for label, field in (("Kind", self.noise_kind), ("Sigma (0-255)", self.sigma), ("Amount", self.amount),
                             ("Seed", self.seed)):
            form.addRow(label, field)
        return box

    def _methods_box(self) -> QGroupBox:
        self.method_boxes: dict[str, QCheckBox] = {}
        box = QGroupBox("Methods")
        column = QVBoxLayout(box)
        for method, text in METHODS.items():
            self.method_boxes[method] = QCheckBox(text)
            column.addWidget(self.method_boxes[method])
        self.method_boxes[BUNDLED].setChecked(True)
        self.method_boxes["nl_means"].setChecked(True)
        self.method_boxes["nl_means"].setToolTip("scikit-image non-local means (fast mode), tuned on photographs.")
        self.method_boxes["tv"].setToolTip("Total-variation denoising (Chambolle): flat areas, sharp edges.")
        self.method_boxes["wavelet"].setToolTip("Wavelet shrinkage (BayesShrink): very fast, softer result.")
        available, why = bm3d_support()
        self.method_boxes["bm3d"].setToolTip(why)
        if not available:  # listed, greyed out, saying why (as Export does for ONNX)
            self.method_boxes["bm3d"].setEnabled(False)
            self.method_boxes["bm3d"].setText(f"{METHODS['bm3d']}: not available")
        self.self_train_button = SelfTrainButton(self)  # a self-supervised model of this image: Current model
        column.addWidget(self.self_train_button)
        return box

    def _run_row(self) -> QHBoxLayout:
        self.denoise_button = QPushButton("Denoise")
        self.denoise_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current tile; nothing is changed.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        buttons = QHBoxLayout()
        buttons.addWidget(self.denoise_button, 1)
        buttons.addWidget(self.cancel_button)
        return buttons

    def _results_side(self) -> QSplitter:
        self.panels = ImagePanels(hint="Open an image (File > Open image…, the button on the left, or drop a file "
                                       "here),\nor pick a sample photograph.")
        self._result_tools(self.panels.tool_row)
        table = self._metrics_table()
        self.strength_panel = StrengthPanel()  # the slider and its live preview, beside the table
        bottom = QWidget()
        row = QHBoxLayout(bottom)
        row.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout()
        column.addWidget(self.metrics_note)
        column.addWidget(table, 1)
        row.addLayout(column, 1)
        row.addWidget(self.strength_panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.panels)
        right.addWidget(bottom)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)
        right.setSizes([520, 8 * self.metrics_table.verticalHeader().defaultSectionSize()])  # noisy + 5 methods
        return right

    def _result_tools(self, row: QHBoxLayout) -> None:
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
        row.addStretch(1)
        row.addWidget(QLabel("Show"))
        for widget in (self.method_combo, self.view_combo, self.save_button):
            row.addWidget(widget)

    def _metrics_table(self) -> QTableWidget:
        table = self.metrics_table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().setVisible(False)
        row_height = table.fontMetrics().height() + 8
        table.verticalHeader().setDefaultSectionSize(row_height)
        table.setMinimumHeight(4 * row_height)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_note = QLabel("Metrics appear here after Denoise.")
        self.metrics_note.setWordWrap(True)
        return table

    # ----- what can run -------------------------------------------------------------
    def sync_noise_fields(self) -> None:
        kind = self.noise_kind.currentData()
        self.sigma.setEnabled(kind in ("gaussian", "speckle"))
        self.amount.setEnabled(kind == "salt_pepper")
        self.seed.setEnabled(kind != "none")

    def offer_model(self, model, origin: str) -> None:
        """Offer the current model as a method only when it takes photographs (any height and width)."""
        box = self.method_boxes[MODEL_METHOD]
        if model is not None and fully_convolutional(model):
            box.setEnabled(True)
            box.setText(f"Current model ({model.name})")
            box.setToolTip(f"{model.name} — {origin}")
            return
        box.setEnabled(False)
        box.setChecked(False)
        box.setText("Current model")
        if model is None:
            box.setToolTip("No model yet: train one in the Training tab (e.g. the residual denoiser on a "
                           "folder of photos) or open a .keras file.")
        else:
            shown = shape_text((input_shape(model) or ())[1:]) or "unknown"
            box.setToolTip(f"The current model takes inputs of {shown}; denoising a photograph needs a fully "
                           "convolutional model (input of any height and width), e.g. the residual denoiser.")

    def offer_bundled(self) -> None:
        """Offer the bundled denoiser only when its file is there."""
        here = BUNDLED_DENOISER.is_file()
        box = self.method_boxes[BUNDLED]
        box.setEnabled(here)
        box.setToolTip("Noise-level-aware U-Net shipped with the app, trained on Gaussian and signal-dependent "
                       "noise (sigma 0-55) and told the noise level; colour photographs go through it in a "
                       "decorrelated colour space." if here else
                       f"The bundled denoiser {BUNDLED_DENOISER.name} is missing from {BUNDLED_DENOISER.parent}: "
                       "recreate it with `python tools/train_denoiser.py`.")

    # ----- settings -----------------------------------------------------------------
    def save_photo_settings(self, settings: QSettings) -> None:
        settings.setValue("denoise/noise_kind", self.noise_kind.currentData())
        settings.setValue("denoise/sigma", self.sigma.value())
        settings.setValue("denoise/amount", self.amount.value())
        settings.setValue("denoise/seed", self.seed.value())
        settings.setValue("denoise/methods", [m for m, b in self.method_boxes.items() if b.isChecked()])
        settings.setValue("denoise/view", self.view_combo.currentData())
        settings.setValue("denoise/strength", self.strength_panel.slider.value())

    def restore_photo_settings(self, settings: QSettings) -> None:
        """Raises TypeError / ValueError on settings of another version (the caller keeps the defaults)."""
        index = self.noise_kind.findData(str(settings.value("denoise/noise_kind", "gaussian")))
        if index >= 0:
            self.noise_kind.setCurrentIndex(index)
        self.sigma.setValue(float(settings.value("denoise/sigma", 25.0)))
        self.amount.setValue(float(settings.value("denoise/amount", 5.0)))
        self.seed.setValue(int(settings.value("denoise/seed", 0)))
        methods = settings.value("denoise/methods")
        if methods is not None:
            chosen = {OLD_METHOD_IDS.get(m, m) for m in clean_recent(methods, limit=len(METHODS) + 1)}
            for method, box in self.method_boxes.items():
                box.setChecked(method in chosen and box.isEnabled())
        index = self.view_combo.findData(str(settings.value("denoise/view", "result")))
        self.view_combo.setCurrentIndex(max(0, index))
        self.strength_panel.slider.setValue(int(settings.value("denoise/strength", 100)))  # the slider clamps it


def _spin(box, low, high, value, tip: str):
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box
