import argparse
import json
import sys
import time
from collections import Counter

from django.core.management.base import CommandError
from django.core.serializers.json import DjangoJSONEncoder

from folio.accounts.audit import current_actor
from folio.catalog import bulk_edit, queries, services
from folio.cli import FolioCommand, progress
from folio.errors import InvalidInput
from folio.jobs.models import Job
from folio.words import counted

STILL_QUEUED_HINT = 5  # seconds before saying that no worker seems to be running


class _Operation(argparse.Action):
    """Collects bulk-edit operations in the order given on the command line: `--set` after
    `--add` on the same attribute must run after it."""

    def __call__(self, parser, namespace, values, option_string=None):
        ops = list(getattr(namespace, "operations", None) or [])
        ops.append((self.const, values))
        namespace.operations = ops


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "catalog.view_product",
        "show": "catalog.view_product",
        "upsert": ("catalog.add_product", "catalog.change_product"),
        "delete": "catalog.delete_product",
        "history": "catalog.view_product",
        "restore": "catalog.change_product",
        "bulk-edit": "catalog.change_product",
    }
    help = (
        "Products: list, show, upsert (NDJSON), delete, history, restore, bulk-edit. "
        "Writes are recorded as the --as-user user (default: system)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        ls = sub.add_parser("list", help="products, filtered")
        _selection_arguments(ls)
        ls.add_argument("--stale", action="store_true", help="completeness being recomputed")
        ls.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
        ls.add_argument("--json", action="store_true", help="one JSON object per line")

        show = sub.add_parser("show", help="one product: values, origins, completeness")
        show.add_argument("sku")
        show.add_argument("--json", action="store_true")

        up = sub.add_parser("upsert", help="create or update products from an NDJSON file")
        up.add_argument("file", help="one product JSON object per line; - reads stdin")

        delete = sub.add_parser("delete", help="delete a product")
        delete.add_argument("sku")

        hist = sub.add_parser("history", help="every saved change of a product, newest first")
        hist.add_argument("sku")
        hist.add_argument("--limit", type=int, default=50)
        hist.add_argument("--json", action="store_true")

        restore = sub.add_parser("restore", help="bring back an earlier version (as a new one)")
        restore.add_argument("sku")
        restore.add_argument("version", type=int)

        bulk = sub.add_parser(
            "bulk-edit",
            help="apply operations to every product of a selection, as a background job",
            description="Select with --family/--category/--filter/--q/--sku; operations run in "
            "the order given. Values: --set color=blue, --set 'name[en_US]=Bottle', "
            "--set 'short_title[en_US@marketplace]=…', --set 'capacity=750 ml', "
            "--set 'price=24.90 USD, 22 EUR', --set brand= (clears), "
            "--add materials=glass,stainless_steel.",
        )
        _selection_arguments(bulk)
        bulk.add_argument("--sku", action="append", default=[], help="this product (repeat)")
        for flag, const, metavar, what in (
            ("--set", "set", "ATTR=VALUE", "set a value (nothing after = clears it)"),
            ("--add", "add", "ATTR=A,B", "add options or assets"),
            ("--remove", "remove", "ATTR=A,B", "remove options or assets"),
            ("--set-family", "set-family", "FAMILY", "change the family"),
            ("--set-categories", "set-categories", "C1,C2", "replace the categories"),
            ("--add-category", "add-categories", "CATEGORY", "add a category"),
            ("--remove-category", "remove-categories", "CATEGORY", "remove a category"),
            ("--add-group", "add-groups", "GROUP", "add to a group"),
            ("--remove-group", "remove-groups", "GROUP", "remove from a group"),
        ):
            bulk.add_argument(
                flag,
                action=_Operation,
                const=const,
                dest="operations",
                metavar=metavar,
                help=what,
            )
        for flag, const in (("--enable", "enable"), ("--disable", "disable")):
            bulk.add_argument(
                flag,
                action=_Operation,
                const=const,
                nargs=0,
                dest="operations",
                help=f"{const} them",
            )
        bulk.add_argument("--no-wait", action="store_true", help="start the job and return")

    def run(self, action, **o):
        handler = {
            "list": self.list,
            "show": self.show,
            "upsert": self.upsert,
            "delete": self.delete,
            "history": self.history,
            "restore": self.restore,
            "bulk-edit": self.bulk_edit,
        }[action]
        return handler(**o)

    # --- reading ---

    def list(self, limit, stale, **o):
        f = _filter(o)
        if stale:
            f.stale = True
        qs = queries.filter_products(f).select_related("family", "parent").order_by("sku")
        total = qs.count()
        shown = qs if limit <= 0 else qs[:limit]
        for p in shown:
            if o["json"]:
                self.stdout.write(_json(services.serialize(p, resolved=True)))
            else:
                state = "enabled" if p.enabled else "disabled"
                family = p.family.code if p.family_id else "-"
                parent = p.parent.code if p.parent_id else "-"
                self.stdout.write(
                    f"{p.sku:<28} {family:<20} {parent:<20} {state:<8} v{p.version:<4} "
                    f"{p.updated_at:%Y-%m-%d %H:%M}"
                )
        if 0 < limit < total:
            self.stderr.write(f"{limit} of {total} products shown; raise --limit to see more")

    def show(self, sku, **o):
        product = services.get_product(sku)
        resolved = services.resolved_values(product)
        origins = services.value_origins(product)
        completeness = services.completeness_of(product)
        categories = sorted(product.categories.values_list("code", flat=True))
        groups = sorted(product.groups.values_list("code", flat=True))
        if o["json"]:
            self.stdout.write(
                _json(
                    {
                        **services.serialize(product, resolved=True),
                        "categories": categories,
                        "groups": groups,
                        "origins": origins,
                        "completeness": completeness,
                        "associations": services.associations_of(product),
                    }
                )
            )
            return
        w = self.stdout.write
        w(
            f"{product.sku}  family {product.family.code if product.family_id else '-'}"
            f"{'  variant of ' + product.parent.code if product.parent_id else ''}"
            f"  version {product.version}  {'enabled' if product.enabled else 'disabled'}"
        )
        w(f"categories: {', '.join(categories) or '-'}")
        w(f"groups: {', '.join(groups) or '-'}")
        w("values:")
        for code in sorted(resolved):
            origin = origins.get(code, "self")
            source = "" if origin == "self" else f"  (from {origin})"
            for e in resolved[code]:
                where = "@".join(x for x in (e["locale"], e["scope"]) if x)
                label = f"{code}[{where}]" if where else code
                w(f"  {label:<40} {_text(e['data'])}{source}")
        w("completeness:")
        for c in completeness:
            missing = f"  missing: {', '.join(c['missing'])}" if c["missing"] else ""
            stale = "  (stale: being recomputed)" if c["stale"] else ""
            w(
                f"  {c['channel']:<16} {c['locale']:<6} {c['ratio']:>3}%  "
                f"{c['filled']}/{c['required']}{missing}{stale}"
            )

    def history(self, sku, limit, **o):
        changes = services.history(sku)[: max(1, limit)]
        for c in changes:
            if o["json"]:
                self.stdout.write(
                    _json(
                        {
                            "version": c.version,
                            "at": c.at,
                            "user": c.username or "system",
                            "via": c.via,
                            "action": c.action,
                            "changes": c.changes,
                        }
                    )
                )
                continue
            self.stdout.write(
                f"v{c.version:<4} {c.at:%Y-%m-%d %H:%M:%S}  {c.username or 'system'} ({c.via})"
                f"  {c.action}"
            )
            for change in c.changes:
                what = change.get("attribute") or change["field"]
                where = "@".join(x for x in (change.get("locale"), change.get("scope")) if x)
                what += f"[{where}]" if where else ""
                self.stdout.write(
                    f"      {what}: {_text(change.get('old'))} → {_text(change.get('new'))}"
                )

    # --- writing ---

    def upsert(self, file, **o):
        stream = sys.stdin if file == "-" else _open(file)
        total = None
        if file != "-":
            with _open(file) as counting:
                total = sum(1 for raw in counting if raw.strip())
        line_of: dict[int, int] = {}  # item number → line of the file, while in flight
        bad_json: dict[int, str] = {}

        def items():
            number = 0
            for line, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                number += 1
                line_of[number] = line
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError as exc:
                    bad_json[number] = f"not JSON: {exc.msg} (column {exc.colno})"
                    yield None  # bulk_upsert reports it; the message above says why

        counts: Counter = Counter()
        errors = []
        try:
            results = services.bulk_upsert(items())
            for result in progress(results, total=total, description="upserting products"):
                line = line_of.pop(result["line"])
                status = "error" if result["status"] == "conflict" else result["status"]
                counts[status] += 1
                if status == "error":
                    message = bad_json.pop(result["line"], None) or result.get("message", "")
                    errors.append((line, result.get("sku"), message))
        finally:
            if stream is not sys.stdin:
                stream.close()
        for line, sku, message in errors:
            self.stderr.write(f"line {line}{f' ({sku})' if sku else ''}: {message}")
        self.stdout.write(
            f"created {counts['created']}, updated {counts['updated']}, "
            f"unchanged {counts['unchanged']}, errors {counts['error']}"
        )
        if errors:
            raise CommandError(f"{counted(len(errors), 'line')} not saved; see above", returncode=1)

    def delete(self, sku, **o):
        services.delete_product(sku)
        self.stdout.write(f"deleted {sku}")

    def restore(self, sku, version, **o):
        product = services.restore_version(sku, version)
        self.stdout.write(f"restored {sku} to version {version} (now version {product.version})")

    def bulk_edit(self, operations=None, no_wait=False, sku=(), **o):
        if not operations:
            raise InvalidInput("give at least one operation, e.g. --set color=blue or --disable")
        f = _filter_dict(o)
        if sku:
            f["skus"] = list(sku)
        job = bulk_edit.start_bulk_edit(f, _operations(operations), user=current_actor().user)
        self.stderr.write(f"job {job.pk}: {job.label}")
        if no_wait:
            self.stdout.write(str(job.pk))
            return
        job = self._wait(job)
        result = job.result or {}
        for err in job.errors:
            self.stderr.write(f"{err.get('item')}: {err.get('message')}")
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"the bulk edit {job.status}: {job.message}", returncode=1)
        self.stdout.write(
            f"updated {result.get('updated', 0)}, proposed {result.get('proposed', 0)}, "
            f"unchanged {result.get('unchanged', 0)}, failed {result.get('failed', 0)}"
        )
        if job.items_failed:
            failed = counted(job.items_failed, "product")
            raise CommandError(f"{failed} not edited; see above", returncode=1)

    def _wait(self, job: Job) -> Job:
        started = time.monotonic()
        hinted = False

        def ticks():
            nonlocal hinted
            seen = 0
            while True:
                job.refresh_from_db()
                while seen < job.progress_done:
                    seen += 1
                    yield seen
                if job.is_finished:
                    return
                if (
                    job.status == Job.Status.QUEUED
                    and not hinted
                    and time.monotonic() - started > STILL_QUEUED_HINT
                ):
                    hinted = True
                    self.stderr.write(
                        "still queued: is a worker running (`folio serve` or `folio worker`)? "
                        f"Follow it with `folio jobs wait {job.pk}`."
                    )
                time.sleep(0.3)

        for _ in progress(ticks(), total=job.progress_total, description="bulk edit"):
            pass
        return job


