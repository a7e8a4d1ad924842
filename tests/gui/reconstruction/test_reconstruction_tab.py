"""The Reconstruction tab on a model trained in the app and on opened files."""
import keras
import numpy as np

from tests.gui.helpers import click, use_array


def trained_window(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=2)
    rec = window.reconstruction_tab
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: rec.recon is not None, timeout=60_000)
    return rec


def test_grid_shows_originals_over_reconstructions_with_errors(qtbot, window, tiny_npz):
    rec = trained_window(qtbot, window, tiny_npz)
    window.tabs.setCurrentWidget(rec)
    r = rec.recon
    first = rec.shown_indices[0]
    np.testing.assert_allclose(rec.grid.shown_image(0, 0), r.targets[first][..., 0], atol=1e-6)
    np.testing.assert_allclose(rec.grid.shown_image(1, 0), r.outputs[first][..., 0], atol=1e-6)
    assert f"err {r.errors[first]:.4f}" in rec.grid.shown_caption(0)
    assert "Mean error" in rec.summary.text()
    np.testing.assert_allclose(rec.histogram.marked(), r.errors[rec.shown_indices], rtol=1e-6)


def test_navigation_and_worst_first(qtbot, window, tiny_npz):
    rec = trained_window(qtbot, window, tiny_npz)
    rec.per_page.setValue(3)
    start = list(rec.shown_indices)
    click(qtbot, rec.next_button)
    assert list(rec.shown_indices) == [3, 4, 5] and start == [0, 1, 2]
    click(qtbot, rec.prev_button)
    assert list(rec.shown_indices) == start
    rec.worst_first.setChecked(True)
    worst = rec.recon.errors[rec.shown_indices]
    assert worst[0] == rec.recon.errors.max() and list(worst) == sorted(worst, reverse=True)
    click(qtbot, rec.random_button)
    assert len(set(rec.shown_indices)) == 3
    n = len(rec.recon.errors)
    assert rec.position.text() == f"3 at random of {n}"
    rec.worst_first.setChecked(False)
    click(qtbot, rec.next_button)
    assert rec.position.text() == f"4–6 of {n}"


def test_a_click_on_the_histogram_shows_the_sample_there(qtbot, window, tiny_npz):
    rec = trained_window(qtbot, window, tiny_npz)
    window.tabs.setCurrentWidget(rec)
    rec.per_page.setValue(2)
    sample = int(np.argmax(rec.recon.errors))
    ax, canvas = rec.histogram.ax, rec.histogram
    canvas.draw()
    x, y = ax.transData.transform((rec.recon.errors[sample], ax.get_ylim()[1] / 2))
    ratio = canvas.device_pixel_ratio or 1
    from PySide6.QtCore import QPoint, Qt

    qtbot.mouseClick(canvas, Qt.LeftButton, pos=QPoint(int(x / ratio), int(canvas.height() - y / ratio)))
    assert sample in rec.shown_indices


def test_typing_more_than_the_maximum_says_so(qtbot, window, tiny_npz):
    rec = trained_window(qtbot, window, tiny_npz)
    said = []
    rec.status_changed.connect(said.append)
    box = rec.per_page
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "40")
    qtbot.keyClick(box, "\r")
    assert box.value() == 20 and said[-1] == "40 is more than the maximum, 20; set to 20."


def test_a_stale_reconstruction_of_the_old_model_says_nothing(qtbot, window, messages, tiny_npz):
    """Data of a new shape arrives just before the model trained on it: the old model's reconstruction of
    the new data fails, but that is not the user's problem; the new model's reconstruction is shown."""
    from engine.core.config import TrainConfig
    from engine.data.dataset import Dataset
    from engine.models.builders import build_autoencoder

    rec = trained_window(qtbot, window, tiny_npz)  # a 12x12 model
    x = np.random.default_rng(0).random((20, 16, 16, 1)).astype(np.float32)
    window.session.set_dataset(Dataset(x[:15], x[15:], source="16x16"))  # starts the old model on it
    assert rec.runner.is_running()
    window.session.set_model(build_autoencoder(TrainConfig(code_size=4), (16, 16, 1)), "trained on 16x16")
    qtbot.waitUntil(lambda: rec.recon is not None and rec.recon.targets.shape[1:] == (16, 16, 1), timeout=60_000)
    assert messages == [] and "Could not" not in rec.summary.text()


def test_save_then_open_model_round_trip(qtbot, window, tiny_npz, tmp_path):
    rec = trained_window(qtbot, window, tiny_npz)
    before = rec.recon.outputs.copy()
    path = tmp_path / "model.keras"
    assert window.training_tab.save_model_to(str(path))
    rec.open_model(str(path))
    qtbot.waitUntil(lambda: rec.recon is not None and "opened from" in window.session.model_origin, timeout=60_000)
    np.testing.assert_allclose(rec.recon.outputs, before, atol=1e-6)


def test_refused_and_broken_model_files_get_a_message(qtbot, window, messages, tmp_path):
    rec = window.reconstruction_tab
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Lambda(lambda t: t + 1)(inputs)).save(tmp_path / "evil.keras")
    (tmp_path / "garbage.keras").write_bytes(b"\x00" * 100)
    for name, expected in (("evil.keras", "Lambda layer"), ("garbage.keras", "not a valid .keras")):
        count = len(messages)
        rec.open_model(str(tmp_path / name))
        qtbot.waitUntil(lambda: len(messages) > count, timeout=60_000)
        assert expected in messages[-1][1]
    assert window.session.model is None and rec.open_button.isEnabled()


