"""Exports in the import conventions: products, product models and the structure as CSV or
XLSX, with codes (for another import: import → export → import gives the same catalog) or
with labels in one locale (for people). Every cell a spreadsheet could take for a formula
(= + - @ tab CR) gets a leading ', which the importer removes again.

Products stream in id order, 2,000 at a time (one query each for the rows, their categories,
groups and associations), and each row is written by joining its cells: a catalog with 1,500
value columns costs the few cells a product fills, not 1,500 conversions a row.
"""

import contextlib
import csv
import io
import json
import os
import re
import secrets
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.db import connection
from django.db.models import F

from folio import faults
from folio.catalog import bulk_edit
from folio.catalog import values as v
from folio.catalog.models import (
    Association,
    AssociationType,
    Attribute,
    AttributeOption,
    Category,
    Family,
    Product,
    ProductModel,
)
from folio.errors import InvalidInput
from folio.imports.readers import escape_cell
from folio.imports.sources import KINDS

T = Attribute.Type
CHUNK = 2000
STRUCTURE_KINDS = KINDS[:-2]
WHAT = ("products", "models", "structure", "all")
FORMATS = ("csv", "xlsx")


# --- writers ----------------------------------------------------------------------------------


_ESCAPE_FIRST = frozenset("=+-@\t\r'")
_NEEDS_QUOTES = re.compile('[";\r\n]')


