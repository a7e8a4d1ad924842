"""Memory over many trainings in one window (issue 14, item 8): does the app hold on to old runs?

The real MainWindow (offscreen) trains the default dense model on a small array file N times in a
row, each run started from the Training tab and stopped after its first epoch (the start/stop
cycle users repeat), then collects garbage and reads the process's resident memory. Printed: the
RSS after the first cycle, after the last, and the growth per cycle after the first.
Target: <= 200 MB growth over 30 cycles after the first.

Usage: python benchmarks/memory.py [--cycles 30] [--samples 2000]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()

    import numpy as np
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from engine.core.events import EpochEnded
    from gui.common.forms import set_choice
    from main import open_window

    work = Path(tempfile.mkdtemp(prefix="aes_memory_"))
    os.environ["AES_RUNS_DIR"] = str(work / "runs")
    x = np.random.default_rng(0).random((args.samples, 28, 28)).astype(np.float32)
    np.save(work / "x.npy", x)
    app, window = open_window([sys.argv[0]], QSettings(str(work / "settings.ini"), QSettings.IniFormat))
    tab = window.training_tab
    set_choice(tab.data_kind, "array")
    tab.data_path.setText(str(work / "x.npy"))
    tab.epochs.setValue(50)

    def one_cycle() -> None:
        loop = QEventLoop()
        seen = []

        def on_event(event):
            if isinstance(event, EpochEnded) and not seen:
                seen.append(event)
                tab.stop()

        tab.runner.event_emitted.connect(on_event)
        tab.runner.finished.connect(loop.quit)
        QTimer.singleShot(0, tab.start)
        loop.exec()
        tab.runner.event_emitted.disconnect(on_event)
        tab.runner.finished.disconnect(loop.quit)
        for _ in range(5):
            app.processEvents()
        gc.collect()

    readings = []
    started = time.perf_counter()
    for i in range(args.cycles + 1):
        one_cycle()
        readings.append(rss_mb())
        print(f"cycle {i + 1}: RSS {readings[-1]:.0f} MB", flush=True)
    growth = readings[-1] - readings[0]
    print(f"memory: RSS {readings[0]:.0f} MB after the first cycle, {readings[-1]:.0f} MB after {args.cycles} more: "
          f"growth {growth:.0f} MB ({growth / max(1, args.cycles):.1f} MB per cycle; target <= 200 MB over 30) "
          f"in {time.perf_counter() - started:.0f} s")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