def _selection_arguments(parser) -> None:
    parser.add_argument("--family", action="append", default=[], help="(repeat for several)")
    parser.add_argument("--category", action="append", default=[], help="in it or below")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        help="attribute condition, e.g. 'capacity>=500 ml', 'color in blue,green', "
        "'name[en_US] contains bottle' (repeat: all must hold)",
    )
    parser.add_argument("--q", default=None, help="full-text search")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--enabled-only", dest="enabled", action="store_const", const=True)
    state.add_argument("--disabled-only", dest="enabled", action="store_const", const=False)


def _filter_dict(o: dict) -> dict:
    out = {
        "families": o.get("family") or [],
        "categories": o.get("category") or [],
        "conditions": o.get("filter") or [],
        "search": o.get("q"),
        "enabled": o.get("enabled"),
    }
    return {k: v for k, v in out.items() if v not in (None, [])}


def _filter(o: dict) -> queries.ProductFilter:
    f = _filter_dict(o)
    f["conditions"] = [queries.parse_condition(c) for c in f.get("conditions", [])]
    return queries.ProductFilter(**f)


def _operations(given: list[tuple[str, object]]) -> list[dict]:
    ops = []
    for kind, value in given:
        if kind in ("set", "add", "remove"):
            ops.append(bulk_edit.operation_from_text(kind, value))
        elif kind in ("enable", "disable"):
            ops.append({"op": kind})
        elif kind == "set-family":
            ops.append({"op": "set", "field": "family", "value": value})
        else:
            op, field = kind.split("-")
            codes = [c.strip() for c in str(value).split(",") if c.strip()]
            ops.append({"op": op, "field": field, "value": codes})
    return ops


def _open(path: str):
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def _json(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)


def _text(data) -> str:
    """A value as a person reads it: `750 MILLILITER`, `24.9 USD, 22 EUR`, `glass, steel`."""
    if data is None:
        return "-"
    if isinstance(data, dict) and "amount" in data:
        return f"{data['amount']} {data.get('unit', '')}".strip()
    if isinstance(data, list):
        if all(isinstance(x, dict) and "currency" in x for x in data):
            return ", ".join(f"{x['amount']} {x['currency']}" for x in data)
        return ", ".join(str(x) for x in data)
    if isinstance(data, bool):
        return "yes" if data else "no"
    return str(data)
