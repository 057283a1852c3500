"""Per-process copies of the catalog structure that pages read on every request.

An SKU 360 page reads the channels with their image slots and presets, and the attributes
with their groups and units, whatever the product: at 1M products on PostgreSQL, reading
them for each page was a third of its time (docs/performance.md). Here they are read once
per process and kept while the structure generation stays the same.

The generation is one value in folio_structure_generation that database triggers change with
every write to the tables a copy is made from (catalog migration 0008, renditions 0005):
attributes, attribute groups, measurement families, families' attribute lists, channels,
image slots and presets. Triggers, not signals, so that no writer can be missed — bulk
updates, imports, raw SQL, `folio move-up`, and other web and worker processes alike. A
request pays one small statement to read it.

Reading the generation before the rows keeps a copy from ever being older than its key: a
change committed in between makes the next request see a new generation and read again.
Copies are shared by the threads of a process: treat them as read-only.
"""

import threading
from collections.abc import Callable

from django.db import connections

TABLE = "folio_structure_generation"

_copies: dict[tuple, tuple[int, object]] = {}
_lock = threading.Lock()


def generation(using: str = "default") -> int | None:
    """The current structure generation; None when there is none to trust (its row is
    missing, e.g. right after a database was emptied), and nothing may be kept."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT value FROM {TABLE} WHERE id = 1")  # noqa: S608 - a constant
        row = cursor.fetchone()
    return row[0] if row else None


def structure(name: str, load: Callable[[], object], *, using: str = "default"):
    """The copy called `name`, made by `load()` when there is none for the current
    generation. One statement when the copy is current."""
    current = generation(using)
    # The database's name too: tests and tools switch databases within one process.
    key = (using, connections[using].settings_dict["NAME"], name)
    kept = _copies.get(key)
    if current is not None and kept is not None and kept[0] == current:
        return kept[1]
    value = load()
    if current is not None:
        with _lock:
            _copies[key] = (current, value)
    return value


def forget() -> None:
    """Drop every copy: the next read of each makes it again (for tests that need the
    first read of a process)."""
    with _lock:
        _copies.clear()
