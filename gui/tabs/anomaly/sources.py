"""The Anomaly tab's data box: the source and, for the chosen one, its file, folders, digits or windows."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout,
                               QWidget)

from engine.anomaly.data import SOURCE_LABELS, AnomalySpec
from engine.core.errors import ConfigError
from gui.common import file_dialogs
from gui.common.forms import choice_combo, set_choice
from gui.tabs.anomaly.table_chooser import TableChooser

PAGES = ("synthetic", "table", "mnist", "folders", "sequence")


class AnomalySourceBox(QGroupBox):
    """`source` picks the page shown; `spec(seed)` is the engine's AnomalySpec for what is entered."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Data (the detector trains on normal samples only)", parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.source = choice_combo(SOURCE_LABELS, "synthetic")
        self.table_chooser = TableChooser()
        self.sequence_chooser = TableChooser(one_hot=False, label_help="A column marking anomalous time steps "
                                             "(two values). Optional: gives ROC curves over windows.")
        # one page per source; only the chosen one is shown (and takes room)
        self.pages = [self._synthetic_page(), self.table_chooser, self._mnist_page(), self._folders_page(),
                      self._sequence_page()]
        column = QVBoxLayout(self)
        column.addWidget(self.source)
        for page in self.pages:
            column.addWidget(page)
        self.show_source(self.source.currentData())

    def show_source(self, source: str) -> None:
        for name, page in zip(PAGES, self.pages):
            page.setVisible(name == source)

    def _synthetic_page(self) -> QWidget:
        label = QLabel("The seed deck's demo: 1000 normal rows drawn from N(0, 1) and 50 anomalies from N(5, 1), "
                       "10 columns, with labels. Train on the normal rows, score all 1050.")
        label.setWordWrap(True)
        return label

    def _mnist_page(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.addWidget(QLabel("Normal digits (trained on); the others are anomalies:"), 0, 0, 1, 5)
        self.digit_boxes = []
        for d in range(10):
            box = QCheckBox(str(d))
            box.setChecked(d == 0)
            self.digit_boxes.append(box)
            grid.addWidget(box, 1 + d // 5, d % 5)
        note = QLabel("Scores the MNIST test set. The full set is used when it is in Keras' cache; "
                      "otherwise the built-in subset.")
        note.setWordWrap(True)
        grid.addWidget(note, 3, 0, 1, 5)
        return page

    def _folders_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        self.normal_folder = QLineEdit()
        self.score_folder = QLineEdit()
        self.score_folder.setToolTip("Images to score. Subfolders named good/normal (normal) and others "
                                     "(anomalous) give labels, as in the MVTec AD layout.")
        for label, edit in (("Normal images", self.normal_folder), ("Images to score", self.score_folder)):
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda _=False, e=edit: self._browse_folder(e))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
        self.image_size = QSpinBox()
        self.image_size.setRange(4, 512)
        self.image_size.setValue(64)
        self.image_size.setToolTip("Images are resized to this many pixels a side.")
        self.color = choice_combo({"grey": "Grey", "rgb": "Colour (RGB)"}, "grey")
        form.addRow("Image size", self.image_size)
        form.addRow("Colour", self.color)
        return page

    def _sequence_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sequence_chooser)
        form = QFormLayout()
        self.window = QSpinBox()
        self.window.setRange(4, 4096)
        self.window.setValue(32)
        self.window.setToolTip("Steps per window; each window is one sample of the autoencoder.")
        self.stride = QSpinBox()
        self.stride.setRange(1, 4096)
        self.stride.setValue(1)
        self.stride.setToolTip("Steps between the starts of consecutive windows.")
        self.train_share = QDoubleSpinBox()
        self.train_share.setRange(0.05, 1.0)
        self.train_share.setSingleStep(0.05)
        self.train_share.setValue(0.5)
        self.train_share.setToolTip("The first part of the series is assumed normal and trained on.")
        form.addRow("Window (steps)", self.window)
        form.addRow("Step between windows", self.stride)
        form.addRow("Train on the first", self.train_share)
        column.addLayout(form)
        return page

    def spec(self, seed: int = 0) -> AnomalySpec:
        source = self.source.currentData()
        chooser = self.sequence_chooser if source == "sequence" else self.table_chooser
        path = {"table": self.table_chooser.path.text().strip(), "sequence": self.sequence_chooser.path.text().strip(),
                "folders": self.normal_folder.text().strip()}.get(source, "")
        if source in ("table", "sequence") and chooser.problem():
            raise ConfigError(chooser.problem())
        features = chooser.features() if source in ("table", "sequence") else ()
        return AnomalySpec(source=source, path=path, score_path=self.score_folder.text().strip(), features=features,
                           label=chooser.label_column() if source in ("table", "sequence") else "",
                           one_hot=self.table_chooser.one_hot.isChecked(), impute=chooser.impute.isChecked(),
                           digits=tuple(d for d, box in enumerate(self.digit_boxes) if box.isChecked()),
                           image_size=self.image_size.value(), color=self.color.currentData(),
                           window=self.window.value(), stride=self.stride.value(),
                           train_share=self.train_share.value(), seed=seed)

    @Slot()
    def _browse_folder(self, edit: QLineEdit) -> None:
        path = file_dialogs.folder(self, "Choose a folder of images", "data", edit.text())
        if path:
            edit.setText(path)

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("anomaly/source", self.source.currentData())
        settings.setValue("anomaly/paths", {"table": self.table_chooser.path.text(),
                                            "sequence": self.sequence_chooser.path.text(),
                                            "normal": self.normal_folder.text(), "score": self.score_folder.text()})
        settings.setValue("anomaly/columns", {name: {"features": list(c.features()), "label": c.label_column()}
                                              for name, c in (("table", self.table_chooser),
                                                              ("sequence", self.sequence_chooser))})

    def restore_settings(self, settings: QSettings) -> None:
        set_choice(self.source, str(settings.value("anomaly/source", "synthetic")))
        paths = settings.value("anomaly/paths")
        if isinstance(paths, dict):
            columns = settings.value("anomaly/columns")
            columns = columns if isinstance(columns, dict) else {}
            source = self.source.currentData()
            for name, chooser in (("table", self.table_chooser), ("sequence", self.sequence_chooser)):
                saved = columns.get(name) if isinstance(columns.get(name), dict) else {}
                features = tuple(str(f) for f in saved.get("features") or ())
                path = str(paths.get(name, ""))
                # read again now; the other one when its source is chosen
                chooser.restore(path, features, str(saved.get("label") or ""), read=name == source)
            self.normal_folder.setText(str(paths.get("normal", "")))
            self.score_folder.setText(str(paths.get("score", "")))
