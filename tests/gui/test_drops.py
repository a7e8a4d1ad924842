"""A file dropped anywhere on the window goes to the tab that uses it."""
import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent


def drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    return event.isAccepted()


def test_each_kind_of_file_goes_where_it_belongs(qtbot, window, tmp_path):
    from engine.core.config import TrainConfig
    from engine.models.builders import build_autoencoder
    from engine.models.files import save_model

    window.tabs.setCurrentWidget(window.sampling_tab)  # dropped on another tab
    np.save(tmp_path / "x.npy", np.zeros((10, 4, 4), np.float32))
    assert drop(window, tmp_path / "x.npy")
    tab = window.training_tab
    assert window.tabs.currentWidget() is tab and tab.data_kind.currentData() == "array"
    assert tab.data_path.text() == str(tmp_path / "x.npy")
    assert drop(window, tmp_path)  # a folder of images
    assert tab.data_kind.currentData() == "folder" and tab.data_path.text() == str(tmp_path)

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "p.png")
    with qtbot.waitSignal(window.denoise_tab.runner.finished, timeout=30_000):
        assert drop(window, tmp_path / "p.png")
    assert window.tabs.currentIndex() == window.tabs.indexOf(window.denoise_tab)  # its page, built when shown
    assert window.denoise_tab.image is not None

    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n5,7\n")
    assert drop(window, tmp_path / "t.csv")
    anomaly = window.anomaly_tab
    qtbot.waitUntil(lambda: anomaly.table_chooser.columns.count() == 2, timeout=30_000)
    assert window.tabs.currentWidget() is window._anomaly_page and anomaly.source.currentData() == "table"

    save_model(build_autoencoder(TrainConfig(code_size=2), (4, 4, 1)), tmp_path / "m.keras")
    assert drop(window, tmp_path / "m.keras")
    assert window.tabs.currentIndex() == window.tabs.indexOf(window.reconstruction_tab)
    qtbot.waitUntil(lambda: window.session.model is not None and "m.keras" in window.session.model_origin,
                    timeout=30_000)


def test_a_file_the_app_does_not_take_is_refused_with_a_message(window, tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    assert not drop(window, tmp_path / "notes.docx")
    assert "not a file the app opens" in window.status_label.text()
