"""`folio publications …`: what was published, when, where, and what was left out and why.

folio publications list [--channel marketplace] [--feed google] [--status failed]
folio publications show 12 [--items] [--action skipped] [--reason missing_attribute]
folio publications show 12 --diff
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from folio.cli import FolioCommand
from folio.publishing import history
from folio.publishing.models import Publication, PublishedItem


class Command(FolioCommand):
    help = "Publications: list them, show one with its report (skipped products and why) or diff."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the most recent publications")
        ls.add_argument("--channel", default=None)
        ls.add_argument("--feed", default=None)
        ls.add_argument("--status", default=None, choices=Publication.Status.values)
        ls.add_argument("--limit", type=int, default=20)
        show = sub.add_parser("show", help="one publication: summary, report, diff")
        show.add_argument("publication_id", type=int)
        show.add_argument("--items", action="store_true", help="every product of the report")
        show.add_argument(
            "--action",
            dest="item_action",
            default=None,
            choices=PublishedItem.Action.values,
            help="only products sent as added/updated, removed or skipped (implies --items)",
        )
        show.add_argument("--reason", default=None, help="only skips for this reason code")
        show.add_argument(
            "--diff", action="store_true", help="added, updated (with changes), removed"
        )
        show.add_argument("--limit", type=int, default=200, help="at most this many products")
        show.add_argument("--json", action="store_true")

    def run(self, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _list(self, channel=None, feed=None, status=None, limit=20, **o):
        qs = history.publications(channel=channel, feed=feed, status=status).order_by("-id")
        rows = list(qs[: max(1, min(limit, 1000))])
        if not rows:
            self.stdout.write("no publications")
        for p in rows:
            self.stdout.write(line(p))

    def _show(
        self,
        publication_id,
        items=False,
        item_action=None,
        reason=None,
        diff=False,
        limit=200,
        json=False,
        **o,
    ):
        publication = history.get_publication(publication_id)
        data = history.summary(publication)
        listed = items or item_action or reason
        if json:
            if listed:
                qs = history.items(publication, action=item_action, reason=reason)
                data["items"] = [
                    history.item_out(i, publication.channel.code) for i in qs[: max(1, limit)]
                ]
            if diff:
                data["diff"] = history.diff(publication, limit=max(1, min(limit, 10_000)))
            self.stdout.write(_dumps(data))
            return
        write_summary(self.stdout, data)
        if listed:
            qs = history.items(publication, action=item_action, reason=reason)
            total = qs.count()
            for item in qs[: max(1, limit)]:
                self.stdout.write(item_line(history.item_out(item, publication.channel.code)))
            if total > limit:
                self.stdout.write(f"… and {total - limit} more (--limit)")
            if not total:
                self.stdout.write("no products match")
        elif (publication.counts or {}).get("skipped"):
            self.stdout.write(
                f"see the skipped products: folio publications show {publication.pk} "
                "--action skipped"
            )
        if diff:
            write_diff(self.stdout, history.diff(publication, limit=max(1, min(limit, 10_000))))


def line(p: Publication) -> str:
    counts = p.counts or {}
    dry = " dry-run" if p.dry_run else ""
    at = p.finished_at or p.created_at
    return (
        f"{p.pk:>6}  {at:%Y-%m-%d %H:%M}  {p.channel.code}/{p.feed.code:<12} {p.format:<11} "
        f"{p.mode:<11}{dry:<8} {p.status:<8} published {counts.get('published', 0)}, "
        f"skipped {counts.get('skipped', 0)}, removed {counts.get('removed', 0)}"
    )


def write_summary(out, d: dict) -> None:
    c = d["counts"]
    dry = " (dry run: nothing written)" if d["dry_run"] else ""
    took = f" in {d['duration_ms'] / 1000:.1f} s" if d["duration_ms"] is not None else ""
    out.write(
        f"publication {d['id']}: {d['channel']}/{d['feed']} ({d['format']}, {d['mode']}){dry} — "
        f"{d['status']}{took}"
    )
    if d["message"]:
        out.write(f"  {d['message']}")
    if c:
        out.write(
            f"  selected {c.get('selected', 0)} · published {c.get('published', 0)} "
            f"(added {c.get('added', 0)}, updated {c.get('updated', 0)}, unchanged "
            f"{c.get('unchanged', 0)}) · removed {c.get('removed', 0)} · skipped "
            f"{c.get('skipped', 0)}"
        )
    for r in d["reasons"]:
        out.write(f"  skipped for {r['label']}: {r['count']}")
    if d["files"]:
        names = ", ".join(f"{f.get('name')} ({_size(f.get('size'))})" for f in d["files"][:10])
        more = f" and {len(d['files']) - 10} more" if len(d["files"]) > 10 else ""
        out.write(f"  files: {names}{more}")
    if d["location"]:
        out.write(f"  location: {d['location']}")
    if d["job"]:
        out.write(f"  job: {d['job']}")


def item_line(item: dict) -> str:
    where = f" [{item['locale']}]" if item["locale"] else ""
    head = f"  {item['action']:<8} {item['sku']}{where}"
    if item["action"] != "skipped":
        changed = ", ".join(c.get("field", "?") for c in item["changes"][:8])
        remote = item["remote"].get("status") if item["remote"] else None
        return head + (f": {changed}" if changed else "") + (f" (push: {remote})" if remote else "")
    reasons = "; ".join(r.get("message") or r.get("code", "") for r in item["reasons"])
    return f"{head}: {reasons}\n      fix: {item['fix']}"


def write_diff(out, d: dict) -> None:
    c = d["counts"]
    out.write(
        f"diff: {c['added']} added, {c['updated']} updated, {c['removed']} removed, "
        f"{d['unchanged']} unchanged"
    )
    for e in d["added"]:
        out.write(f"  + {e['sku']} [{e['locale']}]" if e["locale"] else f"  + {e['sku']}")
    for e in d["updated"]:
        out.write(f"  ~ {e['sku']}" + (f" [{e['locale']}]" if e["locale"] else ""))
        for change in e.get("changes", [])[:20]:
            out.write(
                f"      {change.get('field')}: {_short(change.get('old'))} → "
                f"{_short(change.get('new'))}"
            )
    for e in d["removed"]:
        out.write(f"  - {e['sku']}" + (f" [{e['locale']}]" if e["locale"] else ""))
    if d["truncated"]:
        out.write("  … more than shown (--limit)")


def _short(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _size(n) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
