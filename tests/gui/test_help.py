"""Help menu: version, the shortcut list (from the window's own actions), the user guide offline, the runs
folder; Ctrl+1..6 switch tabs."""
import tomllib

from gui.common import help_content
from tests.paths import ROOT


def test_ctrl_digits_switch_tabs(window):
    assert len(window.tab_actions) == window.tabs.count() == 6
    for i, action in enumerate(window.tab_actions):
        assert action.shortcut().toString() == f"Ctrl+{i + 1}"
        action.trigger()
        assert window.tabs.currentIndex() == i


def test_the_shortcut_list_is_read_from_the_menus(window):
    rows = dict(help_content.shortcut_rows(window, window._tab_names()))
    assert rows["Ctrl+Return"] == "Train > Start" and rows["Ctrl+E"] == "Model > Export…"
    assert rows["Ctrl+6"] == "Show the Runs tab" and rows["Ctrl+/"] == "Help > Keyboard shortcuts"
    dialog = help_content.shortcuts_dialog(window, window._tab_names())
    table = dialog.findChild(help_content.QTableWidget)
    assert table.rowCount() == len(rows) and table.item(0, 0).text()


def test_the_user_guide_is_the_readme_offline(window):
    dialog = help_content.user_guide_dialog(window)
    text = dialog.findChild(help_content.QTextBrowser).toPlainText()
    assert "Quick start" in text and "make run" in text


def test_about_names_the_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert help_content.app_version() in (version, "(not installed)")


def test_open_the_runs_folder(window, monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr(help_content.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window._open_runs_folder()
    assert opened == [str(window.training_tab.store.root)]


def image_widths(view):
    widths, block = [], view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            if it.fragment().charFormat().isImageFormat():
                widths.append(it.fragment().charFormat().toImageFormat().width())
            it += 1
        block = block.next()
    return widths


def test_the_user_guide_screenshots_fit_the_dialog_width(qtbot, window):
    dialog = help_content.user_guide_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    view = dialog.findChild(help_content.QTextBrowser)
    for size in ((860, 640), (560, 480)):  # as opened, then made narrower
        dialog.resize(*size)
        qtbot.waitUntil(lambda width=size[0]: view.viewport().width() < width)
        qtbot.wait(50)
        widths = image_widths(view)
        assert widths and all(0 < w <= view.viewport().width() for w in widths), widths
        if size == (860, 640):  # narrower, the README's wide command lines scroll (code does not wrap)
            assert view.horizontalScrollBar().maximum() == 0  # no sideways scrolling to see a screenshot
