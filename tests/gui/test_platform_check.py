"""Before Qt starts: no display, or X11 without libxcb-cursor0, is said in words (Qt would abort)."""
import subprocess
import sys

import pytest

from gui.platform_check import display_problem
from tests.paths import ROOT

HAS = {"xcb-cursor": "libxcb-cursor.so.0"}


def find(present):
    return lambda name: present.get(name)


@pytest.mark.parametrize("env, present, words", [
    ({}, HAS, "no graphical display"),  # over SSH
    ({"DISPLAY": ":0"}, {}, "libxcb-cursor0"),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, HAS, "no graphical display"),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, HAS, "no graphical display"),
])
def test_what_qt_would_abort_on_is_explained(env, present, words):
    problem = display_problem(env, "linux", find(present))
    assert words in problem and "python main.py train" in problem


@pytest.mark.parametrize("env, present, platform", [
    ({"DISPLAY": ":0"}, HAS, "linux"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, {}, "linux"),  # Wayland needs no xcb-cursor
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "w"}, {}, "linux"),
    ({"QT_QPA_PLATFORM": "offscreen"}, {}, "linux"),
    ({}, {}, "darwin"), ({}, {}, "win32"),
])
def test_a_usable_platform_passes(env, present, platform):
    assert display_problem(env, platform, find(present)) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux displays")
def test_the_app_without_a_display_exits_1_with_the_reason():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}  # no DISPLAY, no WAYLAND_DISPLAY, no QT_QPA_PLATFORM
    done = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "no graphical display" in done.stderr and "Reinstalling" not in done.stderr
