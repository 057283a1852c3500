"""`folio export DEST`: products, product models or the structure as files an import reads.

folio export catalog/                     # everything, one file per kind (CSV)
folio export catalog.zip --format xlsx
folio export products.csv --family bottles --category kitchen --filter "color=blue"
folio export products-de.xlsx --labels de_DE   # labels instead of codes, for people
folio export catalog/ --media             # with the linked files in catalog/media/
"""

from pathlib import Path

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand, progress
from folio.imports import exporter, services
from folio.imports.models import ExportRun


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {"": "catalog.view_product"}
    help = "Export products, product models or the structure (CSV or XLSX, a folder or a zip)."

    def add_arguments(self, parser):
        parser.add_argument("dest", help="a .csv/.xlsx file, a folder, or a .zip")
        parser.add_argument(
            "--what",
            default=None,
            help="products (default for a file), models, structure, all "
            "(default for a folder or zip), or one structure kind",
        )
        parser.add_argument("--format", choices=exporter.FORMATS, default=None)
        parser.add_argument(
            "--labels",
            nargs="?",
            const="en_US",
            default=None,
            metavar="LOCALE",
            help="labels in this locale instead of codes (for people; not for re-import)",
        )
        parser.add_argument(
            "--locales", default=None, help="only these locales' values, e.g. en_US,de_DE"
        )
        parser.add_argument("--family", action="append", default=[])
        parser.add_argument(
            "--category",
            action="append",
            default=[],
            help="products in this category or below (repeat)",
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            help="an attribute condition, e.g. 'color=blue' (repeat)",
        )
        parser.add_argument("--enabled", action="store_true", default=None)
        parser.add_argument("--disabled", dest="enabled", action="store_false")
        parser.add_argument(
            "--media",
            action="store_true",
            help="media-<role> columns; with a folder or zip, the files too",
        )
        parser.add_argument("--quiet", action="store_true")

    def run(self, dest, **o):
        user = current_actor().user
        filters = {}
        if o["family"]:
            filters["family"] = o["family"]
        if o["category"]:
            filters["category"] = o["category"]
        if o["filter"]:
            filters["filter"] = o["filter"]
        if o["enabled"] is not None:
            filters["enabled"] = o["enabled"]
        suffix = Path(dest).suffix.lower()
        what = o["what"] or ("products" if suffix in (".csv", ".xlsx") else "all")
        services.check_export_permissions(user, what)
        fmt = o["format"] or ("xlsx" if suffix == ".xlsx" else "csv")
        locales = [x.strip() for x in (o["locales"] or "").split(",") if x.strip()]
        run = ExportRun.objects.create(
            what=what,
            format="zip" if suffix == ".zip" else fmt,
            created_by=user if getattr(user, "pk", None) else None,
            via="cli",
            options=services.export_options(what, fmt, filters, locales, o["labels"], o["media"]),
        )
        job = services.inline_job(f"Export {what}", services.export_job, {"run_id": run.pk}, user)
        run.job = job
        run.save(update_fields=["job"])
        bar = None
        failed = None
        try:
            if not o["quiet"]:
                total = None
                if what in ("products", "all"):
                    total = exporter._selection(filters).count()
                bar = _Bar(total, self.stderr._out)
            counts = services.execute_export(
                run, Path(dest), fmt=fmt, on_rows=bar.advance if bar else None
            )
        except Exception as exc:
            failed = getattr(exc, "message", None) or str(exc)
            raise
        finally:
            if bar:
                bar.close()
            services.finish_inline_job(job, failed=failed)
        self.stdout.write(
            f"export {run.pk}: {dest}: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        )


class _Bar:
    """folio.cli.progress, drawn by a thread from the counts the export pushes (the export
    itself, and every database access, stay in the main thread)."""

    def __init__(self, total, stream):
        import queue
        import threading

        self.q: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(total, stream), daemon=True)
        self.thread.start()

    def _run(self, total, stream):
        def items():
            while True:
                n = self.q.get()
                if n is None:
                    return
                yield from range(n)

        for _ in progress(items(), total=total, description="exporting", stream=stream):
            pass

    def advance(self, n: int) -> None:
        self.q.put(n)

    def close(self) -> None:
        self.q.put(None)
        self.thread.join(timeout=10)
