"""Click through the Training tab as a user would, on tiny data."""
import numpy as np
import pytest

from engine.core.events import EpochEnded
from gui.common.forms import set_choice
from tests.gui.helpers import click, use_array


def test_start_streams_loss_curve_and_previews(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=3)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
        assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    xs, ys = tab.loss_plot.line_data("loss")
    assert list(xs) == [1, 2, 3] and np.all(np.isfinite(ys))
    assert len(tab.loss_plot.line_data("val_loss")[1]) == 3
    assert len(tab.loss_plot.line_data("batch")[1]) >= 1
    shown = tab.preview.shown_image(0, 0)
    assert shown.shape == (12, 12) and shown.std() > 0  # an original digit-like image, not blank
    assert window.session.model is not None
    assert "Finished 3 epoch(s)" in window.status_label.text()
    assert tab.progress.value() == tab.progress.maximum()
    assert tab.progress.format().startswith("done, 3 epoch(s)") and "left" not in tab.progress.text()
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled() and tab.save_button.isEnabled()


def test_stop_keeps_best_model_and_app_stays_usable(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=2000, kind="conv")
    epochs = []
    tab.runner.event_emitted.connect(lambda e: epochs.append(e) if isinstance(e, EpochEnded) else None)
    click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=120_000)
    with qtbot.waitSignal(tab.runner.finished, timeout=20_000):
        click(qtbot, tab.stop_button)
    assert "Stopped by you" in window.status_label.text()
    assert window.session.model is not None
    assert tab.start_button.isEnabled()
    # The bar says it stopped, after how many epochs; no countdown left over from the run.
    done = len(tab.loss_plot.line_data("loss")[0])
    assert tab.progress.text().startswith(f"stopped after {done} epoch(s)") and "left" not in tab.progress.text()
    # The model in use is the best epoch's, not the weights the stop interrupted mid-epoch.
    val = tab.loss_plot.line_data("val_loss")[1]
    assert val_bce(window.session.model, window.session.dataset.x_val) == pytest.approx(min(val), rel=1e-4)


def val_bce(model, x):
    out = np.clip(np.asarray(model(x, training=False), np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(x * np.log(out) + (1 - x) * np.log(1 - out))))


def test_start_twice_runs_one_job(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=2)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
        tab.start()  # e.g. the menu shortcut while the button is disabled
        assert "already running" in window.status_label.text()
        assert not tab.batch_size.isEnabled() and not tab.model_kind.isEnabled()  # locked while it trains
        assert tab.epochs.isEnabled() and tab.learning_rate.isEnabled()  # but for what a run can change
        assert tab.code_size_label.isEnabled() and tab.data_info.isEnabled()  # words stay readable
    assert tab.epochs.isEnabled() and tab.model_kind.isEnabled()  # and free again after
    assert tab.filters.isEnabled() == (tab.model_kind.currentData() in ("conv", "residual"))  # own rules kept


def test_close_mid_training_stops_cleanly(qtbot, settings, messages, tiny_npz):
    from gui.main_window import MainWindow
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    tab = win.training_tab
    use_array(tab, tiny_npz, epochs=5000)
    got_epoch = []
    tab.runner.event_emitted.connect(lambda e: got_epoch.append(1) if isinstance(e, EpochEnded) else None)
    click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: bool(got_epoch), timeout=120_000)
    win.close()
    assert not tab.runner.is_running()  # the dangling-thread fixture checks the thread too


@pytest.mark.parametrize("name, content, expected", [
    ("missing.npz", None, "missing.npz"),
    ("text.npz", b"hello", "not a NumPy"),
    ("objects.npy", "pickle", "pickled Python objects"),
    ("", None, "Choose a file"),
])
def test_bad_data_gets_a_message_and_app_stays_usable(qtbot, window, messages, tmp_path, tiny_npz, name, content,
                                                      expected):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=1)
    if content == "pickle":
        np.save(tmp_path / name, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif content is not None:
        (tmp_path / name).write_bytes(content)
    tab.data_path.setText(str(tmp_path / name) if name else "")
    click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: bool(messages), timeout=60_000)
    assert expected in messages[-1][1]
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=10_000)
    use_array(tab, tiny_npz, epochs=1)  # fix the input and train: the app still works
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    assert window.session.model is not None


def test_diverging_loss_reports_nan(qtbot, window, messages, tmp_path, monkeypatch):
    from engine.data import arrays
    from engine.data.dataset import Dataset

    x = np.random.default_rng(0).random((40, 6)).astype(np.float32) * 1e20  # unscaled data overflows the loss
    monkeypatch.setattr(arrays, "load_array_file", lambda *a, **k: Dataset(x[:30], x[30:], source="huge"))
    np.save(tmp_path / "huge.npy", x)
    tab = window.training_tab
    use_array(tab, tmp_path / "huge.npy", epochs=2)
    set_choice(tab.loss, "mse")
    tab.learning_rate.setValue(10.0)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    assert any("Lower the learning rate" in text for _title, text in messages)
    assert tab.start_button.isEnabled()
    assert tab.progress.text().startswith("failed")


def test_settings_persist_between_sessions(qtbot, settings, messages):
    from gui.main_window import MainWindow
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    set_choice(first.training_tab.model_kind, "sparse")
    first.training_tab.epochs.setValue(17)
    first.training_tab.learning_rate.setValue(0.0005)
    first.resize(760, 590)  # inside the offscreen screen (800x600), which restoreGeometry clamps to
    saved = first.size()
    assert saved.width() != 1280  # not the default size
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert second.training_tab.model_kind.currentData() == "sparse"
    assert second.training_tab.epochs.value() == 17
    assert second.training_tab.learning_rate.value() == pytest.approx(0.0005)
    assert second.size() == saved


