"""The plumbing of tools/walkthrough.py: Xvfb, the app under a temporary HOME, xdotool input, screenshots
and the screen probes that read the app's state from pixels.

`Session` owns the processes (Xvfb, the app), the temporary folder and the X input; the probes
(`enabled`, `bar_fill`, `dark_share`, `colour_pixels`, `changed`, `find_row`) are pure functions of a
grabbed image and a box (x0, y0, x1, y1, window coordinates). The tab-by-tab steps, the per-tab coordinate
map and the command line live in tools/walkthrough.py; only the window's frame (its size, the tab bar and
where the pointer rests) is here, because `Session` needs it.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageGrab

ROOT = Path(__file__).resolve().parents[1]
APP_TITLE = "Autoencoder Studio"
SCREEN = (1280, 800)
WINDOW = (1280, 760)  # the app's default size on a 1280x800 screen (MainWindow._fit_to_screen)

# ----- the window's frame (window coordinates; x, y are click points); the per-tab map is in walkthrough.py ---
TABS = {"Training": (35, 32), "Reconstruction": (128, 32), "Denoise": (222, 32), "Sampling": (299, 32),
        "Anomaly detection": (408, 32), "Runs": (503, 32)}
NEUTRAL = (1275, 795)  # below the window: the pointer rests here so no tooltip covers a shot


class StepFailed(RuntimeError):
    """A step of the walkthrough did not go as a user would expect (the message says what)."""


# ----- screen probes --------------------------------------------------------------------------------
def grey(img: Image.Image, box) -> np.ndarray:
    """The box of the image in grey levels (0-255), as int16 so differences do not wrap."""
    x0, y0, x1, y1 = box
    return np.asarray(img.convert("L"))[y0:y1, x0:x1].astype(np.int16)


def enabled(img: Image.Image, box) -> bool:
    """A push button's text is black when enabled, grey (about 190) when disabled."""
    return int((grey(img, box) < 100).sum()) >= 15


def bar_fill(img: Image.Image, bar) -> float:
    """The share of a progress bar's row drawn in the highlight blue (a busy bar, striped, counts as full)."""
    x0, x1, y = bar
    row = np.asarray(img.convert("RGB"))[y, x0:x1].astype(np.int16)
    blue = (row[:, 2] - row[:, 0] > 80)
    return float(blue.mean())


def dark_share(img: Image.Image, box, level=60) -> float:
    """The share of the box darker than `level` (digits, drawn images)."""
    return float((grey(img, box) < level).mean())


def colour_pixels(img: Image.Image, box) -> int:
    """How many pixels of the box are clearly coloured (plot lines, markers, a photograph)."""
    x0, y0, x1, y1 = box
    a = np.asarray(img.convert("RGB"))[y0:y1, x0:x1].astype(np.int16)
    return int(((a.max(axis=2) - a.min(axis=2)) > 60).sum())


def changed(a: Image.Image, b: Image.Image, box) -> float:
    """The mean grey-level difference between two grabs inside the box."""
    return float(np.abs(grey(a, box) - grey(b, box)).mean())


def find_row(ref: Image.Image, cur: Image.Image, box, search=150) -> int:
    """How far (pixels, down positive) the text in `box` of `ref` has moved in `cur`."""
    template = grey(ref, box)
    x0, y0, x1, y1 = box
    page = np.asarray(cur.convert("L")).astype(np.int16)
    best = (1e9, 0)
    for dy in range(-search, search + 1):
        if y0 + dy < 0 or y1 + dy > page.shape[0]:
            continue
        diff = float(np.abs(page[y0 + dy:y1 + dy, x0:x1] - template).mean())
        best = min(best, (diff, dy))
    if best[0] > 6:
        raise StepFailed(f"could not find the form row at {box} again (best difference {best[0]:.1f}): "
                         "the Training tab's layout differs from tools/walkthrough.py's map")
    return best[1]


def center(box) -> tuple[int, int]:
    """The middle of a box, as a click point."""
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


# ----- the display, the app and the input ---------------------------------------------------------------
def free_display(start: int) -> int:
    """The first X display number from `start` with neither a lock file nor a socket."""
    for n in range(start, start + 100):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise StepFailed("no free X display number")


