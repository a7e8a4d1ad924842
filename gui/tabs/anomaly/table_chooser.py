"""Choose a CSV/TSV file, its feature columns and an optional label column."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QWidget)

from gui.common import file_dialogs

TABLE_FILTER = "Tables (*.csv *.tsv *.txt);;All files (*)"
NO_LABEL = "(none)"


class TableChooser(QWidget):
    """Path, a checkable column list and a label combo; the tab reads the file (in a worker) and calls
    set_table() with an engine.data.tables.Table."""

    path_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, label_help: str = "", one_hot: bool = True):
        super().__init__(parent)
        self.path = QLineEdit()
        self.path.setPlaceholderText("a .csv or .tsv file")
        self.path.editingFinished.connect(self._on_path_edited)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.columns = QListWidget()
        self.columns.setMaximumHeight(130)
        self.columns.setToolTip("Tick the columns to use as features. Text columns are left out unless "
                                "One-hot encode is ticked.")
        self.label = QComboBox()
        self.label.addItem(NO_LABEL, "")
        self.label.currentIndexChanged.connect(self._mark_label)
        self.label.setToolTip(label_help or "A column saying which rows are anomalous (two values). Optional: "
                              "with it you get ROC and precision-recall curves.")
        self.one_hot = QCheckBox("One-hot encode text columns")
        self.one_hot.setVisible(one_hot)
        self.impute = QCheckBox("Impute missing values (column median)")
        self.info = QLabel("Choose a file to see its columns.")
        self.info.setWordWrap(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("File", row)
        form.addRow("Columns", self.columns)
        form.addRow("Label column", self.label)
        form.addRow(self.one_hot)
        form.addRow(self.impute)
        form.addRow(self.info)
        self._loaded = ""
        self._wanted: tuple[tuple[str, ...], str] | None = None  # restored ticks and label, for set_table
        self._error = ""  # why the file could not be read

    @Slot()
    def _browse(self) -> None:
        path = file_dialogs.open_file(self, "Choose a table", "table", TABLE_FILTER, self.path.text())
        if path:
            self.path.setText(path)
            self._on_path_edited()

    @Slot()
    def _on_path_edited(self) -> None:
        path = self.path.text().strip()
        if path and path != self._loaded:
            self._error = ""
            self.info.setText("Reading the columns…")
            self.path_chosen.emit(path)

    def set_table(self, table, path: str, skip_index: bool = False) -> None:
        """Fill the lists from a read engine.data.tables.Table (numeric columns ticked; with `skip_index`, not
        the columns that only increase, such as a time stamp)."""
        self._loaded, self._error = path, ""
        ordered = set(table.index_columns()) if skip_index else set()
        numeric = set(table.numeric_columns()) - ordered
        self.columns.clear()
        current_label = self.label.currentData()
        self.label.clear()
        self.label.addItem(NO_LABEL, "")
        for name in table.names:
            item = QListWidgetItem(name if name in numeric else f"{name}  ({'index' if name in ordered else 'text'})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in numeric else Qt.CheckState.Unchecked)
            self.columns.addItem(item)
            self.label.addItem(name, name)
        index = self.label.findData(current_label)
        self.label.setCurrentIndex(max(0, index))
        if self._wanted is not None and self._wanted[0]:  # what the user had ticked before quitting
            self.set_checked(self._wanted[0])
            self.set_label(self._wanted[1])
        self._wanted = None
        self._mark_label()
        header = "with a header" if table.has_header else "no header row"
        text = f"{table.n_rows} rows, {len(table.names)} columns ({len(numeric) + len(ordered)} numeric), {header}."
        if ordered:
            text += f" Left unticked: {', '.join(sorted(ordered))} (only increases: a time or row index, not a signal)."
        self.info.setText(text)

    def restore(self, path: str, features: tuple[str, ...], label: str, read: bool = True) -> None:
        """A saved choice: the path, read again (path_chosen) now or by read() later, then the saved ticks
        and label once it is."""
        self.path.setText(path)
        self._wanted = (tuple(features), label)
        if read:
            self.read()

    def read(self) -> None:
        """Ask for the file's columns (path_chosen) unless they are already shown."""
        self._on_path_edited()

    @Slot()
    def _mark_label(self) -> None:
        """The label column is never a feature: unticked and not tickable while it is the label."""
        label = self.label_column()
        for i in range(self.columns.count()):
            item = self.columns.item(i)
            is_label = bool(label) and item.data(Qt.ItemDataRole.UserRole) == label
            flags = item.flags()
            if is_label:
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setFlags(flags & ~Qt.ItemFlag.ItemIsUserCheckable & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("The label column: it says which rows are anomalous, so it is not a feature.")
            elif not flags & Qt.ItemFlag.ItemIsEnabled:
                item.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("")

    def problem(self) -> str | None:
        """Why no model can train on what is shown (nothing is ever trained on columns the user cannot see)."""
        path = self.path.text().strip()
        if not path:
            return None  # the engine says a file is needed
        if self._error:
            return self._error
        if not self.columns.count() or self._loaded != path:
            return (f"The columns of {path} have not been read yet. Press Enter in the File box (or choose the "
                    "file with Browse), tick the columns to use, then train.")
        if not self.features():
            return "No column is ticked: tick the columns the model should learn from."
        return None

    def show_error(self, message: str) -> None:
        self._loaded, self._error = "", message
        self.info.setText(message)

    def features(self) -> tuple[str, ...]:
        return tuple(self.columns.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.columns.count())
                     if self.columns.item(i).checkState() == Qt.CheckState.Checked)

    def label_column(self) -> str:
        return self.label.currentData() or ""

    def set_checked(self, names) -> None:
        wanted = set(names)
        for i in range(self.columns.count()):
            item = self.columns.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in wanted
                               else Qt.CheckState.Unchecked)

    def set_label(self, name: str) -> None:
        self.label.setCurrentIndex(max(0, self.label.findData(name)))
