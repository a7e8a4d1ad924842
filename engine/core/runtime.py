"""Importing TensorFlow in a worker thread of a GUI process without stalling the GUI thread.

Measured on 2 cores (`python -c "import tensorflow"` in a worker, the GUI thread waiting on a 5 ms timer):
the import held the GIL for stretches of up to 480 ms, which froze the window. Two things did it:
- the dynamic loader: Python calls dlopen() for an extension module with the GIL held, and the first one
  pulls in libtensorflow_cc (1.1 GB, ~350 ms of relocations and static initialisers);
- the garbage collector: the import creates ~360,000 long-lived objects, and each automatic full
  collection on the way walks all of them with the GIL held (26, 57, 85, ..., 190 ms as they grow).
So `import_tensorflow` first loads TensorFlow's shared libraries through a ctypes call of dlopen (ctypes
releases the GIL around foreign calls; the import then finds them loaded), imports with the collector
off, and moves what the import created to the collector's permanent generation (gc.freeze), where later
collections never walk it: a full collection at the start of a training then takes milliseconds, not
~250 ms. The collector itself stays on for everything created later (the GUI runs it on its own thread only:
gui.collector).
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
from pathlib import Path

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_done = False
_preloading = threading.Event()  # set while the shared libraries are being dlopen()ed
_collecting_thread: int | None = None  # the one thread that may collect garbage cycles (None: any)
_importing = threading.Event()  # set while import_tensorflow() runs

# Loaded in this order (each needs the ones before); the import would load them on its first extension module.
_LIBRARIES = ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2", "python/lib_pywrap_tensorflow_common.so")


def import_tensorflow() -> None:
    """Import TensorFlow and Keras, once per process, holding the GIL only briefly (see the module's text).
    Safe from any thread; a second caller waits for the first."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        _importing.set()
        enabled = gc.isenabled()
        gc.disable()
        try:
            if "tensorflow" not in sys.modules:
                _preload_libraries()
            import keras  # noqa: F401 - imported for its side effect
            import tensorflow  # noqa: F401
        finally:
            gc.freeze()  # what the import built lives as long as the process: never walk it again
            if enabled and _collecting_thread is None:  # (a host that took collections over meanwhile keeps it off)
                gc.enable()
            _importing.clear()
        _done = True


def importing_tensorflow() -> bool:
    """True while import_tensorflow() runs: a collection meanwhile would walk the ~360,000 objects it makes
    before they are frozen (up to ~190 ms each, GIL held). A host that collects itself waits for the end."""
    return _importing.is_set()


def loading_libraries() -> bool:
    """True while TensorFlow's libraries are being loaded. The dynamic loader holds its lock meanwhile (~0.5 s,
    their static initialisers), and creating a thread waits for that lock: whoever can, starts threads later."""
    return _preloading.is_set()


def _preload_libraries() -> None:
    """dlopen() TensorFlow's large shared libraries with the GIL released; any failure leaves it to the import."""
    if not sys.platform.startswith("linux"):
        return
    _preloading.set()
    try:
        import importlib.util

        spec = importlib.util.find_spec("tensorflow")
        if spec is None or spec.origin is None:
            return
        root = Path(spec.origin).parent
        dlopen = ctypes.CDLL(None).dlopen  # a foreign call: ctypes releases the GIL while it runs
        dlopen.argtypes, dlopen.restype = [ctypes.c_char_p, ctypes.c_int], ctypes.c_void_p
        for name in _LIBRARIES:
            path = root / name
            if path.exists() and not dlopen(os.fsencode(path), os.RTLD_NOW):
                _log.debug("could not preload %s", path)
                return
    except Exception:  # noqa: BLE001 - an optimisation only: the import loads them itself
        _log.debug("preloading TensorFlow's libraries failed", exc_info=True)
    finally:
        _preloading.clear()


def collect_only_on_this_thread() -> None:
    """Make the calling thread the only one that collects garbage cycles: collect_garbage() called on any
    other thread returns at once. For a host whose objects must be deleted on its own thread (a Qt GUI: a
    QObject in a cycle, deleted by a collection in a worker, crashes Qt); that host also turns the
    automatic collector off and collects on its thread itself (gui.collector)."""
    global _collecting_thread
    _collecting_thread = threading.get_ident()


def collect_garbage() -> None:
    """Collect what earlier work left (models since replaced, their graphs) before a training, walking only
    objects created since TensorFlow was imported: a few milliseconds. Where TensorFlow was imported some
    other way (a script, the tests), the first call collects everything once and freezes the survivors.
    Does nothing off the thread a host reserved for collections (collect_only_on_this_thread)."""
    global _done
    if _collecting_thread is not None and threading.get_ident() != _collecting_thread:
        return
    if _done:
        gc.collect()
        return
    with _lock:
        gc.collect()
        if "tensorflow" in sys.modules and not _done:
            gc.freeze()
            _done = True
