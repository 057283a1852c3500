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
