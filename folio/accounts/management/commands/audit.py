"""`folio audit list|export`: read the audit log at the console.

    folio audit list --user alice --action token. --since 2026-11-01
    folio audit export --format ndjson --output audit.ndjson
    folio audit export --format csv --since 2026-11-01 --until 2026-12-01 > november.csv

With --as-user, that user must be allowed to read the log (administrators).
"""

from folio.accounts import auditlog
from folio.accounts.audit import current_actor
from folio.cli import FolioCommand
from folio.errors import InvalidInput


def _filters(parser):
    parser.add_argument("--user", default=None, help="a username")
    parser.add_argument("--action", default=None, help="an action or its prefix, e.g. token.")
    parser.add_argument("--object-type", default=None, help="e.g. catalog.product")
    parser.add_argument("--object-id", default=None)
    parser.add_argument("--via", default=None, choices=["web", "api", "cli", "job", "system"])
    parser.add_argument("--since", default=None, help="ISO date or date-time (inclusive)")
    parser.add_argument("--until", default=None, help="ISO date or date-time (exclusive)")


FILTERS = ("user", "action", "object_type", "object_id", "via", "since", "until")


class Command(FolioCommand):
    help = "The audit log: list recent entries, or export them as CSV or NDJSON."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action_name", required=True)
        ls = sub.add_parser("list", help="entries, newest first")
        _filters(ls)
        ls.add_argument("--limit", type=int, default=50, help="how many (default 50)")
        ex = sub.add_parser("export", help="entries, oldest first, as CSV or NDJSON")
        _filters(ex)
        ex.add_argument("--format", choices=auditlog.FORMATS, default="csv")
        ex.add_argument("--output", default=None, help="a file (default: standard output)")

    def run(self, action_name, **o):
        auditlog.require_reader(current_actor().user)
        filters = {k: o.get(k) for k in FILTERS}
        qs = auditlog.entries(**filters)
        if action_name == "list":
            if not 1 <= o["limit"] <= 10_000:
                raise InvalidInput("--limit must be between 1 and 10000")
            for e in qs.order_by("-id")[: o["limit"]]:
                who = e.username or "system"
                what = f"{e.object_type}:{e.object_id}" if e.object_type else ""
                self.stdout.write(
                    f"{e.pk:>7}  {e.at:%Y-%m-%d %H:%M:%S}  {who:<16} {e.via:<6} "
                    f"{e.action:<24} {what:<28} {e.summary}"
                )
            return
        chunks = auditlog.export(qs, o["format"])
        auditlog.record_export(o["format"], filters)
        if o["output"]:
            try:
                with open(o["output"], "w", encoding="utf-8", newline="") as out:
                    for chunk in chunks:
                        out.write(chunk)
            except OSError as exc:
                raise InvalidInput(f"cannot write {o['output']}: {exc.strerror}") from None
            self.stderr.write(f"audit log written to {o['output']}")
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
