"""The main window as a whole: it opens inside the screen."""


def test_window_opens_inside_the_screen(window):
    free = window.screen().availableGeometry()
    # The status bar (last line of the window) must be on screen, e.g. on a 1280x800 laptop.
    assert window.width() <= free.width() and window.height() <= free.height()
    assert window.statusBar().isVisible()
