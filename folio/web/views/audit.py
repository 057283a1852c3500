"""The audit log page: who did what, when, from where; filtered like GET /api/v1/audit
(folio.accounts.auditlog.entries, the same filters) and read a page at a time by id (keyset),
so a long log costs the same to page through at its end as at its start. The export links
go to GET /api/v1/audit/export with the same filters. Readers: accounts.view_auditentry, as
the API checks (folio.accounts.auditlog.require_reader)."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.utils.translation import gettext_lazy

from folio.accounts import auditlog
from folio.errors import InvalidInput
from folio.web import nav
from folio.web.views.base import field_errors, int_param, page

nav.register(
    nav.NavEntry("audit", gettext_lazy("Audit log"), "web:audit", auditlog.VIEW_PERMISSION, 85)
)

ENTRIES_PER_PAGE = 50
FILTERS = ("user", "action", "object_type", "object_id", "via", "since", "until")
VIA = ("web", "api", "cli", "job", "system")


@page(auditlog.VIEW_PERMISSION)
def audit_log(request):
    filters = {k: (request.GET.get(k) or "").strip() for k in FILTERS}
    if filters["via"] not in VIA:
        filters["via"] = ""
    before = int_param(request.GET.get("before"), 0, low=0, high=2**62)
    after = int_param(request.GET.get("after"), 0, low=0, high=2**62)
    context = {
        "section": "audit",
        "filters": filters,
        "via_choices": VIA,
        "audit_entries": [],
        "errors": {},
        "newer": None,
        "older": None,
    }
    status = 200
    try:
        qs = auditlog.entries(**{k: v or None for k, v in filters.items()})
    except InvalidInput as exc:
        status = 422
        context["error"] = exc.message
        context["errors"] = field_errors(exc.details, exc.message)
    else:
        # One more than a page tells whether there is a further page without counting.
        if after and not before:
            rows = list(qs.filter(id__gt=after).order_by("id")[: ENTRIES_PER_PAGE + 1])
            more_newer = len(rows) > ENTRIES_PER_PAGE
            rows = list(reversed(rows[:ENTRIES_PER_PAGE]))
            more_older = bool(rows) and qs.filter(id__lt=rows[-1].pk).exists()
        else:
            page_qs = qs.filter(id__lt=before) if before else qs
            rows = list(page_qs.order_by("-id")[: ENTRIES_PER_PAGE + 1])
            more_older = len(rows) > ENTRIES_PER_PAGE
            rows = rows[:ENTRIES_PER_PAGE]
            more_newer = bool(before) and bool(rows) and qs.filter(id__gt=rows[0].pk).exists()
        kept = [(k, v) for k, v in filters.items() if v]
        if rows and more_older:
            context["older"] = urlencode([*kept, ("before", rows[-1].pk)])
        if rows and more_newer:
            context["newer"] = urlencode([*kept, ("after", rows[0].pk)])
        context["audit_entries"] = rows
    context["export_query"] = urlencode([(k, v) for k, v in filters.items() if v])
    return render(request, "web/people/audit.html", context, status=status)