class Session:
    """One walkthrough: Xvfb, the app under a temporary HOME, the X input, the waits and the shots.

    Shots are staged in the temporary folder; tools/walkthrough.py moves them to --out when every step passed.
    """

    def __init__(self, args):
        self.args = args
        self.slow = args.slow
        self.t0 = time.monotonic()
        self.temp = Path(tempfile.mkdtemp(prefix="aes-walkthrough-"))
        self.out = (ROOT / args.out).resolve() if not Path(args.out).is_absolute() else Path(args.out)
        self.stage = self.temp / "shots"
        self.stage.mkdir()
        self.shots: list[Path] = []
        self.files: list = []
        self.xvfb = self.app = None
        self.log = self.temp / "app.log"
        self.display = ""
        self.window = ""
        self.ref: Image.Image | None = None  # the Training tab as first shown: row templates come from it
        self.step_name = "start"

    # --- plumbing
    def output(self, name: str):
        """A log file in the temporary folder, closed at the end."""
        handle = (self.temp / name).open("w")
        self.files.append(handle)
        return handle

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    def xdo(self, *args: str, check=True) -> str:
        result = subprocess.run(["xdotool", *args], env=self.xenv, capture_output=True, text=True, timeout=30,
                                check=False)
        if check and result.returncode != 0:
            raise StepFailed(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    @property
    def xenv(self) -> dict:
        return {**os.environ, "DISPLAY": self.display}

    def grab(self) -> Image.Image:
        return ImageGrab.grab(xdisplay=self.display)

    def start_xvfb(self) -> None:
        for _ in range(5):
            n = free_display(self.args.display)
            self.display = f":{n}"
            self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                                          "-nolisten", "tcp", "-noreset"], stdout=subprocess.DEVNULL,
                                         stderr=self.output("xvfb.log"))
            end = time.monotonic() + 10
            while time.monotonic() < end and self.xvfb.poll() is None:
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    self.say(f"Xvfb on {self.display} ({SCREEN[0]}x{SCREEN[1]}x24)")
                    return
                time.sleep(0.1)
            self.xvfb.kill()
            self.xvfb.wait()
        raise StepFailed("Xvfb did not start (see xvfb.log)")

    def start_app(self) -> None:
        home = self.temp / "home"
        for sub in ("config", "data", "cache", "Pictures", "runtime"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        (home / "runtime").chmod(0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AES_", "QT_", "XDG_", "KERAS_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                   XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(home / "runtime"),
                   XDG_PICTURES_DIR=str(home / "Pictures"), MPLCONFIGDIR=str(home / "cache" / "matplotlib"),
                   DISPLAY=self.display, QT_QPA_PLATFORM="xcb", PYTHONUNBUFFERED="1")
        self.photo = home / "Pictures" / "astronaut.png"
        from skimage import data  # scikit-image's bundled photograph: offline

        Image.fromarray(data.astronaut()).save(self.photo)
        self.app = subprocess.Popen([self.args.python, str(ROOT / "main.py")], cwd=str(ROOT), env=env,
                                    stdout=self.output(self.log.name), stderr=subprocess.STDOUT)
        self.say(f"app started (pid {self.app.pid}), HOME={home}")
        end = time.monotonic() + 120 * self.slow
        while time.monotonic() < end:
            self.check_alive()
            ids = self.xdo("search", "--onlyvisible", "--name", f"^{APP_TITLE}$", check=False).split()
            if ids:
                self.window = ids[0]
                break
            time.sleep(0.3)
        else:
            raise StepFailed("the main window did not appear within 120 s")
        geometry = self.xdo("getwindowgeometry", self.window)
        if f"{WINDOW[0]}x{WINDOW[1]}" not in geometry or "Position: 0,0" not in geometry:
            self.say(f"window geometry {geometry.split()} -> moving to 0,0 at {WINDOW[0]}x{WINDOW[1]}")
            self.xdo("windowmove", "--sync", self.window, "0", "0")
            self.xdo("windowsize", "--sync", self.window, str(WINDOW[0]), str(WINDOW[1]))
        time.sleep(1.0)
        self.say("main window up")

    def check_alive(self) -> None:
        if self.app is not None and self.app.poll() is not None:
            raise StepFailed(f"the app exited with status {self.app.returncode} (log: {self.log})")

    def windows(self) -> list[str]:
        out = self.xdo("search", "--onlyvisible", "--name", ".", "getwindowname", "%@", check=False)
        return [line for line in out.splitlines() if line.strip()]

    def check_windows(self, allowed=()) -> None:
        unexpected = [w for w in self.windows() if w != APP_TITLE and w not in allowed]
        if unexpected:
            raise StepFailed(f"unexpected window(s): {unexpected}")

    # --- input
    def click(self, x: int, y: int, rest=True) -> None:
        self.xdo("mousemove", "--sync", str(x), str(y), "click", "1")
        if rest:
            time.sleep(0.15)
            self.xdo("mousemove", str(NEUTRAL[0]), str(NEUTRAL[1]))

    def focus(self, window: str | None = None) -> None:
        """Without a window manager X focus is not given back when a dialog closes: give it explicitly."""
        self.xdo("windowfocus", "--sync", window or self.window, check=False)

    def keys(self, *keys: str, window: str | None = None) -> None:
        self.focus(window)
        self.xdo("key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "15", text)

    def set_spin(self, x: int, y: int, value) -> None:
        self.click(x, y)
        self.keys("ctrl+a")
        self.type(str(value))
        self.keys("Tab")

    def choose(self, combo_xy, index: int) -> None:
        """Open a combo box's list with a click and pick row `index` with the keyboard."""
        self.click(*combo_xy, rest=False)
        time.sleep(0.6)
        self.xdo("key", "--delay", "60", "Home", *(["Down"] * index), "Return")
        self.xdo("mousemove", str(NEUTRAL[0]), str(NEUTRAL[1]))
        time.sleep(0.4)

    def tab(self, name: str) -> None:
        before = self.grab()
        self.click(*TABS[name])
        self.wait(lambda img: changed(before, img, (0, 44, 1280, 740)) > 0.5, 10, f"the {name} tab to show")

    # --- waiting and shots
    def click_until_changed(self, point: tuple[int, int], box, what: str, timeout: float = 30) -> None:
        """Click `point` and wait until the screen inside `box` changes (what the click should show)."""
        before = self.grab()
        self.click(*point)
        self.wait(lambda i: changed(before, i, box) > 2, timeout, what)

    def wait(self, ready, timeout: float, what: str, allowed=(), interval=0.4) -> Image.Image:
        end = time.monotonic() + timeout * self.slow
        last_window_check = 0.0
        while True:
            self.check_alive()
            if time.monotonic() - last_window_check > 2:
                self.check_windows(allowed)
                last_window_check = time.monotonic()
            img = self.grab()
            if ready(img):
                return img
            if time.monotonic() > end:
                raise StepFailed(f"timed out after {timeout * self.slow:.0f} s waiting for {what}")
            time.sleep(interval)

    def window_id(self, name: str, timeout=20) -> str:
        end = time.monotonic() + timeout * self.slow
        while time.monotonic() < end:
            self.check_alive()
            ids = self.xdo("search", "--onlyvisible", "--name", f"^{name}$", check=False).split()
            if ids:
                time.sleep(0.8)  # let it paint
                return ids[0]
            time.sleep(0.3)
        raise StepFailed(f"the window {name!r} did not appear")

    def window_gone(self, name: str, timeout=10) -> None:
        end = time.monotonic() + timeout * self.slow
        while self.xdo("search", "--onlyvisible", "--name", f"^{name}$", check=False).split():
            if time.monotonic() > end:
                raise StepFailed(f"the window {name!r} did not close")
            time.sleep(0.2)

    def shot(self, name: str, img: Image.Image | None = None) -> None:
        img = (self.grab() if img is None else img).convert("RGB").crop((0, 0, *WINDOW))
        path = self.stage / name  # moved to --out only when every step passed
        img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
        self.shots.append(path)
        self.say(f"shot {name}")

    @contextmanager
    def step(self, name: str):
        self.step_name = name
        self.say(f"-- {name}")
        yield