def test_model_that_does_not_fit_the_data_is_explained(qtbot, window, messages, tiny_npz, tmp_path):
    trained_window(qtbot, window, tiny_npz)  # data is 12x12
    from engine.core.config import TrainConfig
    from engine.models.files import save_model
    from engine.models.builders import build_autoencoder
    save_model(build_autoencoder(TrainConfig(code_size=4), (28, 28, 1)), tmp_path / "mnist.keras")
    window.reconstruction_tab.open_model(str(tmp_path / "mnist.keras"))
    qtbot.waitUntil(lambda: bool(messages), timeout=60_000)
    assert "takes samples of 28x28x1, but the data has 12x12x1" in messages[-1][1]


def test_opened_model_on_the_users_image_folder_with_noise(qtbot, window, messages, tmp_path):
    """Open a model, point the app at a folder (one file corrupt), add noise: three rows appear."""
    from PIL import Image

    from engine.core.config import TrainConfig
    from engine.models.files import save_model
    from engine.models.builders import build_autoencoder
    from gui.common.forms import set_choice

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray((rng.random((20, 30, 3)) * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    save_model(build_autoencoder(TrainConfig(model_kind="conv", filters=4, code_size=4), (16, 16, 3)),
               tmp_path / "rgb.keras")
    rec = window.reconstruction_tab
    rec.open_model(str(tmp_path / "rgb.keras"))
    tab = window.training_tab
    set_choice(tab.data_kind, "folder")
    tab.data_path.setText(str(folder))
    tab.image_size.setValue(16)
    set_choice(tab.color, "rgb")
    qtbot.waitUntil(lambda: rec.data_button.isEnabled(), timeout=60_000)
    click(qtbot, rec.data_button)
    qtbot.waitUntil(lambda: rec.recon is not None, timeout=60_000)
    assert rec.grid.shown_image(0, 0).shape == (16, 16, 3)
    rec.noise.setValue(0.3)
    qtbot.waitUntil(lambda: rec.recon is not None and rec.recon.inputs is not rec.recon.targets, timeout=60_000)
    assert rec.grid.grid_shape()[0] == 3  # original, noisy input, reconstructed
    assert "1 file(s) skipped" in window.session.dataset.summary()


def test_the_grid_is_as_tall_as_its_images_and_the_histogram_gets_the_rest(qtbot, window):
    from engine.core.config import TrainConfig
    from engine.data.dataset import Dataset
    from engine.models.builders import build_autoencoder

    x = np.random.default_rng(0).random((80, 12, 12, 1)).astype(np.float32)
    window.resize(1280, 760)
    rec = window.reconstruction_tab
    window.tabs.setCurrentWidget(rec)
    window.session.set_dataset(Dataset(x[:60], x[60:], source="tiny"))
    window.session.set_model(build_autoencoder(TrainConfig(code_size=4), (12, 12, 1)), "built for a test")
    qtbot.waitUntil(lambda: rec.recon is not None and rec.grid.grid_shape() == (2, 10), timeout=60_000)

    def fitted():  # 10 columns of 2 rows are as wide as the tab: no empty band above them, none shrunk
        image, box = rec.grid.ax.get_position(), rec.grid.ax.get_position(original=True)
        return (1 - image.y1) * rec.grid.height() <= 16 and image.width >= 0.97 * box.width

    qtbot.waitUntil(fitted, timeout=10_000)
    assert rec.histogram.height() > 0.45 * sum(rec.plots.sizes())  # the height the grid could not use
    rec.per_page.setValue(3)  # 3 columns: taller than wide enough, the grid gets height back
    qtbot.waitUntil(lambda: rec.grid.grid_shape() == (2, 3) and rec.grid.height() >= 0.55 * sum(rec.plots.sizes()),
                    timeout=10_000)


def test_an_unasked_reconstruction_that_fails_says_so_in_its_tab_not_in_a_dialog_over_another(
        qtbot, window, messages):
    from engine.data.dataset import Dataset

    rec = window.reconstruction_tab
    x = np.random.default_rng(0).random((20, 12, 12, 1)).astype(np.float32)
    window.session.set_dataset(Dataset(x[:15], x[15:], source="grey"))
    inputs = keras.Input((12, 12, 3))
    colour = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs), name="colour")
    window.tabs.setCurrentWidget(window.denoise_tab)
    window.session.set_model(colour, "made for a test")  # the Reconstruction tab tries it on the grey data
    qtbot.waitUntil(lambda: "Could not reconstruct" in rec.summary.text(), timeout=60_000)
    assert messages == [] and "12x12x3" in rec.summary.text()
    window.tabs.setCurrentWidget(rec)  # asked on its own tab, it is a dialog
    window.session.set_model(colour, "made for a test, again")
    qtbot.waitUntil(lambda: len(messages) == 1, timeout=60_000)
    assert messages[0][0] == "Could not reconstruct" and "12x12x3" in messages[0][1]
