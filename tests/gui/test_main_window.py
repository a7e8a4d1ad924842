"""The main window as a whole: it opens inside the screen."""


def test_window_opens_inside_the_screen(window):
    free = window.screen().availableGeometry()
    # The status bar (last line of the window) must be on screen, e.g. on a 1280x800 laptop.
    assert window.width() <= free.width() and window.height() <= free.height()
    assert window.statusBar().isVisible()


def test_train_start_from_another_tab_shows_the_training_tab_and_starts_nothing(window, qtbot):
    window.tabs.setCurrentWidget(window.anomaly_tab)
    window.start_action.trigger()  # Ctrl+Return
    assert window.tabs.currentWidget() is window.training_tab
    assert not window.training_tab.runner.is_running()
    assert "press Start training" in window.status_label.text()
