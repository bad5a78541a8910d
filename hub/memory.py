"""The process's garbage collector, tuned once the app has started.

A 10,000-lot trace allocates some 300,000 dicts, lists and objects that all stay alive until its answer is
sent. With CPython's default thresholds (a young collection every 700 net allocations) that request runs
hundreds of young collections and several full ones, and every full one walks the whole heap, the schema,
the driver and the libraries loaded at start-up included: about 95 ms of a 440 ms request
(bench/big_trace.py). Freezing what start-up built moves it out of the collector's sight for good, and
rarer young collections let a request's objects die by reference counting, as nearly all of them do,
before a collection looks at them. Memory stays bounded: garbage in cycles is still collected, later.
"""

from __future__ import annotations

import gc
from typing import Final

# young collections every 50,000 net allocations, the middle generation every 20 of them, a full collection
# every 100 of those (and, as always, only when the long-lived objects have grown by a quarter)
THRESHOLDS: Final = (50_000, 20, 100)

_tuned = False


def tune_garbage_collector() -> None:
    """Freeze the objects built so far and raise the collection thresholds; once per process."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
