"""Fault injection for crash-safety tests: named points in the code where a test can make
the process die as abruptly as a power cut or the kernel's OOM killer would.

`point("import.row_committed")` costs one dict lookup when FOLIO_FAULT_POINTS is unset (always,
in production). With FOLIO_FAULT_POINTS="import.row_committed:3" the process sends itself
SIGKILL the 3rd time it passes that point: no exception handler, `finally` block or atexit
hook runs, exactly as when a worker is killed. Tests then check what survives (the
database, the media storage, the publication folders) and how the system recovers.
"""

import os
import signal

from django.conf import settings

_hits: dict[str, int] = {}


def point(name: str) -> None:
    kill_at = settings.FAULT_POINTS.get(name)
    if kill_at is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
