"""Signals the catalog structure sends so that derived data can follow it.

The structure services (folio.catalog.structure) do not know how completeness is kept; they
announce what changed and the completeness code connects to the signal. That keeps the
dependency one way and lets either side be rewritten alone.
"""

from django.dispatch import Signal

# Sent after a structure change that alters what completeness measures: family requirements,
# a channel's locales or currencies, an attribute's available locales. Keyword arguments:
#   family_ids: list[int] | None   the families affected; None means every family
#   channel_ids: list[int] | None  the channels affected; None means every channel
# It is sent inside the writer's transaction, so a receiver's own writes (marking rows stale)
# commit or roll back with the change. Receivers that start background work should do so on
# commit; jobs.start_job already enqueues only then.
structure_changed = Signal()

# Sent after completeness rows are rewritten, inside the writer's transaction, when rows
# reached 100 (they were lower, or there was no row: a product created complete counts):
#   reached: list[tuple[int, str, str]]  (product_id, channel code, locale code)
#   products: dict[int, Product]         the written batch's products, by id
# Noticing it costs one query per batch (the rows complete before the write), so the catalog
# only looks when a watcher says someone wants to know now (webhooks subscribed to it).
completeness_reached = Signal()
COMPLETENESS_WATCHERS: list = []  # callables () -> bool, cheap (no query when possible)


def completeness_watched() -> bool:
    return any(watcher() for watcher in COMPLETENESS_WATCHERS)
