"""Before any Qt import: can this machine show a window? On Linux Qt aborts the process (exit 134, "no Qt
platform plugin could be initialized. Reinstalling the application may fix this problem") when there is
no display (over SSH) or when X11 lacks libxcb-cursor0, which Qt 6.5+ needs and not every desktop has.
Say instead what is missing and how to get it. No Qt import here."""
from __future__ import annotations

import ctypes.util
import os
import sys
from typing import Callable, Mapping

HEADLESS_HINT = ("For headless work use the command line: python main.py train|denoise|score|export --help "
                 "(see the README's command-line section).")
XCB_CURSOR_HINT = ("Install it: sudo apt install libxcb-cursor0 (Debian, Ubuntu), sudo dnf install xcb-util-cursor "
                   "(Fedora), sudo pacman -S xcb-util-cursor (Arch), then start the app again.")


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    find_library: Callable[[str], str | None] = ctypes.util.find_library) -> str | None:
    """Why Qt could not open a window here, with what to do; None when it can (or when we cannot tell)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen and chosen not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, vnc, eglfs, ...: the user chose a platform that needs no desktop
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if chosen == "xcb" and not x11 or chosen.startswith("wayland") and not wayland or not (x11 or wayland):
        return ("Autoencoder Studio cannot open its window: there is no graphical display here (DISPLAY and "
                "WAYLAND_DISPLAY are not set, as over SSH). Run it on a desktop, or over ssh -X, or under "
                f"xvfb-run. {HEADLESS_HINT}")
    uses_x11 = chosen == "xcb" or (not chosen and x11 and not wayland)
    if uses_x11 and find_library("xcb-cursor") is None:
        return ("Autoencoder Studio cannot open its window: Qt needs the system library libxcb-cursor0 to draw "
                f"on X11, and this machine does not have it. {XCB_CURSOR_HINT} {HEADLESS_HINT}")
    return None
