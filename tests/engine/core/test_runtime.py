"""engine.core.runtime: TensorFlow imported with the collector off and its objects frozen, so that later
collections (the one before each training included) never walk them; its libraries preloaded with the
GIL released. Each check runs in a fresh interpreter, where TensorFlow is not imported yet."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.paths import ROOT


def _run(body: str) -> dict:
    script = f"import json, sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_import_freezes_what_tensorflow_built_and_leaves_the_collector_on():
    result = _run("""
        import gc, threading
        from engine.core import runtime
        calls = []
        gc.callbacks.append(lambda phase, info: calls.append(info["generation"]) if phase == "start" else None)
        worker = threading.Thread(target=runtime.import_tensorflow)  # as the app does, in a worker
        worker.start(); worker.join()
        import tensorflow, keras
        frozen = gc.get_freeze_count()
        runtime.import_tensorflow()  # again: nothing more to do
        print("RESULT " + json.dumps({"frozen": frozen, "again": gc.get_freeze_count(), "enabled": gc.isenabled(),
                                      "collections_during_import": len(calls)}))
    """)
    assert result["frozen"] > 100_000, result  # TensorFlow's long-lived objects: never walked again
    assert result["again"] == result["frozen"] and result["enabled"], result
    assert result["collections_during_import"] == 0, result  # each full one held the GIL up to ~190 ms


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is for Linux's dynamic loader")
def test_preload_loads_the_big_library_before_any_import_and_says_when_it_is_loading():
    result = _run("""
        import threading, time
        from engine.core import runtime
        before = runtime.loading_libraries()
        seen = []
        loader = threading.Thread(target=runtime._preload_libraries)  # a ctypes dlopen: the GIL is released
        loader.start()
        while loader.is_alive():  # what a job start asks meanwhile (creating a thread now would wait)
            seen.append(runtime.loading_libraries())
            time.sleep(0.005)
        maps = open("/proc/self/maps").read()
        print("RESULT " + json.dumps({"cc": "libtensorflow_cc" in maps, "imported": "tensorflow" in sys.modules,
                                      "before": before, "during": any(seen), "after": runtime.loading_libraries()}))
    """)
    assert result == {"cc": True, "imported": False, "before": False, "during": True, "after": False}


def test_collect_garbage_frees_new_cycles_without_walking_or_thawing_the_frozen():
    result = _run("""
        import gc, weakref
        from engine.core import runtime
        runtime.import_tensorflow()
        frozen = gc.get_freeze_count()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector frees it
        alive = weakref.ref(a)
        del a, b
        runtime.collect_garbage()
        print("RESULT " + json.dumps({"freed": alive() is None, "frozen_before": frozen,
                                      "frozen_after": gc.get_freeze_count()}))
    """)
    assert result["freed"], result
    assert result["frozen_after"] == result["frozen_before"], result  # the next training's model stays collectable


def test_collect_garbage_freezes_once_where_tensorflow_came_in_another_way():
    result = _run("""
        import gc
        import tensorflow
        from engine.core import runtime
        before = gc.get_freeze_count()
        runtime.collect_garbage()
        first = gc.get_freeze_count()
        runtime.collect_garbage()
        print("RESULT " + json.dumps({"before": before, "first": first, "second": gc.get_freeze_count()}))
    """)
    assert result["before"] == 0 and result["first"] > 100_000, result
    assert result["second"] == result["first"], result


def test_a_host_that_keeps_collections_on_its_thread_gets_none_elsewhere_nor_the_collector_back():
    """A Qt GUI deletes its objects on its own thread only (gui.collector): a worker's collect_garbage()
    leaves garbage cycles to that thread, and TensorFlow's import in a worker leaves automatic collection
    off, even when the host took collections over while the import ran."""
    result = _run("""
        import gc, threading, weakref
        from engine.core import runtime

        class Node:
            pass

        def cycle():
            a, b = Node(), Node()
            a.other, b.other = b, a
            return weakref.ref(a)

        importing = threading.Thread(target=runtime.import_tensorflow)  # the app's warm-up, in a worker
        importing.start()
        while "tensorflow" not in sys.modules:  # the host takes over while the import runs
            pass
        during = runtime.importing_tensorflow()  # (the host does not collect meanwhile)
        gc.disable()
        runtime.collect_only_on_this_thread()
        importing.join()
        enabled_after_import = gc.isenabled()
        elsewhere = cycle()
        worker = threading.Thread(target=runtime.collect_garbage)
        worker.start(); worker.join()
        left_by_worker = elsewhere() is not None
        runtime.collect_garbage()  # on the host's thread
        print("RESULT " + json.dumps({"enabled_after_import": enabled_after_import, "left_by_worker": left_by_worker,
                                      "freed_here": elsewhere() is None, "importing": [during, runtime.importing_tensorflow()]}))
    """)
    assert result == {"enabled_after_import": False, "left_by_worker": True, "freed_here": True,
                      "importing": [True, False]}
