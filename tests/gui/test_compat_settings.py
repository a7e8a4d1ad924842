"""A settings file written by version 0.1 (tests/fixtures/v0_1/settings.ini) restores the same window."""
import shutil

import pytest
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow
from tests.paths import FIXTURES

V0_1 = FIXTURES / "v0_1"


def test_old_settings_restore_every_tab(qtbot, tmp_path, messages):
    shutil.copy(V0_1 / "settings.ini", tmp_path / "settings.ini")
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    training = window.training_tab
    assert training.model_kind.currentData() == "conv_vae" and training.code_size.value() == 2
    assert training.epochs.value() == 7 and training.learning_rate.value() == pytest.approx(0.002)
    assert training.data_kind.currentData() == "array" and training.data_path.text() == "/data/digits.npz"
    assert window.denoise_tab.sigma.value() == 15.0
    assert window.sampling_tab.refine_steps.value() == 12
    assert window.tabs.currentIndex() == 3
    assert window.anomaly_tab.source.currentData() == "sequence"
    assert window.runs_tab.key.currentData() == "loss"
    window.close()
