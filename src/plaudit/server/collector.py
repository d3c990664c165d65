"""The cyclic garbage collector while the server serves.

Ingest allocates heavily: an OTLP export of 1,000 spans makes tens of thousands of dicts, lists
and strings, and with Python's default thresholds (a young collection every 700 allocations)
the older generations fill with objects that are in flight between the decoder and the writer.
Full collections then came every few exports and each walked the whole heap — every module,
class and SQLAlchemy structure made at start-up — for about 70 ms: about 5 µs of CPU per span
in `bench/request_path.py --otlp`, and a pause of the event loop each time. So while serving:

- the objects made at start-up are frozen (`gc.freeze`): collections no longer walk them;
- a young collection runs every `YOUNG_THRESHOLD` allocations instead of 700, so the older
  generations are collected far less often. Garbage in cycles waits a little longer.

Nothing changes what is collected, only when: objects frozen are never freed by the collector
while frozen, and are thawed when the last server of the process stops.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

YOUNG_THRESHOLD: Final = 10_000

_lock = threading.Lock()
_serving = 0
_previous = gc.get_threshold()


@contextmanager
def serving_collector() -> Iterator[None]:
    """Tune the collector for serving while the block runs (module docstring).

    Several servers may run in one process (tests do): the first to start tunes, the last to
    stop restores the thresholds it found and thaws the frozen objects.
    """
    global _serving, _previous
    with _lock:
        if _serving == 0:
            _previous = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_previous[0], YOUNG_THRESHOLD), *_previous[1:])
        _serving += 1
    try:
        yield
    finally:
        with _lock:
            _serving -= 1
            if _serving == 0:
                gc.set_threshold(*_previous)
                gc.unfreeze()
