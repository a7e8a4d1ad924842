"""The main window as a whole: it opens inside the screen, its status bar speaks for the tab in front."""


def test_window_opens_inside_the_screen(window):
    free = window.screen().availableGeometry()
    # The status bar (last line of the window) must be on screen, e.g. on a 1280x800 laptop.
    assert window.width() <= free.width() and window.height() <= free.height()
    assert window.statusBar().isVisible()


def test_the_status_bar_shows_the_tab_in_fronts_last_message_not_another_tabs(window, qtbot):
    training, runs = window.training_tab, window.runs_tab
    window.tabs.setCurrentWidget(training)
    training.status_changed.emit("Training: epoch 3 of 4 done.")
    window.tabs.setCurrentWidget(runs)
    assert window.status_label.text() == ""  # the Runs tab has said nothing: not the Training tab's words
    runs.status_changed.emit("Deleted run 1.")
    assert window.status_label.text() == "Deleted run 1."
    training.status_changed.emit("Finished 4 epoch(s).")  # news from a tab behind: shown at once
    assert window.status_label.text() == "Finished 4 epoch(s)."
    window.tabs.setCurrentWidget(training)
    window.tabs.setCurrentWidget(runs)
    assert window.status_label.text() == "Deleted run 1."
    window.tabs.setCurrentWidget(training)
    assert window.status_label.text() == "Finished 4 epoch(s)."


def test_train_start_from_another_tab_shows_the_training_tab_and_starts_nothing(window, qtbot):
    window.tabs.setCurrentWidget(window.anomaly_tab)
    window.start_action.trigger()  # Ctrl+Return
    assert window.tabs.currentWidget() is window.training_tab
    assert not window.training_tab.runner.is_running()
    assert "press Start training" in window.status_label.text()


def test_the_main_actions_of_every_tab_stay_visible_at_1280x720(qtbot, window):
    """Pinned below the scrolling settings, not behind them (they were below the fold at 1280x800)."""
    window.resize(1280, 720 - 40)
    for tab, buttons in ((window.training_tab, ("start_button", "stop_button")),
                         (window.denoise_tab, ("denoise_button",)),
                         (window.anomaly_tab, ("train_button", "stop_button", "export_model_button"))):
        window.tabs.setCurrentWidget(tab if tab is not window.anomaly_tab else window._anomaly_page)
        qtbot.wait(50)
        for name in buttons:
            button = getattr(tab, name)
            seen = button.visibleRegion().boundingRect()
            assert seen.height() == button.height() and seen.width() == button.width(), (type(tab).__name__, name)