class CsvWriter:
    """`;`-separated UTF-8, quoted only where needed — the reference PIM's convention."""

    def __init__(self, path: Path, delimiter: str = ";"):
        if delimiter != ";":
            raise ValueError("exports are ;-separated")
        self.fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.d = delimiter
        self.rows = 0

    def _quote(self, s: str) -> str:
        if '"' in s or self.d in s or "\n" in s or "\r" in s:
            return '"' + s.replace('"', '""') + '"'
        return s

    def header(self, cells: list[str]) -> None:
        self.fh.write(self.d.join(self._quote(escape_cell(c)) for c in cells) + "\r\n")

    def row(self, cells: list[str]) -> None:
        """Cells already escaped and quoted (see `cell`)."""
        self.fh.write(self.d.join(cells))
        self.fh.write("\r\n")
        self.rows += 1

    def cell(self, text: str) -> str:
        if not text:
            return ""
        if text[0] in _ESCAPE_FIRST:
            text = escape_cell(text)
        if _NEEDS_QUOTES.search(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    def close(self) -> None:
        self.fh.close()


class XlsxWriter:
    def __init__(self, path: Path, sheet: str = "Sheet1"):
        import openpyxl

        self.path = path
        self.wb = openpyxl.Workbook(write_only=True)
        self.ws = self.wb.create_sheet(sheet[:31])
        self.rows = 0

    def header(self, cells: list[str]) -> None:
        self.ws.append([escape_cell(c) for c in cells])

    def row(self, cells: list[str]) -> None:
        self.ws.append([c if c else None for c in cells])
        self.rows += 1

    def cell(self, text: str) -> str:
        return escape_cell(text) if text else ""

    def close(self) -> None:
        self.wb.save(self.path)


def writer_for(path: Path, fmt: str, sheet: str):
    return XlsxWriter(path, sheet) if fmt == "xlsx" else CsvWriter(path)


# --- value columns ----------------------------------------------------------------------------


class Columns:
    """The value columns of the attributes of some families, and where each value of a
    document goes."""

    def __init__(
        self,
        structure: v.Structure,
        codes: list[str],
        *,
        locales: list[str] | None,
        labels_locale: str | None = None,
    ):
        self.structure = structure
        self.headers: list[str] = []
        self.slots: dict[tuple, int] = {}  # (code, locale, scope[, currency|"unit"]) → index
        self.attrs: dict[str, v.AttributeInfo] = {}
        self.labels_locale = labels_locale
        # Values are only written in active locales (a locale some channel uses); values left
        # in a locale no channel uses any more are counted as values without a column.
        all_locales = sorted(structure.active_locales)
        if locales:
            all_locales = [loc for loc in all_locales if loc in locales]
        currencies = sorted(structure.currencies)
        labels = _attribute_labels(labels_locale) if labels_locale else {}
        channel_labels = _channel_labels(labels_locale) if labels_locale else {}
        for code in codes:
            a = structure.attributes[code]
            self.attrs[code] = a
            if a.localizable and a.scopable:
                where = [
                    (loc, ch)
                    for ch in sorted(structure.channels)
                    for loc in sorted(structure.channels[ch]["locales"])
                    if loc in all_locales
                ]
            elif a.localizable:
                where = [(loc, None) for loc in all_locales]
            elif a.scopable:
                where = [(None, ch) for ch in sorted(structure.channels)]
            else:
                where = [(None, None)]
            if a.localizable and a.available_locales:
                where = [(loc, ch) for loc, ch in where if loc in a.available_locales]
            for loc, ch in where:
                base = "-".join(x for x in (code, loc, ch) if x)
                shown = base
                if labels_locale:
                    extra = ", ".join(x for x in (loc, channel_labels.get(ch, ch)) if x)
                    shown = labels.get(code, code) + (f" ({extra})" if extra else "")
                if a.type == T.PRICE:
                    for cur in currencies:
                        self._add(
                            (code, loc, ch, cur),
                            f"{base}-{cur}" if not labels_locale else f"{shown} [{cur}]",
                        )
                elif a.type == T.MEASUREMENT and not labels_locale:
                    self._add((code, loc, ch), base)
                    self._add((code, loc, ch, "unit"), f"{base}-unit")
                else:
                    self._add((code, loc, ch), shown)

    def _add(self, key: tuple, header: str) -> None:
        self.slots[key] = len(self.headers)
        self.headers.append(header)


def _attribute_labels(locale: str) -> dict[str, str]:
    return {
        code: (labels or {}).get(locale) or (labels or {}).get("en_US") or code
        for code, labels in Attribute.objects.values_list("code", "labels")
    }


def _channel_labels(locale: str) -> dict[str, str]:
    from folio.catalog.models import Channel

    return {
        code: (labels or {}).get(locale) or code
        for code, labels in Channel.objects.values_list("code", "labels")
    }


def _family_attributes(family_ids) -> list[str]:
    """Attribute codes of these families, in the attributes' order."""
    return list(
        Attribute.objects.filter(families__in=list(family_ids))
        .distinct()
        .order_by("sort_order", "code")
        .values_list("code", flat=True)
    )


PLAIN, PRICE, MEASURE, BOOL, LIST, SELECT_LABEL, LIST_LABELS = range(7)


class Cells:
    """Turns one document's values into cells (codes, or labels for people), with what each
    attribute needs worked out once: a product costs the values it has."""

    def __init__(self, cols: Columns, write, labels_locale: str | None):
        self.write = write  # escape and quote for the writer
        self.locale = labels_locale
        self.unmapped = 0
        options: dict[str, dict[str, str]] = {}
        if labels_locale:
            for attr, code, labels in AttributeOption.objects.values_list(
                "attribute__code", "code", "labels"
            ):
                options.setdefault(attr, {})[code] = (labels or {}).get(labels_locale) or code
        # attribute code → (kind, {(locale, scope[, currency | "unit"]): column}, extra)
        self.plans: dict[str, tuple] = {}
        for key, index in cols.slots.items():
            code = key[0]
            a = cols.attrs[code]
            t = str(a.type)
            if t == T.PRICE:
                kind = PRICE
            elif t == T.MEASUREMENT:
                kind = MEASURE
            elif t == T.BOOLEAN:
                kind = BOOL
            elif t == T.MULTISELECT and labels_locale:
                kind = LIST_LABELS
            elif t in (T.MULTISELECT, T.ASSET_COLLECTION):
                kind = LIST
            elif t == T.SELECT and labels_locale:
                kind = SELECT_LABEL
            else:
                kind = PLAIN
            extra = options.get(code, {}) if kind in (SELECT_LABEL, LIST_LABELS) else a.units
            plan = self.plans.setdefault(code, (kind, {}, extra))
            plan[1][key[1:]] = index

    def fill(self, row: list[str], doc: dict) -> None:
        plans, write = self.plans, self.write
        for code, entries in doc.items():
            plan = plans.get(code)
            if plan is None:
                self.unmapped += len(entries)
                continue
            kind, slots, extra = plan
            for e in entries:
                data = e["data"]
                where = (e["locale"], e["scope"])
                if kind == PRICE:
                    for p in data:
                        i = slots.get((*where, p["currency"]))
                        if i is None:
                            self.unmapped += 1
                        else:
                            row[i] = write(p["amount"])
                    continue
                i = slots.get(where)
                if i is None:
                    self.unmapped += 1
                elif kind == PLAIN:
                    row[i] = write(data if data.__class__ is str else str(data))
                elif kind == MEASURE:
                    if self.locale:
                        symbol = extra.get(data["unit"], {}).get("symbol") or data["unit"]
                        row[i] = write(f"{data['amount']} {symbol}")
                    else:
                        row[i] = write(data["amount"])
                        row[slots[(*where, "unit")]] = write(data["unit"])
                elif kind == BOOL:
                    row[i] = ("Yes" if data else "No") if self.locale else ("1" if data else "0")
                elif kind == LIST:
                    row[i] = write(",".join(str(x) for x in data))
                elif kind == LIST_LABELS:
                    row[i] = write(",".join(extra.get(o, o) for o in data))
                else:  # SELECT_LABEL
                    row[i] = write(extra.get(data, data))


# --- products and models ----------------------------------------------------------------------


def _labels_of(model, locale: str) -> dict[str, str]:
    return {
        code: (labels or {}).get(locale) or code
        for code, labels in model.objects.values_list("code", "labels")
    }


def _selection(filters: dict | None):
    filters = bulk_edit.normalise_filter(filters or {})
    return bulk_edit.selection(filters) if filters else Product.objects.all()


def export_products(
    path: Path,
    fmt: str = "csv",
    *,
    filters: dict | None = None,
    locales: list[str] | None = None,
    labels_locale: str | None = None,
    media: bool = False,
    media_files: dict | None = None,
    progress=None,
) -> dict:
    structure = v.Structure.load()
    qs = _selection(filters)
    family_ids = set(qs.order_by().values_list("family_id", flat=True).distinct())
    codes = _family_attributes(family_ids - {None})
    cols = Columns(structure, codes, locales=locales, labels_locale=labels_locale)
    types = list(AssociationType.objects.order_by("code").values_list("code", "quantified"))
    fields = ["sku", "family", "categories", "enabled", "parent", "groups"]
    assoc_slots: dict[tuple, int] = {}
    header = list(fields)
    if not labels_locale:
        for code, quantified in types:
            for target in ("products", "product_models", "groups"):
                assoc_slots[(code, target)] = len(header)
                header.append(f"{code}-{target}")
                if quantified and target == "products":
                    assoc_slots[(code, "quantity")] = len(header)
                    header.append(f"{code}-products-quantity")
    else:
        header = ["SKU", "Family", "Categories", "Enabled", "Parent", "Groups"]
    media_slots: dict[tuple, int] = {}
    roles: list[tuple[str, str]] = []
    if media:
        from folio.linking.models import Link

        roles = sorted(
            set(
                Link.objects.filter(product__in=qs.order_by().values("id"), channel__isnull=True)
                .values_list("role", "locale")
                .distinct()
            )
        )
        for role, locale in roles:
            media_slots[(role, locale)] = len(header)
            header.append(f"media-{role}" + (f"-{locale}" if locale else ""))
    offset = len(header)
    header += cols.headers
    cols.slots = {k: i + offset for k, i in cols.slots.items()}
    writer = writer_for(path, fmt, "products")
    write = writer.cell
    cells = Cells(cols, write, labels_locale)
    writer.header(header)
    fam = _labels_of(Family, labels_locale) if labels_locale else {}
    cat = _labels_of(Category, labels_locale) if labels_locale else {}
    width = len(header)
    last, count = 0, 0
    base = qs.order_by("id")
    while True:
        chunk = _raw(
            base.filter(id__gt=last).values_list(
                "id", "sku", "family__code", "parent__code", "enabled", "values"
            )[:CHUNK]
        )
        if not chunk:
            break
        ids = [r[0] for r in chunk]
        last = ids[-1]
        categories = _related(Product.categories.through, "product_id", "category__code", ids)
        groups = _related(Product.groups.through, "product_id", "productgroup__code", ids)
        assoc = _associations(ids) if assoc_slots else {}
        links = _links(ids, "product_id", media_files) if media_slots else {}
        for pid, sku, family, parent, enabled, doc in chunk:
            row = [""] * width
            row[0] = write(sku)
            if labels_locale:
                row[1] = write(fam.get(family, family or ""))
                row[2] = write(",".join(cat.get(c, c) for c in categories.get(pid, ())))
                row[3] = "Yes" if enabled else "No"
            else:
                row[1] = write(family or "")
                row[2] = write(",".join(categories.get(pid, ())))
                row[3] = "1" if enabled else "0"
            row[4] = write(parent or "")
            row[5] = write(",".join(groups.get(pid, ())))
            for (code, target), values in assoc.get(pid, {}).items():
                i = assoc_slots.get((code, target))
                if i is None:
                    continue
                if target == "products" and (code, "quantity") in assoc_slots:
                    row[i] = write(",".join(s for s, _ in values))
                    row[assoc_slots[(code, "quantity")]] = write(
                        ",".join(str(q or 1) for _, q in values)
                    )
                else:
                    row[i] = write(",".join(s for s, _ in values))
            for (role, locale), refs in links.get(pid, {}).items():
                i = media_slots.get((role, locale))
                if i is not None:
                    row[i] = write(",".join(refs))
            if doc and doc != "{}":
                cells.fill(row, json.loads(doc) if doc.__class__ is str else doc)
            writer.row(row)
            count += 1
        faults.point("export.chunk_written")  # crash tests: a half-written export file
        if progress is not None:
            progress(len(chunk))
    writer.close()
    return {"products": count, "columns": width, "values_without_column": cells.unmapped}


def _raw(queryset) -> list[tuple]:
    """The rows of a values_list queryset without Django's per-row conversions (JSON stays
    text, decoded by the caller only when there is something in it)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.fetchall()


def export_models(
    path: Path,
    fmt: str = "csv",
    *,
    locales: list[str] | None = None,
    labels_locale: str | None = None,
    media: bool = False,
    media_files: dict | None = None,
    progress=None,
) -> dict:
    structure = v.Structure.load()
    family_ids = set(
        ProductModel.objects.values_list("family_variant__family_id", flat=True).distinct()
    )
    codes = _family_attributes(family_ids)
    cols = Columns(structure, codes, locales=locales, labels_locale=labels_locale)
    header = ["code", "family_variant", "parent", "categories"]
    media_slots: dict[tuple, int] = {}
    if media:
        from folio.linking.models import Link

        for role, locale in sorted(
            set(
                Link.objects.filter(product_model__isnull=False, channel__isnull=True).values_list(
                    "role", "locale"
                )
            )
        ):
            media_slots[(role, locale)] = len(header)
            header.append(f"media-{role}" + (f"-{locale}" if locale else ""))
    offset = len(header)
    header += cols.headers
    cols.slots = {k: i + offset for k, i in cols.slots.items()}
    writer = writer_for(path, fmt, "product_models")
    write = writer.cell
    cells = Cells(cols, write, labels_locale)
    writer.header(header)
    width, count = len(header), 0
    # Roots before sub-models, so the file imports in one pass.
    qs = ProductModel.objects.order_by(F("parent_id").asc(nulls_first=True), "id")
    rows = qs.values_list("id", "code", "family_variant__code", "parent__code", "values")
    for start in range(0, ProductModel.objects.count(), CHUNK):
        chunk = list(rows[start : start + CHUNK])
        ids = [r[0] for r in chunk]
        categories = _related(
            ProductModel.categories.through, "productmodel_id", "category__code", ids
        )
        links = _links(ids, "product_model_id", media_files) if media_slots else {}
        for mid, code, fv, parent, doc in chunk:
            row = [""] * width
            row[0], row[1], row[2] = write(code), write(fv), write(parent or "")
            row[3] = write(",".join(categories.get(mid, ())))
            for (role, locale), refs in links.get(mid, {}).items():
                i = media_slots.get((role, locale))
                if i is not None:
                    row[i] = write(",".join(refs))
            if doc:
                cells.fill(row, doc)
            writer.row(row)
            count += 1
        faults.point("export.chunk_written")
        if progress is not None:
            progress(len(chunk))
    writer.close()
    return {"product_models": count, "values_without_column": cells.unmapped}


def _related(through, owner: str, code: str, ids: list[int]) -> dict[int, list[str]]:
    # The chunk's ids are sorted: a range is one index scan (rows of products outside the
    # selection are read and ignored), where an IN list of 2,000 ids costs as much to build.
    out: dict[int, list[str]] = {}
    rows = _raw(
        through.objects.filter(**{f"{owner}__gte": ids[0], f"{owner}__lte": ids[-1]}).values_list(
            owner, code
        )
    )
    for pid, c in rows:
        out.setdefault(pid, []).append(c)
    for codes in out.values():
        codes.sort()
    return out


def _associations(ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for pid, code, sku, model, group, qty in (
        Association.objects.filter(product_id__gte=ids[0], product_id__lte=ids[-1])
        .values_list(
            "product_id",
            "type__code",
            "target_product__sku",
            "target_model__code",
            "target_group__code",
            "quantity",
        )
        .order_by("id")
    ):
        target = "products" if sku else "product_models" if model else "groups"
        out.setdefault(pid, {}).setdefault((code, target), []).append((sku or model or group, qty))
    return out


def _links(ids: list[int], owner: str, files: dict | None) -> dict[int, dict]:
    """Links by owner, role and locale; refs are asset:<id>, or media/<id>-<name> when the
    files are written beside the export (`files` collects them)."""
    from folio.linking.models import Link

    out: dict[int, dict] = {}
    for oid, role, locale, asset_id, filename in (
        Link.objects.filter(**{f"{owner}__in": ids}, channel__isnull=True)
        .order_by("role", "position", "id")
        .values_list(owner, "role", "locale", "asset_id", "asset__current_version__filename")
    ):
        ref = f"asset:{asset_id}"
        if files is not None:
            ref = files.setdefault(asset_id, f"media/{asset_id}-{filename}")
        out.setdefault(oid, {}).setdefault((role, locale), []).append(ref)
    return out


# --- structure --------------------------------------------------------------------------------


def export_structure(
    path: Path, kind: str, fmt: str = "csv", *, locales: list[str] | None = None
) -> dict:
    from folio.catalog.models import Locale
    from folio.imports import structure_io

    all_locales = sorted(Locale.objects.values_list("code", flat=True))
    if locales:
        all_locales = [loc for loc in all_locales if loc in locales]
    header, rows = structure_io.export_rows(kind, all_locales)
    writer = writer_for(path, fmt, kind)
    writer.header(header)
    n = 0
    for row in rows:
        writer.row([writer.cell(c) for c in row])
        n += 1
    writer.close()
    return {kind: n}


# --- the whole thing --------------------------------------------------------------------------


def export(
    dest: Path,
    *,
    what: str | None = None,
    fmt: str | None = None,
    filters: dict | None = None,
    locales: list[str] | None = None,
    labels_locale: str | None = None,
    media: bool = False,
    progress=None,
) -> dict:
    """Write `dest`: a file (one kind: products by default, or models, or one structure kind
    via what) or a folder / .zip (everything, in files an import reads back)."""
    dest = Path(dest)
    suffix = dest.suffix.lower()
    is_zip = suffix == ".zip"
    is_file = suffix in (".csv", ".xlsx") and not is_zip
    fmt = fmt or ("xlsx" if suffix == ".xlsx" else "csv")
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r}: use csv or xlsx", details={"field": "format"})
    what = what or ("products" if is_file else "all")
    if what not in (*WHAT, *STRUCTURE_KINDS):
        raise InvalidInput(
            f"what {what!r}: use products, models, structure, all or a structure kind",
            details={"field": "what"},
        )
    if is_file and what in ("structure", "all"):
        raise InvalidInput(
            f"{dest.name} is one file; export the {what} into a folder or a .zip",
            details={"field": "what"},
        )
    counts: dict = {}
    ext = f".{fmt}"
    if is_file:
        dest.parent.mkdir(parents=True, exist_ok=True)
        counts.update(_one(dest, what, fmt, filters, locales, labels_locale, media, None, progress))
        return counts
    # A zip's files are gathered in the exports folder, not the system's temporary one: if
    # the process is killed there, the next prune sweeps them (no run names that folder).
    work = _work_folder() if is_zip else dest
    work.mkdir(parents=True, exist_ok=True)
    try:
        kinds = {
            "all": [*STRUCTURE_KINDS, "models", "products"],
            "structure": list(STRUCTURE_KINDS),
        }.get(what, [what])
        files: dict | None = {} if media else None
        for kind in kinds:
            name = {"models": "product_models"}.get(kind, kind) + ext
            counts.update(
                _one(
                    work / name, kind, fmt, filters, locales, labels_locale, media, files, progress
                )
            )
        if files:
            counts["media_files"] = _copy_media(work, files)
        if is_zip:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with (
                written_aside(dest) as part,
                zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z,
            ):
                for p in sorted(work.rglob("*")):
                    if p.is_file():
                        z.write(p, p.relative_to(work).as_posix())
    finally:
        if is_zip:
            shutil.rmtree(work, ignore_errors=True)
    return counts


PART = ".part-"  # in the name of a file being written (see written_aside)


@contextlib.contextmanager
def written_aside(path: Path) -> Iterator[Path]:
    """A new name beside `path` to write to, renamed to `path` when the block ends without
    an error (deleted when it raises). Whoever looks at `path` finds the whole file or none:
    a process killed mid-way leaves only a hidden `.<stem>.part-<random><suffix>` (in the
    exports folder, swept by the next prune), never a half file under the export's name."""
    part = path.with_name(f".{path.stem}{PART}{secrets.token_hex(4)}{path.suffix}")
    try:
        yield part
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _work_folder() -> Path:
    from django.conf import settings

    folder = Path(settings.VAR_DIR) / "exports" / f"work-{secrets.token_hex(8)}"
    folder.mkdir(parents=True)
    return folder


def _one(path, what, fmt, filters, locales, labels_locale, media, files, progress) -> dict:
    with written_aside(Path(path)) as part:
        return _write_one(part, what, fmt, filters, locales, labels_locale, media, files, progress)


def _write_one(path, what, fmt, filters, locales, labels_locale, media, files, progress) -> dict:
    if what == "products":
        return export_products(
            path,
            fmt,
            filters=filters,
            locales=locales,
            labels_locale=labels_locale,
            media=media,
            media_files=files,
            progress=progress,
        )
    if what == "models":
        return export_models(
            path,
            fmt,
            locales=locales,
            labels_locale=labels_locale,
            media=media,
            media_files=files,
            progress=progress,
        )
    return export_structure(path, what, fmt, locales=locales)


def _copy_media(folder: Path, files: dict[int, str]) -> int:
    from folio.assets.models import Asset
    from folio.assets.storage import open_blob

    n = 0
    for asset in Asset.objects.filter(pk__in=list(files)).select_related("current_version__blob"):
        target = folder / files[asset.pk]
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            open_blob(asset.current_version.blob) as src,
            written_aside(target) as part,
            open(part, "wb") as out,
        ):
            shutil.copyfileobj(src, out)
        n += 1
    return n


def csv_text(rows: Iterator[list[str]]) -> str:
    """Rows as escaped `;` CSV text (problem reports)."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    for r in rows:
        w.writerow([escape_cell(str(c)) for c in r])
    return out.getvalue()
