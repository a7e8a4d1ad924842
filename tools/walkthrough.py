"""GUI walkthrough: run the REAL app under Xvfb at 1280x800, drive every tab with the mouse and keyboard
(xdotool), and save screenshots during and after real work into docs/walkthrough/.

Usage:  make walkthrough
        .venv/bin/python tools/walkthrough.py [--out docs/walkthrough] [--display 97] [--keep-temp] [--slow 2]

Needs Xvfb and xdotool (`sudo apt-get install -y xvfb xdotool libxcb-cursor0`); screenshots are taken
with Pillow's X11 grab, so ImageMagick is not needed. Nothing of the user's is touched: the app runs
with a temporary HOME / XDG_* folders (settings, run store, Keras cache), trains on the built-in MNIST
subset (offline), and denoises a photograph written from scikit-image's bundled data.

What it does, as a user would (clicks on a coordinate map of the 1280x760 window, keys, typed paths):
  Training       Kind: Convolutional, Epochs: 3, Start training; a shot mid-training and one when done
  Reconstruction tick "Worst error first"
  Denoise        the Digits page the model opens, then File > Open image… (Ctrl+Shift+O, path typed into
                 the file dialog), Denoise (bundled DnCNN + non-local means, sigma 25)
  Training       Kind: Variational (dense), Latent size 2, Epochs 8, started with Ctrl+Return
  Sampling       wait for the latent plane, samples and manifold; click a point on the plane
  Anomaly        synthetic demo, Epochs 30, Train detector; a shot mid-training, Scores, ROC / PR
  Runs           tick both recorded runs to overlay their curves
  Help           the menu, Keyboard shortcuts (Ctrl+/), User guide (F1), About
  File > Quit    (Ctrl+Q) and the process must exit with status 0

Progress is read from the screen (button text dark = enabled, the progress bar's fill), so the waits
follow the real work. Exits 1 when a step times out, the app dies or shows an unexpected window (e.g.
"Training failed"), or its log holds a Python traceback; the failing screen, the app's log and the shots
so far are then kept in the temporary folder, and --out keeps its previous screenshots (they are replaced
only when every step passed). Shots are 256-colour PNGs (about 0.7 MB for the set). The coordinates below
were measured on this 1280x760 window (Fusion style, DejaVu Sans); if a tab's layout changes, a wait or
the layout check fails with a message naming the step.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # walkthrough_x11 sits next to this script

from walkthrough_x11 import (APP_TITLE, Session, StepFailed, bar_fill, center, changed,  # noqa: E402
                             colour_pixels, dark_share, enabled, find_row, grey)

# ----- the coordinate map (window coordinates; x, y are click points, boxes are x0, y0, x1, y1) -----------
# (the tab bar, TABS, and the pointer's resting place, NEUTRAL, are in walkthrough_x11.py: Session uses them)
HELP_MENU = (151, 8)
HELP_ITEMS = {"User guide": (194, 29), "Keyboard shortcuts": (220, 51), "About": (180, 97)}
STATUS_BAR = (900, 749)

TRAIN = {
    "kind_label": (38, 278, 90, 295),  # the "Kind" label at start; rows are found again by template
    "epochs_label": (38, 575, 100, 592),
    "kind_combo_x": 320, "spin_x": 300, "code_row_dy": 29,  # Code / Latent size: the row under Kind
    "start": (12, 706, 184, 725), "stop": (192, 706, 363, 725), "save": (371, 706, 543, 725),
    "bar": (558, 1258, 67),  # x0, x1, y of the progress bar
    "preview": (580, 500, 1256, 666),  # the live reconstructions under the loss plot
    "plot": (612, 155, 1256, 396),
}
KIND_INDEX = {"dense": 0, "conv": 3, "vae": 5}  # rows of the Kind list (engine.core.config.MODEL_LABELS)

RECON = {"worst_first": (361, 93), "grid": (35, 219, 1265, 459), "histogram": (64, 541, 1265, 679)}

DENOISE = {
    "photo": (35, 62), "digits": (94, 62), "digits_grid": (39, 255, 1261, 615),
    "denoise": (7, 683, 219, 701), "cancel": (227, 683, 305, 701), "save_result": (1181, 82, 1270, 100),
    "denoise_click": (112, 692), "panels": (314, 183, 1270, 495),
}

SAMPLING = {
    "scatter": (80, 180, 565, 437), "decoded": (657, 213, 830, 384), "samples": (958, 143, 1161, 348),
    "manifold": (941, 431, 1179, 667), "pick": (140, 330),
}

ANOMALY = {
    "epochs": (260, 307), "train": (12, 622, 221, 640), "stop": (229, 622, 438, 640),
    "save": (229, 650, 438, 668), "train_click": (116, 631), "bar": (453, 1259, 67),
    "views": {"Training": (487, 142), "Scores and threshold": (599, 142), "ROC / PR": (713, 142),
              "Most anomalous": (814, 142)},
    "plot": (520, 180, 1255, 670),
}

RUNS = {"tick": [(43, 130), (43, 160)], "rows": [(57, 122, 237, 137), (57, 152, 237, 167)],
        "curves": (813, 80, 1265, 455)}

CAPTIONS = {
    "01-training-running.png": "Training tab mid-training: a convolutional autoencoder on the built-in MNIST "
                               "subset (3 epochs), live loss curves and reconstructions.",
    "02-training-done.png": "Training tab when the run has finished: best epoch starred, run recorded.",
    "03-reconstruction.png": "Reconstruction tab, worst reconstructions first, with the error histogram.",
    "04-denoise-digits.png": "Denoise tab, Digits page: the trained model on noisy validation digits.",
    "04-denoise.png": "Denoise tab: astronaut.png opened through File > Open image…, Gaussian sigma 25, "
                      "bundled DnCNN against non-local means.",
    "05-training-vae.png": "Training tab after a dense VAE with a 2-D latent space (8 epochs, started with "
                           "Ctrl+Return).",
    "05-sampling.png": "Sampling tab for that VAE: latent means by label, a clicked point decoded, samples "
                       "from the prior, the manifold and an interpolation.",
    "06-anomaly-training.png": "Anomaly detection tab while the detector trains on the synthetic demo.",
    "06-anomaly.png": "Anomaly detection tab when done: scores by row with the threshold, histograms, "
                      "confusion matrix.",
    "06-anomaly-roc.png": "Anomaly detection tab, ROC / PR view.",
    "07-runs.png": "Runs tab: both recorded runs ticked, their validation curves and mean code activations.",
    "08-help-menu.png": "The Help menu.",
    "08-help-shortcuts.png": "Help > Keyboard shortcuts (Ctrl+/).",
    "08-help-user-guide.png": "Help > User guide (F1): the README, offline.",
    "08-help-about.png": "Help > About.",
}


# ----- the walkthrough ---------------------------------------------------------------------------------
def training_conv(s: Session) -> None:
    img = s.wait(lambda i: enabled(i, TRAIN["start"]) and not enabled(i, TRAIN["stop"]), 30,
                 "the Training tab (Start enabled, Stop disabled)")
    if grey(img, TRAIN["kind_label"]).min() > 60:
        raise StepFailed("no 'Kind' label where the map expects it: the Training tab's layout differs")
    s.ref = img
    kind_y = (TRAIN["kind_label"][1] + TRAIN["kind_label"][3]) // 2
    epochs_y = (TRAIN["epochs_label"][1] + TRAIN["epochs_label"][3]) // 2
    s.choose((TRAIN["kind_combo_x"], kind_y), KIND_INDEX["conv"])
    s.set_spin(TRAIN["spin_x"], epochs_y, 3)
    s.click(*center(TRAIN["start"]))
    s.wait(lambda i: enabled(i, TRAIN["stop"]), 30, "training to start (Stop enabled)")
    mid = s.wait(lambda i: (enabled(i, TRAIN["stop"]) and 0.5 <= bar_fill(i, TRAIN["bar"]) < 0.97)
                 or enabled(i, TRAIN["start"]), 600, "training past half-way")
    if not enabled(mid, TRAIN["stop"]):
        raise StepFailed("training ended before the mid-training screenshot")
    if dark_share(mid, TRAIN["preview"]) < 0.2:
        raise StepFailed("no live reconstructions under the loss plot after the first epoch")
    s.shot("01-training-running.png", mid)
    done = s.wait(lambda i: enabled(i, TRAIN["start"]) and not enabled(i, TRAIN["stop"]), 600,
                  "training to finish (Start enabled again)")
    time.sleep(1.0)  # the final redraw of the plot
    done = s.grab()
    if bar_fill(done, TRAIN["bar"]) < 0.98:
        raise StepFailed(f"the progress bar is at {bar_fill(done, TRAIN['bar']):.0%} after training")
    if not enabled(done, TRAIN["save"]):
        raise StepFailed("Save model… is not enabled after training")
    s.shot("02-training-done.png", done)


def reconstruction(s: Session) -> None:
    s.tab("Reconstruction")
    s.wait(lambda i: dark_share(i, RECON["grid"]) > 0.3, 60, "originals and reconstructions")
    s.click_until_changed(RECON["worst_first"], RECON["grid"], "the worst reconstructions first")
    time.sleep(0.8)
    s.shot("03-reconstruction.png")


def denoise(s: Session) -> None:
    s.tab("Denoise")
    s.click(*DENOISE["digits"])
    s.wait(lambda i: dark_share(i, DENOISE["digits_grid"]) > 0.3, 60, "the Digits page's rows")
    time.sleep(0.5)
    s.shot("04-denoise-digits.png")
    s.keys("ctrl+shift+o")  # File > Open image…
    dialog = s.window_id("Open image")
    s.focus(dialog)
    s.type(str(s.photo))
    s.keys("Return", window=dialog)
    s.window_gone("Open image")
    s.wait(lambda i: enabled(i, DENOISE["denoise"]) and colour_pixels(i, DENOISE["panels"]) > 5000, 60,
           "the photograph to open (Denoise enabled)")
    s.click(*DENOISE["denoise_click"])
    s.wait(lambda i: enabled(i, DENOISE["cancel"]) or enabled(i, DENOISE["save_result"]), 30,
           "denoising to start (Cancel enabled)")
    s.wait(lambda i: enabled(i, DENOISE["denoise"]) and enabled(i, DENOISE["save_result"]), 600,
           "denoising to finish (Save result… enabled)")
    time.sleep(0.8)
    s.shot("04-denoise.png")


def training_vae(s: Session) -> None:
    s.tab("Training")
    img = s.wait(lambda i: enabled(i, TRAIN["start"]), 10, "the Training tab")
    dy = find_row(s.ref, img, TRAIN["kind_label"])
    kind_y = (TRAIN["kind_label"][1] + TRAIN["kind_label"][3]) // 2 + dy
    epochs_y = (TRAIN["epochs_label"][1] + TRAIN["epochs_label"][3]) // 2 + find_row(s.ref, img,
                                                                                      TRAIN["epochs_label"])
    s.choose((TRAIN["kind_combo_x"], kind_y), KIND_INDEX["vae"])
    s.set_spin(TRAIN["spin_x"], kind_y + TRAIN["code_row_dy"], 2)  # Latent size
    s.set_spin(TRAIN["spin_x"], epochs_y, 8)
    s.keys("ctrl+Return")  # Train > Start
    s.wait(lambda i: not enabled(i, TRAIN["start"]), 30, "Ctrl+Return to start the VAE's training")
    s.wait(lambda i: enabled(i, TRAIN["start"]) and not enabled(i, TRAIN["stop"])
           and bar_fill(i, TRAIN["bar"]) > 0.98, 600, "the VAE's training to finish")
    time.sleep(1.0)
    s.shot("05-training-vae.png")


def sampling(s: Session) -> None:
    s.tab("Sampling")
    s.wait(lambda i: colour_pixels(i, SAMPLING["scatter"]) > 300 and dark_share(i, SAMPLING["manifold"]) > 0.3
           and dark_share(i, SAMPLING["samples"]) > 0.3, 120, "the latent plane, samples and manifold")
    time.sleep(1.0)
    s.click_until_changed(SAMPLING["pick"], SAMPLING["decoded"], "the clicked point to be decoded")
    time.sleep(0.8)
    s.shot("05-sampling.png")


def anomaly(s: Session) -> None:
    s.tab("Anomaly detection")
    s.wait(lambda i: enabled(i, ANOMALY["train"]), 60, "the Anomaly detection tab (Train detector enabled)")
    s.set_spin(*ANOMALY["epochs"], 30)
    s.click(*ANOMALY["train_click"])
    img = s.wait(lambda i: (enabled(i, ANOMALY["stop"]) and 0.3 <= bar_fill(i, ANOMALY["bar"]) < 0.97)
                 or enabled(i, ANOMALY["save"]), 300, "the detector's training past 30%", interval=0.2)
    if enabled(img, ANOMALY["stop"]):
        s.shot("06-anomaly-training.png", img)
    else:
        s.say("warning: the detector finished before a mid-training screenshot")
    s.wait(lambda i: enabled(i, ANOMALY["train"]) and enabled(i, ANOMALY["save"]), 600,
           "the detector to finish (Save detector… enabled)")
    time.sleep(1.0)
    s.shot("06-anomaly.png")
    before = s.grab()
    s.click(*ANOMALY["views"]["ROC / PR"])
    s.wait(lambda i: changed(before, i, ANOMALY["plot"]) > 2, 30, "the ROC / PR view")
    time.sleep(0.8)
    s.shot("06-anomaly-roc.png")


def runs(s: Session) -> None:
    s.tab("Runs")
    s.wait(lambda i: all((grey(i, box) < 100).sum() > 30 for box in RUNS["rows"]), 60, "two recorded runs")
    for xy in RUNS["tick"]:
        s.click(*xy)
        time.sleep(0.5)
    s.wait(lambda i: colour_pixels(i, RUNS["curves"]) > 300, 30, "the ticked runs' curves")
    time.sleep(0.8)
    s.shot("07-runs.png")


def help_menu(s: Session) -> None:
    before = s.grab()
    s.click(*HELP_MENU, rest=False)
    s.wait(lambda i: changed(before, i, (135, 18, 350, 108)) > 5, 10, "the Help menu")
    s.shot("08-help-menu.png")
    s.click(*HELP_ITEMS["Keyboard shortcuts"])
    dialog = s.window_id("Keyboard shortcuts")
    s.shot("08-help-shortcuts.png")
    s.keys("Escape", window=dialog)
    s.window_gone("Keyboard shortcuts")
    s.click(*STATUS_BAR)
    s.keys("F1")
    dialog = s.window_id("User guide")
    s.shot("08-help-user-guide.png")
    s.keys("Escape", window=dialog)
    s.window_gone("User guide")
    s.click(*HELP_MENU, rest=False)
    time.sleep(0.6)
    s.click(*HELP_ITEMS["About"])
    dialog = s.window_id(f"About {APP_TITLE}")
    s.shot("08-help-about.png")
    s.keys("Escape", window=dialog)
    s.window_gone(f"About {APP_TITLE}")


def quit_app(s: Session) -> None:
    s.click(*STATUS_BAR)
    s.keys("ctrl+q")  # File > Quit
    try:
        rc = s.app.wait(timeout=60 * s.slow)
    except subprocess.TimeoutExpired:
        raise StepFailed("the app did not exit within 60 s of File > Quit") from None
    if rc != 0:
        raise StepFailed(f"the app exited with status {rc} after File > Quit")
    s.say("app closed cleanly (status 0)")

STEPS = (("Training: a convolutional autoencoder, 3 epochs", training_conv),
         ("Reconstruction", reconstruction),
         ("Denoise: Digits, then File > Open image… and Denoise", denoise),
         ("Training: a VAE with a 2-D latent space (Ctrl+Return)", training_vae),
         ("Sampling", sampling),
         ("Anomaly detection: the synthetic demo", anomaly),
         ("Runs", runs),
         ("Help menu", help_menu),
         ("File > Quit", quit_app))


def traceback_in_log(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    at = text.find("Traceback (most recent call last)")
    return text[at:at + 3000] if at >= 0 else ""


def write_index(s: Session) -> None:
    lines = ["# GUI walkthrough", "",
             "Screenshots of the real app at 1280x800 under Xvfb, driven with the mouse and keyboard by",
             "`tools/walkthrough.py` (`make walkthrough` regenerates them; about 3-5 minutes on 2 cores).",
             "The data is the built-in MNIST subset and scikit-image's astronaut photograph.", ""]
    for path in s.shots:
        lines.append(f"- [`{path.name}`]({path.name}): {CAPTIONS.get(path.name, '')}")
    (s.out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/walkthrough", help="where the screenshots go")
    parser.add_argument("--display", type=int, default=97, help="the first X display number to try")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs main.py")
    parser.add_argument("--slow", type=float, default=1.0, help="multiply every timeout (a busy machine)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary HOME and the app's log")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (sudo apt-get install -y xvfb xdotool libxcb-cursor0)",
                  file=sys.stderr)
            return 2
    s = Session(args)
    ok = False
    try:
        s.start_xvfb()
        s.start_app()
        for name, run in STEPS:
            with s.step(name):
                run(s)
        problem = traceback_in_log(s.log)
        if problem:
            raise StepFailed(f"the app's log holds a Python traceback:\n{problem}")
        ok = True
    except (StepFailed, subprocess.TimeoutExpired, OSError) as exc:
        print(f"\nFAILED in step {s.step_name!r}: {exc}", file=sys.stderr)
        if s.display and s.xvfb is not None and s.xvfb.poll() is None:
            try:
                failed = s.temp / "FAILED.png"
                s.grab().save(failed)
                print(f"the screen when it failed: {failed}", file=sys.stderr)
            except OSError:
                pass
        problem = traceback_in_log(s.log)
        if problem:
            print(f"traceback in the app's log:\n{problem}", file=sys.stderr)
        print(f"the app's log: {s.log}", file=sys.stderr)
    finally:
        for proc in (s.app, s.xvfb):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for handle in s.files:
            handle.close()
    if ok:  # replace the previous set only now: a failed run leaves docs/walkthrough as it was
        s.out.mkdir(parents=True, exist_ok=True)
        for old in s.out.glob("*.png"):
            old.unlink()
        s.shots = [Path(shutil.move(str(path), str(s.out / path.name))) for path in s.shots]
        write_index(s)
    total = sum(p.stat().st_size for p in s.shots)
    print(f"\n{len(s.shots)} screenshot(s), {total / 1e6:.2f} MB, in {time.monotonic() - s.t0:.0f} s:")
    for path in s.shots:
        print(f"  {path}")
    if total > 2e6:
        print("warning: the screenshots take more than 2 MB", file=sys.stderr)
    if ok and not args.keep_temp:
        shutil.rmtree(s.temp, ignore_errors=True)
    else:
        print(f"temporary folder kept (the app's log, {'the failing screen, ' if not ok else ''}the shots so far): "
              f"{s.temp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
