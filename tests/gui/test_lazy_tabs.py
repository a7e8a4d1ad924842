"""The Reconstruction, Denoise and Sampling tabs (like Anomaly and Runs) are built when first shown or used, so the
window opens sooner; built late, each one shows what the session holds by then."""

import numpy as np
from PIL import Image

from engine.core.config import TrainConfig
from engine.data.dataset import Dataset
from gui.main_window import MainWindow
from tests.gui.helpers import run_fresh

LAZY = ("_reconstruction_page", "_denoise_page", "_sampling_page", "_anomaly_page", "_runs_page")

OPEN_WINDOW = """
import json, sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.main_window import MainWindow
window = MainWindow(QSettings(sys.argv[1], QSettings.IniFormat))
window.show()
app.processEvents()
print(json.dumps({"built": {name: getattr(window, name).is_built() for name in %r},
                  "imported": sorted(m for m in sys.modules if m.startswith("gui.tabs.") and m.endswith(".tab"))}))
""" % (LAZY,)


def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 12, 12, 1)).astype(np.float32)
    return Dataset(x[:30], x[30:], source="tiny")


def dense_model():
    from engine.models.builders import build_autoencoder
    return build_autoencoder(TrainConfig(code_size=4), (12, 12, 1))


def test_the_window_opens_without_building_or_importing_the_other_tabs(tmp_path):
    """In a fresh process, so that what the window imported is not hidden by what other tests imported."""
    seen = run_fresh(OPEN_WINDOW, str(tmp_path / "settings.ini"), timeout=120)
    assert seen["built"] == {name: False for name in LAZY}
    assert seen["imported"] == ["gui.tabs.training.tab"]


def test_tabs_are_built_when_shown(qtbot, window):
    assert not any(getattr(window, name).is_built() for name in LAZY)
    window.tabs.setCurrentIndex(window.tabs.indexOf(window._denoise_page))
    qtbot.waitUntil(window._denoise_page.is_built)
    assert window.tabs.indexOf(window.denoise_tab) == 2 and window.tabs.tabText(2) == "Denoise"
    assert not window._reconstruction_page.is_built() and not window._sampling_page.is_built()


def test_reconstruction_tab_built_after_the_data_shows_it(qtbot, window):
    window.session.set_dataset(tiny_data())
    assert not window._reconstruction_page.is_built()  # data alone builds nothing
    window.tabs.setCurrentWidget(window._reconstruction_page)
    rec = window.reconstruction_tab
    assert "Data: tiny" in rec.summary.text() and "Train or open a model" in rec.summary.text()


def test_a_model_builds_the_reconstruction_tab_which_reconstructs_it_unasked(qtbot, window):
    """As when the tab was built with the window: the reconstructions are ready before the user looks."""
    window.session.set_dataset(tiny_data())
    model = dense_model()
    window.session.set_model(model, "made for a test")
    assert window._reconstruction_page.is_built() and window.tabs.currentWidget() is window.training_tab
    rec = window.reconstruction_tab
    assert model.name in rec.model_label.text() and "made for a test" in rec.model_label.text()
    qtbot.waitUntil(lambda: rec.recon is not None, timeout=60_000)
    assert len(rec.recon.errors) == 10 and "Mean error" in rec.summary.text()
    assert rec.save_button.isEnabled()
    window.tabs.setCurrentWidget(rec)
    assert rec.shown_indices is not None and rec.grid.grid_shape()[1] > 0
    sampling = window.sampling_tab  # built now, after the model: says why it has nothing to sample
    window.tabs.setCurrentWidget(sampling)
    qtbot.waitUntil(lambda: "made for a test" in sampling.model_label.text(), timeout=10_000)
    assert sampling.message.isVisible() and not sampling.resample_button.isEnabled()


def test_sampling_tab_waits_for_the_other_tabs_jobs_whichever_is_built_first(qtbot, window, settings, messages):
    sampling = window.sampling_tab
    others = (window.reconstruction_tab.runner, window.denoise_tab.runner)
    assert all(runner in sampling._model_users for runner in others)
    second = MainWindow(settings)
    qtbot.addWidget(second)
    others = (second.reconstruction_tab.runner, second.denoise_tab.runner)
    assert all(runner in second.sampling_tab._model_users for runner in others)
    second.close()


def test_file_menu_images_open_in_the_denoise_tab_built_then(qtbot, settings, messages, tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    path = path.resolve()
    settings.setValue("denoise/recent", [str(path)])
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    window._fill_recent_menu()
    window.sample_menu.aboutToShow.emit()
    assert [a.text() for a in window.recent_menu.actions()] == [str(path)]
    assert window.sample_menu.actions() and not window._denoise_page.is_built()  # listed, not built
    window.recent_menu.actions()[0].trigger()
    tab = window.denoise_tab
    assert window.tabs.currentWidget() is window._denoise_page
    qtbot.waitUntil(lambda: tab.image is not None and not tab.runner.is_running(), timeout=30_000)
    assert tab.image.path == path and tab.recent == [str(path)]
    window.close()


def test_a_dropped_image_or_model_builds_the_tab_it_goes_to(qtbot, window, tmp_path):
    from engine.models.files import save_model
    from tests.gui.test_drops import drop

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "p.png")
    assert drop(window, tmp_path / "p.png")
    assert window._denoise_page.is_built() and window.tabs.currentWidget() is window._denoise_page
    qtbot.waitUntil(lambda: window.denoise_tab.image is not None and not window.denoise_tab.runner.is_running(),
                    timeout=30_000)
    save_model(dense_model(), tmp_path / "m.keras")
    assert not window._reconstruction_page.is_built() and drop(window, tmp_path / "m.keras")
    assert window.tabs.currentWidget() is window._reconstruction_page
    qtbot.waitUntil(lambda: window.session.model is not None and "m.keras" in window.session.model_origin,
                    timeout=30_000)
    assert "m.keras" in window.reconstruction_tab.model_label.text()
