"""Running an import: every table of the source in dependency order, each row through the
catalog's own service functions, every problem reported with file, row, column, value and
reason.

Modes:
- per row (default): a bad row is reported and skipped; the others are written. A row is
  written whole or not at all (products through services.bulk_upsert, which saves each item
  whole; product models through services.save_model; structure rows through
  folio.catalog.structure), and its media are checked before it is written.
- all or nothing: the whole import runs in one transaction, rolled back if any row fails.
- dry run: the same, always rolled back — every check runs against the real catalog,
  including rows that depend on earlier rows of the import, and nothing is kept.

Re-running the same files changes nothing: unchanged rows are reported as such, with no
history and no audit entry.

Memory stays flat whatever the file size: rows are read one at a time and written 1,000 at a
time; the SKUs already seen (duplicate detection) live in a small temporary SQLite file, rows
that must wait for rows further down the file in a temporary spool, and only the first
MAX_PROBLEMS problems are kept (the count goes on).
"""

import contextlib
import logging
import os
import pickle
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db import transaction

from folio import faults
from folio.accounts.roles import roles_granting
from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import Association, Product, ProductModel
from folio.errors import FolioError
from folio.imports import columns, structure_io
from folio.imports.limits import limit
from folio.imports.media import MediaStore, role_for_attribute
from folio.imports.readers import (
    DELIMITER_NAMES,
    ReadError,
    Table,
    open_tables,
    unescape_cell,
)
from folio.imports.sources import KINDS, Source, kind_of_name

log = logging.getLogger("folio.imports")
BATCH = catalog.BATCH
MODEL_BATCH = 200
PERMISSIONS = {
    "locales": "locale",
    "currencies": "currency",
    "categories": "category",
    "channels": "channel",
    "attribute_groups": "attributegroup",
    "attributes": "attribute",
    "attribute_options": "attributeoption",
    "families": "family",
    "family_variants": "familyvariant",
    "association_types": "associationtype",
    "groups": "productgroup",
    "product_models": "productmodel",
    "products": "product",
}


class Rollback(Exception):
    pass


# --- the report ----------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.files: list[dict] = []
        self.problems: list[dict] = []
        self.errors = 0
        self.warnings = 0
        self.media: dict = {}
        self.rolled_back = False

    def add(
        self, *, file="", row=None, column="", value="", reason="", code="", severity="error"
    ) -> None:
        if severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        if len(self.problems) < limit("MAX_PROBLEMS"):
            self.problems.append(
                {
                    "severity": severity,
                    "file": file,
                    "row": row,
                    "column": column or "",
                    "value": str(value or "")[:300],
                    "code": str(code or "")[:200],
                    "reason": str(reason),
                }
            )

    @property
    def problem_count(self) -> int:
        return self.errors + self.warnings

    def file(self, name: str, kind: str | None, table: Table | None = None) -> dict:
        counts = {
            "file": name,
            "kind": kind or "",
            "rows": 0,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "skipped": 0,
        }
        if table is not None:
            if table.encoding:
                counts["encoding"] = table.encoding
            if table.delimiter:
                counts["delimiter"] = DELIMITER_NAMES.get(table.delimiter, table.delimiter)
        self.files.append(counts)
        return counts

    def totals(self) -> dict:
        out = {k: 0 for k in ("rows", "created", "updated", "unchanged", "skipped")}
        for f in self.files:
            for k in out:
                out[k] += f.get(k, 0)
        out["errors"] = self.errors
        out["warnings"] = self.warnings
        return out

    @property
    def ok(self) -> int:
        t = self.totals()
        return t["created"] + t["updated"] + t["unchanged"]


# --- helpers: duplicates and waiting rows, on disk ------------------------------------------


