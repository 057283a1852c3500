"""Outgoing events (webhooks) — connected at start-up."""


def connect() -> None:
    pass
