"""Who is acting, and the audit entry every write leaves.

The actor is set once per request (web middleware, API auth), per CLI command and per job;
service functions call `record()` inside their transaction, so an entry exists exactly when
the write does.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from folio.accounts.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    user: Any = None  # a User, or None for the system (scheduler, migrations)
    token: Any = None
    via: str = "system"
    ip: str | None = None

    @property
    def label(self) -> str:
        return getattr(self.user, "username", None) or "system"


SYSTEM = Actor()
_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("folio_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _current.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def acting_as(user=None, *, token=None, via: str = "system", ip: str | None = None):
    reset = _current.set(Actor(user=user, token=token, via=via, ip=ip))
    try:
        yield _current.get()
    finally:
        _current.reset(reset)


def record(
    action: str,
    obj=None,
    *,
    summary: str = "",
    changes: dict | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEntry:
    actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    user = actor.user if getattr(actor.user, "pk", None) else None
    return AuditEntry.objects.create(
        user=user,
        username=actor.label if user else "",
        token=actor.token,
        via=actor.via,
        ip=actor.ip,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        changes=changes or {},
    )


@contextmanager
def maintenance(using: str = "default"):
    """The one way past the audit log's append-only triggers: DELETE/TRUNCATE of audit entries
    (never UPDATE) is let through inside this block, which is one transaction. Only wiping
    the whole database (`folio flush`) uses it; the unlock cannot outlive the transaction,
    even if the process dies inside it."""
    from django.db import connections, transaction

    connection = connections[using]
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('folio.audit_maintenance', 'on', true)")
            else:
                cursor.execute(
                    "INSERT INTO folio_audit_maintenance (since) VALUES (%s)",
                    [timezone.now().isoformat()],
                )
        yield
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('folio.audit_maintenance', 'off', true)")
            else:
                cursor.execute("DELETE FROM folio_audit_maintenance")
