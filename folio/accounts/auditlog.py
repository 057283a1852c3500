"""Reading the audit log: filters, and an export as CSV or NDJSON (API and CLI share these).

Only administrators read it (accounts.view_auditentry, which only the admin role grants):
it names people, their tokens and addresses.
"""

import csv
import datetime
import io
import json
from collections.abc import Iterator

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from folio.accounts import audit
from folio.accounts.models import AuditEntry
from folio.errors import InvalidInput, PermissionDenied
from folio.imports.readers import escape_cell

VIEW_PERMISSION = "accounts.view_auditentry"
FORMATS = ("csv", "ndjson")
COLUMNS = (
    "id",
    "at",
    "username",
    "user_id",
    "token_id",
    "via",
    "ip",
    "action",
    "object_type",
    "object_id",
    "summary",
    "changes",
)


def require_reader(user) -> None:
    """`user` None is the operator at the server's console (`folio audit` without
    --as-user), who may read everything."""
    if user is not None and not user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied(
            f"only administrators read the audit log ({VIEW_PERMISSION})",
            details={"permission": VIEW_PERMISSION},
        )


def parse_when(value, field: str, *, end_of_day: bool = False) -> datetime.datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise); a bare date means its start,
    or with end_of_day the start of the next day (so `until=2026-11-26` includes that day)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            # A bare date first: parse_datetime would take it for its midnight.
            day = parse_date(text) if len(text) == 10 else None
            moment = None if day else parse_datetime(text)
        except ValueError:
            moment = day = None
        if moment is None and day is None:
            raise InvalidInput(
                f"{field}: {text!r} is not a date or date-time (e.g. 2026-11-26 or "
                "2026-11-26T08:00:00Z)",
                details={"field": field, "value": text},
            )
        if moment is None:
            day = day + datetime.timedelta(days=1) if end_of_day else day
            moment = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


def entries(
    *,
    user: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    via: str | None = None,
    since=None,
    until=None,
):
    """Audit entries matching every filter given. `user` is a username (a failed sign-in
    matches the name that was tried); `action` a prefix ("token." or "token.create");
    `since` inclusive, `until` exclusive."""
    qs = AuditEntry.objects.all()
    if user:
        qs = qs.filter(Q(username=user) | Q(action="auth.login_failed", changes__username=user))
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if via:
        qs = qs.filter(via=via)
    start = parse_when(since, "since")
    end = parse_when(until, "until", end_of_day=True)
    if start and end and end <= start:
        raise InvalidInput(
            "until must be later than since", details={"field": "until", "since": str(start)}
        )
    if start:
        qs = qs.filter(at__gte=start)
    if end:
        qs = qs.filter(at__lt=end)
    return qs


def row(entry: AuditEntry) -> dict:
    return {
        "id": entry.pk,
        "at": entry.at.isoformat(),
        "username": entry.username,
        "user_id": entry.user_id,
        "token_id": entry.token_id,
        "via": entry.via,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "summary": entry.summary,
        "changes": entry.changes,
    }


def export(qs, fmt: str) -> Iterator[str]:
    """The entries, oldest first, as CSV (every cell safe from formula injection) or NDJSON,
    a chunk of text at a time: the log is read 2,000 rows at a time, never whole."""
    if fmt not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}, not {fmt!r}",
            details={"field": "format", "value": fmt},
        )
    rows = (row(e) for e in qs.order_by("id").iterator(chunk_size=2000))
    return _csv(rows) if fmt == "csv" else _ndjson(rows)


def _ndjson(rows) -> Iterator[str]:
    for r in rows:
        yield json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"


def _csv(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, r in enumerate(rows, 1):
        r["changes"] = json.dumps(r["changes"], ensure_ascii=False, sort_keys=True)
        writer.writerow([escape_cell("" if r[c] is None else str(r[c])) for c in COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def record_export(fmt: str, filters: dict) -> None:
    """Reading the whole log out is worth a line in it."""
    used = {k: str(v) for k, v in filters.items() if v not in (None, "")}
    audit.record(
        "audit.export",
        object_type="accounts.auditentry",
        summary=f"audit log exported as {fmt}",
        changes={"format": fmt, "filters": used},
    )