class SeenKeys:
    """SKUs (or codes) already read from a file, with their row: a small SQLite file, so a
    10-million-row file costs disk, not memory."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="folio-import-seen-", suffix=".sqlite3")
        os.close(fd)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE seen (k TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")

    def first_rows(self, keys: list[str]) -> dict[str, int]:
        out = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self.db.execute(f"SELECT k, row FROM seen WHERE k IN ({marks})", chunk))  # noqa: S608
        return out

    def add(self, pairs: list[tuple[str, int]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)

    def close(self) -> None:
        self.db.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class Spool:
    """Rows set aside until the rows they refer to are written (a product whose X_SELL names
    a product further down the file, a sub-model before its root)."""

    def __init__(self):
        self.fh = tempfile.TemporaryFile(prefix="folio-import-wait-")  # noqa: SIM115
        self.count = 0

    def add(self, row) -> None:
        pickle.dump(row, self.fh)
        self.count += 1

    def drain(self) -> Iterator:
        self.fh.seek(0)
        n = self.count
        for _ in range(n):
            yield pickle.load(self.fh)  # noqa: S301 - our own temporary file
        self.fh.seek(0)
        self.fh.truncate()
        self.count = 0

    def close(self) -> None:
        self.fh.close()


@dataclass
class Row:
    number: int
    cells: list
    res: columns.RowResult
    asset_ids: dict = field(default_factory=dict)  # (attribute, locale, scope) → ids
    media_ids: list = field(default_factory=list)  # (role, locale, ids)

    @property
    def key(self) -> str:
        return self.res.key


def _batched(it, n):
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def _detail_list(details) -> list[dict]:
    if isinstance(details, dict):
        return [details]
    if isinstance(details, list):
        return [d for d in details if isinstance(d, dict)]
    return []


# --- the importer -----------------------------------------------------------------------------


class Importer:
    def __init__(
        self,
        source: Source,
        *,
        user=None,
        dry_run: bool = False,
        all_or_nothing: bool = False,
        mapping=None,
        kind: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        decimal_comma: bool = False,
        sheet: str | None = None,
    ):
        self.source = source
        self.user = user
        self.dry_run = dry_run
        self.all_or_nothing = all_or_nothing
        self.mapping = mapping
        options = dict(mapping.options) if mapping is not None else {}
        self.kind = kind or options.get("kind")
        if self.kind is not None and self.kind not in KINDS:
            raise FolioError(f"unknown kind {self.kind!r}; one of {', '.join(KINDS)}")
        self.encoding = encoding or options.get("encoding")
        self.delimiter = delimiter or options.get("delimiter")
        self.decimal_comma = decimal_comma or bool(options.get("decimal_comma"))
        self.sheet = sheet or options.get("sheet")
        self.default_family = options.get("family")
        self.report = Report()
        self.media = MediaStore(source, user=user, dry_run=dry_run)
        self.ctx = structure_io.Context()
        self.estimated = None
        self.structure: v.Structure | None = None

    @property
    def single_transaction(self) -> bool:
        return self.dry_run or self.all_or_nothing

    # --- estimating and permissions ---

    def estimate_rows(self) -> int:
        total = 0
        for entry in self.source.entries:
            try:
                for table in open_tables(
                    entry.path,
                    entry.name,
                    encoding=self.encoding,
                    delimiter=self.delimiter,
                    sheet=self.sheet,
                ):
                    total += table.estimated_rows or 0
                    table.close()
            except ReadError:
                continue
        self.estimated = total
        return total

    def _allowed(self, kind: str, file: str, *, media: bool = False) -> bool:
        if self.user is None:
            return True
        model = PERMISSIONS[kind]
        perms = [f"catalog.add_{model}", f"catalog.change_{model}"]
        if media:
            perms += ["assets.add_asset", "linking.add_link"]
        missing = [p for p in perms if not self.user.has_perm(p)]
        if missing:
            self.report.add(
                file=file,
                row=1,
                reason=f"your role does not allow importing {kind.replace('_', ' ')} "
                f"({', '.join(missing)}); the file is not read — roles that may: "
                f"{', '.join(roles_granting(perms))}",
            )
            return False
        return True

    # --- running ---

    def run(self) -> Iterator[int]:
        """Import everything; yields the number of rows finished as it goes (for progress
        bars). Read the outcome from `self.report` afterwards."""
        try:
            if self.single_transaction:
                with transaction.atomic():
                    yield from self._everything()
                    if self.dry_run or self.report.errors:
                        raise Rollback
            else:
                yield from self._everything()
        except Rollback:
            self.report.rolled_back = True

    def _everything(self) -> Iterator[int]:
        groups_pending = False
        entries = self.source.ordered()
        if not entries and self.source.media_dir is None:
            self.report.add(reason="nothing to import: no CSV or XLSX file")
        for entry in entries:
            tables = self._tables(entry)
            while True:
                try:
                    table = next(tables)
                except StopIteration:
                    break
                except ReadError as exc:
                    self.report.file(entry.name, entry.kind)
                    self.report.add(file=entry.name, row=exc.row, reason=exc.message)
                    break
                kind = self._kind_of(entry, table)
                if (
                    groups_pending
                    and kind is not None
                    and KINDS.index(kind) > KINDS.index("attributes")
                ):
                    yield from self._apply_group_members(entry.name)
                    groups_pending = False
                try:
                    yield from self._table(table, kind)
                except ReadError as exc:
                    self.report.add(file=table.file, row=exc.row, reason=exc.message)
                finally:
                    table.close()
                if kind == "attribute_groups":
                    groups_pending = True
                elif kind == "attributes":
                    yield from self._apply_group_members(table.file)
                    groups_pending = False
        if groups_pending:
            yield from self._apply_group_members("attribute_groups")
        yield from self._media_folder()
        named = self.media.named
        for name in self.source.unknown:
            if (self.source.root / name).resolve() not in named:
                self.report.add(
                    file=name,
                    reason="not read: only CSV and XLSX files are imported, and no row names "
                    "this file as media",
                    severity="warning",
                )

    def _tables(self, entry) -> Iterator[Table]:
        # Workbooks are opened one sheet at a time; each sheet is read before the next.
        yield from open_tables(
            entry.path,
            entry.name,
            encoding=self.encoding,
            delimiter=self.delimiter,
            sheet=self.sheet,
            sheet_order=_sheet_order,
        )

    def _kind_of(self, entry, table: Table) -> str | None:
        if self.kind and len(self.source.entries) == 1:  # what one file holds, when asked
            return self.kind
        if table.sheet:
            by_sheet = kind_of_name(table.sheet)
            if by_sheet:
                return by_sheet
        if entry.kind:
            return entry.kind
        header = set(table.header)
        if "sku" in header:
            return "products"
        if {"code", "family_variant"} <= header:
            return "product_models"
        if {"attribute", "code"} <= header:
            return "attribute_options"
        if any(h.startswith("variant-axes_") for h in header):
            return "family_variants"
        if any(h.startswith("requirements-") for h in header) or "attribute_as_label" in header:
            return "families"
        if {"code", "type"} <= header and "is_two_way" not in header:
            return "attributes"
        return None

    def _table(self, table: Table, kind: str | None) -> Iterator[int]:
        counts = self.report.file(table.file, kind, table)
        for note in table.notes:
            self.report.add(file=table.file, reason=note, severity="warning")
        if kind is None:
            self.report.add(
                file=table.file,
                row=1,
                reason="cannot tell what this file holds; name it after its content "
                f"({', '.join(KINDS)}.csv) or give the kind (--kind)",
            )
            return
        if kind == "products":
            yield from self._products(table, counts)
        elif kind == "product_models":
            yield from self._models(table, counts)
        else:
            yield from self._structure(table, kind, counts)

    def _fail(self, counts, file, number, problems, code="") -> None:
        counts["skipped"] += 1
        for column, value, reason in problems:
            self.report.add(
                file=file, row=number, column=column, value=value, reason=reason, code=code
            )

    def _plan_problems(self, table: Table, problems) -> bool:
        refused = False
        for column, reason, severity in problems:
            self.report.add(file=table.file, row=1, column=column, reason=reason, severity=severity)
            refused = refused or severity == "error"
        if refused:
            self.report.add(
                file=table.file,
                row=1,
                reason="the file is not read: fix its header (or map or ignore the columns "
                "with a saved mapping)",
            )
        return refused

    # --- products ---

    def _planned(self, table: Table, kind: str, structure, mapping_columns):
        """The column plan of a products or models file, or None when its columns have
        problems (reported) or the user may not import it."""
        plan = columns.plan_columns(
            table.header,
            kind,
            structure,
            mapping_columns=mapping_columns,
            decimal_comma=self.decimal_comma,
        )
        if self._plan_problems(table, plan.problems):
            return None
        if not self._allowed(kind, table.file, media=plan.has_media or plan.has_assets):
            return None
        return plan

    def _products(self, table: Table, counts: dict) -> Iterator[int]:
        structure = self.structure = v.Structure.load()
        plan = self._planned(
            table,
            "products",
            structure,
            self.mapping.columns if self.mapping is not None else None,
        )
        if plan is None:
            return
        reader = columns.RowReader(plan)
        finder = _Finder(plan)
        seen = SeenKeys()
        waiting = Spool()
        try:
            waiting = yield from self._product_pass(
                table.rows,
                table.file,
                plan,
                reader,
                finder,
                seen,
                waiting,
                counts,
                fresh=True,
                can_wait=True,
                structure=structure,
            )
            rounds = limit("MAX_DEFERRED_ROUNDS")
            for round_no in range(rounds):
                if not waiting.count:
                    break
                before = waiting.count
                stuck = round_no == rounds - 1
                pending, waiting = waiting, Spool()
                waiting = yield from self._product_pass(
                    pending.drain(),
                    table.file,
                    plan,
                    reader,
                    finder,
                    seen,
                    waiting,
                    counts,
                    fresh=False,
                    can_wait=not stuck,
                )
                pending.close()
                if waiting.count >= before:  # nothing moved: write them, and report why not
                    pending, waiting = waiting, Spool()
                    waiting = yield from self._product_pass(
                        pending.drain(),
                        table.file,
                        plan,
                        reader,
                        finder,
                        seen,
                        waiting,
                        counts,
                        fresh=False,
                        can_wait=False,
                    )
                    pending.close()
        finally:
            seen.close()
            waiting.close()

    def _product_pass(
        self,
        rows,
        file,
        plan,
        reader,
        finder,
        seen,
        waiting,
        counts,
        *,
        fresh,
        can_wait,
        structure=None,
    ) -> Iterator[int]:
        inflight: dict[int, Row] = {}
        ticks = [0]
        line = [0]

        def items():
            for batch in _batched(rows, BATCH):
                ready = []
                for raw in batch:
                    if not fresh:
                        ready.append(raw)  # read and checked in the first pass
                        continue
                    number, cells, problem = raw
                    if cells is None:  # the rest of the file cannot be read
                        self.report.add(file=file, row=number, reason=problem)
                        continue
                    counts["rows"] += 1
                    if problem:
                        self._fail(counts, file, number, [("", "", problem)])
                        ticks[0] += 1
                        continue
                    res = reader.read(cells)
                    if self.default_family and "family" not in res.item:
                        res.item["family"] = self.default_family
                    sku = res.key
                    if not sku:
                        res.problems.append((finder.header("sku"), "", "the SKU is empty"))
                    if res.problems:
                        more = self._also_wrong(res, structure, finder, cells) if sku else []
                        self._fail(counts, file, number, res.problems + more, sku)
                        ticks[0] += 1
                        continue
                    ready.append(Row(number, cells, res))
                if fresh:
                    ready = self._unique(ready, seen, file, counts, finder, ticks)
                for row in self._complete(
                    ready, plan, reader, file, counts, waiting, can_wait, finder, ticks
                ):
                    line[0] += 1
                    inflight[line[0]] = row
                    yield row.res.item

        for result in catalog.bulk_upsert(items()):
            row = inflight.pop(result["line"])
            self._product_result(row, result, plan, file, counts, finder)
            faults.point("import.row_committed")
            ticks[0] += 1
            if ticks[0] >= 100:
                yield ticks[0]
                ticks[0] = 0
        if ticks[0]:
            yield ticks[0]
        return waiting

    def _also_wrong(self, res, structure, finder, cells) -> list[tuple]:
        """What else the catalog finds wrong with a row that is refused already (a dry run
        reports every problem, not the first): validated, never written."""
        item = dict(res.item)
        existing = (
            Product.objects.select_related("parent__parent", "parent__family_variant", "family")
            .filter(sku=item["sku"])
            .first()
        )
        try:
            _, errors = catalog.prepare_product(
                item, existing, structure, catalog.Lookups([item]), partial=existing is not None
            )
        except FolioError:
            return []
        seen = {column for column, _, _ in res.problems}
        out = []
        for d in errors.items:
            col = finder.find(d)
            if col is not None and col.header not in seen:
                out.append((col.header, cells[col.index], d["reason"]))
        return out

    def _unique(self, ready: list[Row], seen: SeenKeys, file, counts, finder, ticks) -> list[Row]:
        first = seen.first_rows([r.key for r in ready])
        kept, new = [], []
        for r in ready:
            if r.key in first:
                self._fail(
                    counts,
                    file,
                    r.number,
                    [
                        (
                            finder.header("sku") or finder.header("code"),
                            r.key,
                            f"{r.key} appears again (first on row {first[r.key]}); each once per "
                            "file — this row is skipped",
                        )
                    ],
                    r.key,
                )
                ticks[0] += 1
                continue
            first[r.key] = r.number
            new.append((r.key, r.number))
            kept.append(r)
        seen.add(new)
        return kept

    def _complete(
        self, rows: list[Row], plan, reader, file, counts, waiting, can_wait, finder, ticks
    ) -> list[Row]:
        """Finish the items of a batch against the catalog: empty cells clear values the
        product has, prices keep currencies the file has no column for, associations keep
        the types the file does not speak for; rows naming products further down the file
        wait; media are checked (and stored)."""
        if not rows:
            return []
        skus = [r.key for r in rows]
        existing = dict(Product.objects.filter(sku__in=skus).values_list("sku", "values"))
        links = _existing_associations(existing) if plan.covered_associations else {}
        targets = {
            t["sku"] if isinstance(t, dict) else t
            for r in rows
            for (_, target), lst in (r.res.associations or {}).items()
            if target == "products"
            for t in lst
        }
        batch_skus = set(skus)
        known = set()
        if targets:
            known = set(
                Product.objects.filter(sku__in=list(targets - batch_skus)).values_list(
                    "sku", flat=True
                )
            )
        waits: set[str] = set()
        if can_wait and targets:
            while True:
                writable = batch_skus - waits
                more = {
                    r.key for r in rows if r.key not in waits and _targets_of(r) - known - writable
                }
                if not more:
                    break
                waits |= more
        models = self._parents(rows)
        ready = []
        for r in rows:
            if r.key in waits:
                waiting.add(r)
                continue
            item = r.res.item
            parent = models.get(item.get("parent"))
            if parent is not None and item.get("values"):
                _drop_inherited(item["values"], parent, self.structure)
            old = existing.get(r.key)
            if old is not None and "values" in item:
                columns.clear_missing(plan, item["values"], old)
            reader.empty_lists(item)
            if plan.covered_associations:
                item["associations"] = _merge_associations(
                    plan, r.res.associations, links.get(r.key)
                )
            if (r.res.assets or r.res.media) and not self._media_for(r, file, counts, ticks):
                continue
            ready.append(r)
        return ready

    def _parents(self, rows: list[Row]) -> dict:
        codes = {r.res.item.get("parent") for r in rows} - {None, ""}
        if not codes:
            return {}
        return {
            m.code: m
            for m in ProductModel.objects.select_related("parent", "family_variant").filter(
                code__in=codes
            )
        }

    def _media_for(self, r: Row, file, counts, ticks) -> bool:
        problems = []
        for code, locale, scope, refs, header in r.res.assets:
            ids = []
            for ref in refs:
                try:
                    ids.append(self.media.asset_for(ref))
                except (ValueError, FolioError, OSError) as exc:
                    problems.append((header, ref, getattr(exc, "message", None) or str(exc)))
            r.asset_ids[(code, locale, scope)] = ids
            for e in r.res.item.get("values", {}).get(code, []):
                if e["locale"] == locale and e["scope"] == scope:
                    e["data"] = [
                        str(i) if i > 0 else ref for i, ref in zip(ids, refs, strict=False)
                    ]
        for role, locale, refs, header in r.res.media:
            ids = []
            for ref in refs:
                try:
                    ids.append(self.media.asset_for(ref))
                except (ValueError, FolioError, OSError) as exc:
                    problems.append((header, ref, getattr(exc, "message", None) or str(exc)))
            r.media_ids.append((role, locale, ids))
        if problems:
            self._fail(counts, file, r.number, problems, r.key)
            ticks[0] += 1
            return False
        return True

    def _product_result(self, row: Row, result: dict, plan, file, counts, finder) -> None:
        status = result["status"]
        if status in ("created", "updated", "unchanged"):
            counts[status] += 1
            if (row.media_ids or row.asset_ids) and not self.dry_run:
                self._link(Product, row, file, plan)
            return
        counts["skipped"] += 1
        details = _detail_list(result.get("details"))
        if not details:
            column = finder.header("sku") if "SKU" in result.get("message", "") else ""
            self.report.add(
                file=file,
                row=row.number,
                column=column,
                value=row.key if column else "",
                reason=result.get("message", ""),
                code=row.key,
            )
            return
        for d in details:
            col = finder.find(d)
            self.report.add(
                file=file,
                row=row.number,
                column=col.header if col else "",
                value=row.cells[col.index] if col else "",
                reason=d.get("reason") or result.get("message", ""),
                code=row.key,
            )

    def _link(self, model, row: Row, file, plan) -> None:
        key = "sku" if model is Product else "code"
        owner = (
            model.objects.select_related(
                *(["family"] if model is Product else ["family_variant__family"])
            )
            .filter(**{key: row.key})
            .first()
        )
        if owner is None:
            return
        family = owner.family if model is Product else owner.family_variant.family
        image = family.image_attribute.code if family and family.image_attribute_id else None
        try:
            for (code, locale, _scope), ids in row.asset_ids.items():
                self.media.link(
                    owner, [i for i in ids if i > 0], role_for_attribute(code, image), locale or ""
                )
            for role, locale, ids in row.media_ids:
                self.media.link(owner, [i for i in ids if i > 0], role, locale)
        except FolioError as exc:
            self.report.add(
                file=file,
                row=row.number,
                code=row.key,
                reason=f"saved, but its media could not be linked: {exc.message}",
            )

    # --- product models ---

    def _models(self, table: Table, counts: dict) -> Iterator[int]:
        structure = v.Structure.load()
        plan = self._planned(
            table,
            "product_models",
            structure,
            self.mapping.columns
            if self.mapping is not None and self.kind == "product_models"
            else None,
        )
        if plan is None:
            return
        reader = columns.RowReader(plan)
        finder = _Finder(plan)
        seen = SeenKeys()
        waiting = Spool()
        try:
            waiting = yield from self._model_pass(
                table.rows,
                table.file,
                plan,
                reader,
                finder,
                structure,
                seen,
                waiting,
                counts,
                fresh=True,
                can_wait=True,
            )
            for _ in range(limit("MAX_DEFERRED_ROUNDS")):
                if not waiting.count:
                    break
                before = waiting.count
                pending, waiting = waiting, Spool()
                waiting = yield from self._model_pass(
                    pending.drain(),
                    table.file,
                    plan,
                    reader,
                    finder,
                    structure,
                    seen,
                    waiting,
                    counts,
                    fresh=False,
                    can_wait=True,
                )
                pending.close()
                if waiting.count >= before:
                    pending, waiting = waiting, Spool()
                    waiting = yield from self._model_pass(
                        pending.drain(),
                        table.file,
                        plan,
                        reader,
                        finder,
                        structure,
                        seen,
                        waiting,
                        counts,
                        fresh=False,
                        can_wait=False,
                    )
                    pending.close()
        finally:
            seen.close()
            waiting.close()

    def _model_pass(
        self, rows, file, plan, reader, finder, structure, seen, waiting, counts, *, fresh, can_wait
    ) -> Iterator[int]:
        ticks = [0]
        for batch in _batched(rows, MODEL_BATCH):
            ready = []
            for raw in batch:
                if not fresh:
                    ready.append(raw)
                    continue
                number, cells, problem = raw
                if cells is None:  # the rest of the file cannot be read
                    self.report.add(file=file, row=number, reason=problem)
                    continue
                counts["rows"] += 1
                if problem:
                    self._fail(counts, file, number, [("", "", problem)])
                    ticks[0] += 1
                    continue
                res = reader.read(cells)
                if not res.key:
                    res.problems.append((finder.header("code"), "", "the code is empty"))
                if res.problems:
                    self._fail(counts, file, number, res.problems, res.key)
                    ticks[0] += 1
                    continue
                ready.append(Row(number, cells, res))
            if fresh:
                ready = self._unique(ready, seen, file, counts, finder, ticks)
            codes = [r.key for r in ready]
            existing = {
                m.code: m
                for m in ProductModel.objects.select_related("family_variant", "parent")
                .prefetch_related("categories")
                .filter(code__in=codes)
            }
            parents = {r.res.item.get("parent") for r in ready} - {None, ""}
            known = set(
                ProductModel.objects.filter(code__in=parents).values_list("code", flat=True)
            )
            for r in ready:
                parent = r.res.item.get("parent")
                if parent and parent not in known and r.key not in existing:
                    if can_wait:
                        waiting.add(r)
                        continue
                    self._fail(
                        counts,
                        file,
                        r.number,
                        [
                            (
                                finder.header("parent"),
                                parent,
                                f"no product model {parent!r} (not in the catalog, nor written "
                                "from this file)",
                            )
                        ],
                        r.key,
                    )
                    ticks[0] += 1
                    continue
                status = self._save_model(
                    r, existing.get(r.key), plan, reader, structure, file, counts, finder, ticks
                )
                if status in ("created", "updated", "unchanged"):
                    known.add(r.key)
                ticks[0] += 1
            if ticks[0]:
                yield ticks[0]
                ticks[0] = 0
        return waiting

    def _save_model(
        self, r: Row, model, plan, reader, structure, file, counts, finder, ticks
    ) -> str:
        item = dict(r.res.item)
        item.pop("enabled", None)
        if model is not None:
            if "values" in item:
                columns.clear_missing(plan, item["values"], model.values)
            if not item.get("parent"):
                item.pop("parent", None)
            if not item.get("family_variant"):
                item.pop("family_variant", None)
        reader.empty_lists(item)
        item.pop("groups", None)
        if (r.res.assets or r.res.media) and not self._media_for(r, file, counts, ticks):
            ticks[0] -= 1  # counted by the caller
            return "skipped"
        if model is not None and _model_unchanged(model, item, structure):
            status = "unchanged"
        else:
            try:
                with transaction.atomic():
                    catalog.save_model(item, create=model is None)
                status = "created" if model is None else "updated"
            except FolioError as exc:
                counts["skipped"] += 1
                details = _detail_list(exc.details)
                if not details:
                    self.report.add(file=file, row=r.number, code=r.key, reason=exc.message)
                for d in details:
                    col = finder.find(d)
                    self.report.add(
                        file=file,
                        row=r.number,
                        code=r.key,
                        column=col.header if col else "",
                        value=r.cells[col.index] if col else "",
                        reason=d.get("reason") or exc.message,
                    )
                return "skipped"
        counts[status] += 1
        if (r.media_ids or r.asset_ids) and not self.dry_run:
            self._link(ProductModel, r, file, plan)
        return status

    # --- structure ---

    def _structure(self, table: Table, kind: str, counts: dict) -> Iterator[int]:
        plan = structure_io.plan_structure(kind, table.header)
        if self._plan_problems(table, plan.problems):
            return
        if not self._allowed(kind, table.file):
            return
        failed: list[tuple] = []
        for number, cells, problem in table.rows:
            if cells is None:  # the rest of the file cannot be read
                self.report.add(file=table.file, row=number, reason=problem)
                continue
            counts["rows"] += 1
            if problem:
                self._fail(counts, table.file, number, [("", "", problem)])
                yield 1
                continue
            data = {name: unescape_cell(cells[i]) for i, name in plan.columns.items()}
            outcome = self._structure_row(kind, data)
            if isinstance(outcome, str):
                counts[outcome] = counts.get(outcome, 0) + 1
            elif len(failed) < limit("MAX_PROBLEMS"):
                failed.append((number, cells, data, outcome))
            else:
                self._structure_problem(table.file, plan, number, data, outcome)
                counts["skipped"] += 1
            yield 1
        # Rows that named something further down the file (a category's parent) go again.
        for _ in range(limit("MAX_DEFERRED_ROUNDS")):
            if not failed:
                break
            again = []
            for number, cells, data, _error in failed:
                outcome = self._structure_row(kind, data)
                if isinstance(outcome, str):
                    counts[outcome] += 1
                else:
                    again.append((number, cells, data, outcome))
            progress = len(again) < len(failed)
            failed = again
            if not progress:
                break
        for number, _cells, data, error in failed:
            counts["skipped"] += 1
            self._structure_problem(table.file, plan, number, data, error)
        for where, note in self.ctx.notes:
            self.report.add(file=table.file, code=where, reason=note, severity="warning")
        self.ctx.notes.clear()

    def _structure_row(self, kind, data):
        try:
            with transaction.atomic():
                return structure_io.import_row(kind, data, self.ctx)
        except (structure_io.CellProblem, FolioError) as exc:
            return exc

    def _structure_problem(self, file, plan, number, data, error) -> None:
        code = data.get("code", "")
        if isinstance(error, structure_io.CellProblem):
            column = plan.headers.get(error.column, error.column)
            self.report.add(
                file=file,
                row=number,
                column=column,
                value=data.get(error.column, ""),
                reason=error.reason,
                code=code,
            )
            return
        details = error.details if isinstance(error.details, dict) else {}
        field_name = details.get("field") or ""
        canonical = field_name.split("[")[0].split(".")[0]
        if canonical == "labels":
            canonical = next((k for k in plan.headers if k.startswith("label-")), "labels")
        elif canonical == "requirements":
            channel = details.get("channel")
            canonical = (
                f"requirements-{channel}"
                if channel
                else next((k for k in plan.headers if k.startswith("requirements-")), canonical)
            )
        elif canonical == "levels" or canonical.startswith("levels"):
            canonical = next((k for k in plan.headers if k.startswith("variant-")), canonical)
        column = plan.headers.get(canonical, "")
        self.report.add(
            file=file,
            row=number,
            column=column,
            value=data.get(canonical, "") if column else "",
            reason=error.message,
            code=code,
        )

    def _apply_group_members(self, file: str) -> Iterator[int]:
        if not self.ctx.group_members:
            return
        try:
            with transaction.atomic():
                structure_io.apply_group_members(self.ctx)
        except FolioError as exc:
            self.report.add(file=file, reason=f"attribute group members: {exc.message}")
        yield 0

    # --- the media folder ---

    def _media_folder(self) -> Iterator[int]:
        if self.source.media_dir is None:
            return
        try:
            files = self.media.unnamed_files()
        except FolioError as exc:
            self.report.add(file="media", reason=exc.message)
            return
        self.report.media = {"files_in_folder": len(files)}
        if not files:
            return
        if self.user is not None and not all(
            self.user.has_perm(p) for p in ("assets.add_asset", "linking.add_link")
        ):
            self.report.add(
                file="media",
                reason="your role does not allow adding media (assets.add_asset, "
                "linking.add_link); the media folder is not read",
            )
            return
        if self.dry_run:
            from folio.linking import autolink

            patterns = autolink.compiled_patterns()
            unmatched = [p for p in files if not autolink._candidates(p.name, patterns)]
            self.report.media.update(would_add=len(files), match_no_pattern=len(unmatched))
            for p in unmatched[:100]:
                self.report.add(
                    file=f"media/{p.name}",
                    reason="matches no auto-link pattern; it would be added without links",
                    severity="warning",
                )
            yield len(files)
            return
        from folio.linking import autolink

        ids, problems = self.media.add_folder(files)
        for name, reason in problems:
            self.report.add(file=f"media/{name}", reason=reason)
        result = autolink.autolink([i for i in ids if i > 0], user=self.user)
        self.report.media.update(
            linked=len(result["linked"]),
            unmatched=len(result["unmatched"]),
            already_linked=len(result["skipped_existing"]),
        )
        for u in result["unmatched"][:1000]:
            self.report.add(
                file=f"media/{u['filename']}",
                reason=f"not linked: {u['reason']}",
                severity="warning",
            )
        yield len(files)

    def summary(self) -> dict:
        return {
            "totals": self.report.totals(),
            "files": self.report.files,
            "media": {
                **self.report.media,
                "assets_created": self.media.created,
                "assets_reused": self.media.reused,
                "links_added": self.media.linked,
            },
            "dry_run": self.dry_run,
            "rolled_back": self.report.rolled_back,
        }


# --- helpers ---------------------------------------------------------------------------------


class _Finder:
    """The column a catalog error points at: (attribute, locale, channel) or a field."""

    def __init__(self, plan: columns.Plan):
        self.by_key: dict[tuple, columns.Col] = {}
        self.by_field: dict[str, columns.Col] = {}
        for c in plan.cols:
            if c.kind == "value":
                self.by_key.setdefault(c.key, c)
                self.by_field.setdefault(c.code, c)
            elif c.kind == "field":
                self.by_field[c.code] = c
            elif c.kind == "assoc":
                self.by_field.setdefault("associations", c)

    def header(self, name: str) -> str:
        c = self.by_field.get(name)
        return c.header if c else ""

    def find(self, detail: dict) -> columns.Col | None:
        attr = detail.get("attribute") or detail.get("field") or ""
        key = (attr, detail.get("locale"), detail.get("channel"))
        if key in self.by_key:
            return self.by_key[key]
        for part in str(attr).split(","):
            if part in self.by_field:
                return self.by_field[part]
        return None


def _sheet_order(title: str) -> int:
    kind = kind_of_name(title)
    return KINDS.index(kind) if kind else len(KINDS)


def _targets_of(r: Row) -> set[str]:
    return {
        t["sku"] if isinstance(t, dict) else t
        for (_, target), lst in (r.res.associations or {}).items()
        if target == "products"
        for t in lst
    }


def _existing_associations(existing: dict) -> dict[str, dict]:
    if not existing:
        return {}
    out: dict[str, dict] = {}
    for sku, type_code, quantified, product, model, group, qty in Association.objects.filter(
        product__sku__in=list(existing)
    ).values_list(
        "product__sku",
        "type__code",
        "type__quantified",
        "target_product__sku",
        "target_model__code",
        "target_group__code",
        "quantity",
    ):
        bucket = out.setdefault(sku, {}).setdefault(
            type_code, {"products": [], "product_models": [], "groups": []}
        )
        if product:
            bucket["products"].append({"sku": product, "quantity": qty} if quantified else product)
        elif model:
            bucket["product_models"].append(model)
        elif group:
            bucket["groups"].append(group)
    return out


def _merge_associations(plan: columns.Plan, given: dict | None, existing: dict | None) -> dict:
    out = {t: {k: list(x) for k, x in d.items()} for t, d in (existing or {}).items()}
    for type_code, target in plan.covered_associations:
        bucket = out.setdefault(type_code, {"products": [], "product_models": [], "groups": []})
        bucket[target] = list((given or {}).get((type_code, target), []))
    return {t: d for t, d in out.items() if any(d.values())} if existing is None else out


def _drop_inherited(values: dict, parent: ProductModel, structure: v.Structure) -> None:
    """Leave out of a variant's row the values it inherits, when they are its models' very
    values: other PIMs export variants with everything they show. A value that differs from
    the model's stays, and the catalog says where it belongs."""
    levels = structure.variant_levels.get(parent.family_variant_id, {})
    depth = max((lvl for lvl, _ in levels.values()), default=1)
    family = structure.family_attributes.get(parent.family_variant.family_id, frozenset())
    inherited = v.resolve(*(m.values for m in (parent.parent, parent) if m is not None))
    for code in list(values):
        a = structure.attributes.get(code)
        if a is None or code not in family or levels.get(code, (0, False))[0] == depth:
            continue
        kept = []
        for e in values[code]:
            have = v.value_of(inherited, code, e["locale"], e["scope"])
            try:
                data = v.check_data(a, e["data"], structure, e["scope"])
            except (ValueError, TypeError, KeyError):
                data = e["data"]
            if data is None or data != have:
                kept.append(e)
        if kept:
            values[code] = kept
        else:
            del values[code]


def _model_unchanged(model: ProductModel, item: dict, structure: v.Structure) -> bool:
    """Whether saving `item` would change nothing (no history, no audit to record)."""
    if "values" in item:
        errors = v.ValueErrors()
        checked = v.check_document(item["values"], structure, errors, partial=True)
        if errors:
            return False  # let save_model say what is wrong
        if v.diff(model.values, v.merge(model.values, checked)):
            return False
    if "categories" in item:
        have = sorted(c.code for c in model.categories.all())
        if have != sorted(set(item["categories"])):
            return False
    if item.get("family_variant") and item["family_variant"] != model.family_variant.code:
        return False
    parent = model.parent.code if model.parent_id else None
    return not (item.get("parent") and item["parent"] != parent)


def run_to_end(importer: Importer, on_rows=None) -> dict:
    """Run an import synchronously (tests, scripts); returns its summary."""
    started = time.monotonic()
    for n in importer.run():
        if on_rows is not None:
            on_rows(n)
    out = importer.summary()
    out["seconds"] = round(time.monotonic() - started, 3)
    return out
