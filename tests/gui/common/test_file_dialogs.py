"""File dialogs open where that kind of file was last chosen, else in Pictures or Documents: never in the
process's working directory (the source tree)."""
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from gui.common import file_dialogs


def test_the_start_folder_is_the_box_then_the_last_one_then_pictures_or_documents(tmp_path, settings, monkeypatch):
    file_dialogs.use_settings(settings)
    pictures, documents = tmp_path / "Pictures", tmp_path / "Documents"
    pictures.mkdir()
    documents.mkdir()
    where = {file_dialogs.QStandardPaths.StandardLocation.PicturesLocation: str(pictures),
             file_dialogs.QStandardPaths.StandardLocation.DocumentsLocation: str(documents)}
    monkeypatch.setattr(file_dialogs.QStandardPaths, "writableLocation", lambda kind: where[kind])
    assert file_dialogs.start_folder("image") == str(pictures)
    assert file_dialogs.start_folder("model") == str(documents)
    photos = tmp_path / "photos"
    photos.mkdir()
    file_dialogs.remember("image", str(photos / "cat.png"))
    assert file_dialogs.start_folder("image") == str(photos) and file_dialogs.start_folder("model") == str(documents)
    assert settings.value("dialogs/image") == str(photos)  # kept across launches
    data = tmp_path / "data"
    data.mkdir()
    assert file_dialogs.start_folder("image", str(data / "x.npz")) == str(data)  # what is in the box wins
    assert file_dialogs.start_folder("image", "relative.png") == str(photos)  # never the working directory


def test_open_model_starts_in_the_last_model_folder(window, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    file_dialogs.remember("model", str(models / "old.keras"))
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, title, folder, filters: asked.append(folder) or ("", "")))
    window.reconstruction_tab.open_model_dialog()
    assert asked == [str(models)] and Path(asked[0]) != Path.cwd()