def test_training_on_an_image_folder_lists_skipped_files(qtbot, window, messages, tmp_path):
    from PIL import Image
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(8):
        Image.fromarray((rng.random((40, 25)) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    (folder / "empty.png").write_bytes(b"")
    tab = window.training_tab
    set_choice(tab.data_kind, "folder")
    tab.data_path.setText(str(folder))
    tab.image_size.setValue(16)
    tab.epochs.setValue(1)
    tab.batch_size.setValue(4)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    assert window.session.model is not None
    assert window.session.model.input_shape == (None, 16, 16, 1)
    assert any("empty.png" in text for _title, text in messages)
    assert "16x16x1" in tab.data_info.text()


def test_train_a_denoiser_on_my_photos(qtbot, window, messages, tmp_path):
    """Folder of clean photos -> patches -> residual denoiser, with the same live curves."""
    from PIL import Image
    folder = tmp_path / "clean"
    folder.mkdir()
    yy, xx = np.mgrid[0:48, 0:64]
    for i in range(3):
        Image.fromarray(((0.5 + 0.4 * np.sin(xx / (4 + i))) * 255).astype(np.uint8)).save(folder / f"c{i}.png")
    tab = window.training_tab
    set_choice(tab.data_kind, "patches")
    tab.data_path.setText(str(folder))
    tab.image_size.setValue(20)
    set_choice(tab.model_kind, "residual")
    assert tab.denoising.isChecked() and tab.loss.currentData() == "mse"  # set up for the user
    tab.depth.setValue(4)
    tab.filters.setValue(8)
    tab.epochs.setValue(2)
    tab.batch_size.setValue(8)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    assert not messages, messages
    assert len(tab.loss_plot.line_data("val_loss")[1]) == 2
    assert tab.preview.grid_shape()[0] == 3  # original, noisy input, reconstructed
    assert window.session.model.input_shape == (None, None, None, 1)


@pytest.mark.parametrize("kind, beta, prior, latent", [
    ("dense", False, False, False), ("conv", False, False, False), ("vae", True, False, True),
    ("conv_vae", True, False, True), ("aae", False, True, True)])
def test_beta_and_prior_are_enabled_for_their_kinds(window, kind, beta, prior, latent):
    tab = window.training_tab
    set_choice(tab.model_kind, kind)
    assert tab.beta.isEnabled() == beta
    assert tab.prior.isEnabled() == prior
    assert tab.code_size_label.text() == ("Latent size" if latent else "Code size")
    assert tab.code_size.maximum() == (256 if latent else 4096)
    if beta:  # a VAE's loss is the ELBO: binary cross-entropy, not a choice
        assert tab.loss.currentData() == "bce" and not tab.loss.isEnabled()
    else:
        assert tab.loss.isEnabled()
    assert tab.train_config().model_kind == kind  # the settings make a valid config


def test_generative_settings_round_trip(qtbot, window, settings, messages):
    from engine.core.config import TrainConfig
    from gui.main_window import MainWindow
    tab = window.training_tab
    tab.apply_config(TrainConfig(model_kind="vae", code_size=2, beta=0.25))
    config = tab.train_config()
    assert (config.model_kind, config.code_size, config.beta) == ("vae", 2, 0.25)
    set_choice(tab.model_kind, "aae")
    set_choice(tab.prior, "mixture")
    set_choice(tab.loss, "mse")
    tab.code_size.setValue(3)
    assert tab.train_config().prior == "mixture"
    window.close()  # saves the settings
    again = MainWindow(settings)
    qtbot.addWidget(again)
    restored = again.training_tab.train_config()
    assert (restored.model_kind, restored.prior, restored.code_size, restored.beta, restored.loss) == \
        ("aae", "mixture", 3, 0.25, "mse")
    assert again.training_tab.prior.isEnabled() and not again.training_tab.beta.isEnabled()
    again.close()


def test_trained_vae_streams_its_terms_and_becomes_the_session_model(qtbot, window, tiny_npz):
    from engine.latent import codes as latent
    from engine.models import guards

    window.resize(1280, 760)  # a laptop-sized window (the offscreen screen is only 800x600)
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=2, kind="vae")
    tab.code_size.setValue(2)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    for name in ("loss", "val_loss", "reconstruction", "val_reconstruction", "kl", "val_kl"):
        assert len(tab.loss_plot.line_data(name)[1]) == 2, name
    plot = tab.loss_plot
    kl = plot._extra["kl"]
    assert kl.axes is plot.ax2 and plot._extra["reconstruction"].axes is plot.ax  # KL on its own scale
    plot.draw()  # limits follow the data at the next draw
    low, high = plot.ax2.get_ylim()
    assert low <= min(plot.line_data("kl")[1]) and max(plot.line_data("kl")[1]) <= high
    legend = plot.legend_texts()
    assert {"reconstruction", "validation reconstruction", "KL (right axis)", "validation KL (right axis)"} \
        <= set(legend)
    assert plot.ax.get_legend() is None and plot.ax2.get_legend() is None  # eight entries: under the plot
    assert guards.is_generative(window.session.model) and latent.latent_dim(window.session.model) == 2
    plot.reset("next run")  # a plain run after it has no right axis
    assert plot.ax2 is None and len(plot.figure.axes) == 1 and plot.legend_texts() == []


def test_the_idle_hint_names_the_data_start_will_use(qtbot, window):
    tab = window.training_tab
    set_choice(tab.data_kind, "folder")
    assert "Folder of my images" in tab.progress_label.text() and "MNIST" not in tab.progress_label.text()
