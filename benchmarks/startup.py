"""Startup: process start to main window shown, against `python -c "import tensorflow"`.

App: `python main.py` with AES_STARTUP_PROBE=1 (main.py prints "window-shown <unix time>" from the
first event-loop turn after show(), then "plots-shown <unix time>" once the Training tab's plots, imported in
the background after the window shows, are built and drawn, then quits) and QT_QPA_PLATFORM=offscreen unless set.
Reference: `python -c "import tensorflow; print(time.time())"`, i.e. until the import is done.
The app starts with fresh settings (XDG_CONFIG_HOME in a temporary folder), as on a first launch.
Both are timed from just before Popen to the printed timestamps, interleaved, --repeats times each
(plus one untimed warm-up of each to fill the OS file cache). Prints medians and the ratios
app/TF-import: the window's (target <= 0.20) and the plots'.

Usage: python benchmarks/startup.py [--repeats 5] [--python .venv/bin/python]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TF_SNIPPET = "import time, tensorflow; print(f'imported {time.time():.6f}', flush=True)"


def timed(cmd: list[str], env: dict[str, str], markers: tuple[str, ...]) -> dict[str, float]:
    """Seconds from just before Popen to the unix time the child prints after each of `markers`."""
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = proc.communicate(timeout=300)
    seen = {line.split()[0]: float(line.split()[1]) - start for line in out.splitlines()
            if line.split() and line.split()[0] in markers}
    if set(seen) != set(markers):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode} without printing {markers}:\n{out[-2000:]}")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="interpreter to start (the app's venv)")
    args = parser.parse_args()

    env = dict(os.environ, AES_STARTUP_PROBE="1", TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A first launch: fresh settings (the developer's own could reopen on another, heavier tab).
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="startup_settings_")
    app = ([args.python, "main.py"], ("window-shown", "plots-shown"))
    tf = ([args.python, "-c", TF_SNIPPET], ("imported",))
    timed(app[0], env, app[1])  # warm the file cache; not counted
    timed(tf[0], env, tf[1])
    times: dict[str, list[float]] = {"window-shown": [], "plots-shown": [], "imported": []}
    for i in range(args.repeats):
        for cmd, markers in (app, tf) if i % 2 == 0 else (tf, app):
            for marker, seconds in timed(cmd, env, markers).items():
                times[marker].append(seconds)
    median = {marker: statistics.median(t) for marker, t in times.items()}
    tf_s = median["imported"]
    print(f"platform {env['QT_QPA_PLATFORM']}, {os.cpu_count()} CPUs, {args.repeats} runs each, interleaved")
    for marker, what in (("window-shown", "python main.py -> window shown "),
                         ("plots-shown", "          ... -> plots drawn  "),
                         ("imported", "python -c 'import tensorflow'  ")):
        print(f"{what}: median {median[marker]:6.3f} s   runs {', '.join(f'{t:.3f}' for t in times[marker])}")
    print(f"startup ratio app/TF-import = {median['window-shown'] / tf_s:.3f} (target <= 0.20); "
          f"plots drawn / TF-import = {median['plots-shown'] / tf_s:.3f}")


if __name__ == "__main__":
    main()
