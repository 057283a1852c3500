"""Signals other apps (webhooks, metrics) listen to."""

from django.dispatch import Signal

# sent with publication=Publication once a run is done or failed (not for dry runs)
publication_finished = Signal()
