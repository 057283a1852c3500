"""`folio import PATH`: products, product models and structure from CSV/XLSX files, a folder
of them, or a zip; media files named by rows, or a media folder auto-linked by file name.

    folio import products.csv
    folio import ./akeneo-export/ --dry-run
    folio import supplier.xlsx --mapping acme --media-dir ./acme-photos
    folio import catalog.zip --all-or-nothing
    folio import ~/shoot/                     # a folder of images only: add and auto-link

Prints one line per file with its counts, then the problems (file, row, column, value,
reason); --report writes all of them as CSV. The run is kept (GET /api/v1/imports/{id}).
Exit status 1 when a row was refused.
"""

from pathlib import Path

from django.core.management.base import CommandError

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand, progress
from folio.imports import exporter, services
from folio.imports.models import ImportProblem
from folio.imports.sources import KINDS
from folio.jobs.services import JobContext

SHOWN_PROBLEMS = 50


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {"": "imports.add_importrun"}
    help = "Import products, product models and structure (CSV, XLSX, a folder or a zip)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a CSV or XLSX file, a folder of them, or a .zip")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check everything and report every problem; write nothing",
        )
        parser.add_argument(
            "--all-or-nothing", action="store_true", help="write nothing unless every row is fine"
        )
        parser.add_argument("--mapping", help="a saved column mapping (folio import-mapping)")
        parser.add_argument(
            "--media-dir",
            help="where media files named by rows are; its "
            "other files are added and auto-linked by name",
        )
        parser.add_argument(
            "--kind",
            choices=KINDS,
            help="what a single file holds, when its "
            "name does not say (products.csv, attributes.csv…)",
        )
        parser.add_argument(
            "--encoding",
            help="the file's encoding when it is not UTF-8 and detection is not sure (e.g. cp1252)",
        )
        parser.add_argument("--delimiter", help="; , | or tab (default: detected)")
        parser.add_argument(
            "--decimal-comma", action="store_true", help="numbers are written 1.234,5"
        )
        parser.add_argument("--sheet", help="read only this sheet of a workbook")
        parser.add_argument("--report", help="write every problem to this CSV file")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(self, path, **o):
        user = current_actor().user
        delimiter = {"tab": "\t", "\\t": "\t"}.get(o["delimiter"], o["delimiter"])
        if not Path(path).exists():
            raise CommandError(f"no such file or folder: {path}")
        run = services.create_run(
            str(Path(path).resolve()),
            user=user,
            via="cli",
            dry_run=o["dry_run"],
            all_or_nothing=o["all_or_nothing"],
            mapping=o["mapping"],
            kind=o["kind"],
            encoding=o["encoding"],
            delimiter=delimiter,
            decimal_comma=o["decimal_comma"],
            sheet=o["sheet"],
            media_dir=str(Path(o["media_dir"]).resolve()) if o["media_dir"] else None,
        )
        job = services.inline_job(
            f"Import {path}",
            services.import_job,
            {"run_id": run.pk},
            user,
            reports_progress=not (o["dry_run"] or o["all_or_nothing"]),
        )
        run.job = job
        run.save(update_fields=["job"])
        ctx = JobContext(job)
        failed = None
        try:
            steps = services.steps(run, ctx=ctx)
            _, total = next(steps)

            def rows():
                for n in steps:
                    yield from range(n)

            if o["quiet"]:
                for _ in rows():
                    pass
            else:
                for _ in progress(rows(), total=total or None, description="importing"):
                    pass
        except Exception as exc:
            failed = getattr(exc, "message", None) or str(exc)
            raise
        finally:
            run.refresh_from_db()
            services.finish_inline_job(job, failed=failed, result=run.counts)
        self._print(run, o["report"])

    def _print(self, run, report_path):
        counts = run.counts or {}
        for f in counts.get("files", []):
            how = ", ".join(x for x in (f.get("kind"), f.get("encoding"), f.get("delimiter")) if x)
            extra = f", {f['ignored']} ignored" if f.get("ignored") else ""
            self.stdout.write(
                f"{f['file']} ({how}): {f['rows']} rows: {f['created']} created, "
                f"{f['updated']} updated, {f['unchanged']} unchanged, {f['skipped']} skipped"
                f"{extra}"
            )
        media = {k: v for k, v in (counts.get("media") or {}).items() if v}
        if media:
            self.stdout.write(
                "media: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in media.items())
            )
        problems = ImportProblem.objects.filter(run=run).order_by("id")
        for p in problems[:SHOWN_PROBLEMS]:
            where = ":".join(str(x) for x in (p.file, p.row) if x not in ("", None))
            col = f" [{p.column}]" if p.column else ""
            val = f" {p.value!r}" if p.value else ""
            code = f" {p.code}:" if p.code else ""
            label = "warning: " if p.severity == "warning" else ""
            self.stderr.write(f"{where}{col}{val}:{code} {label}{p.reason}")
        if run.problem_count > SHOWN_PROBLEMS:
            self.stderr.write(
                f"… {run.problem_count - SHOWN_PROBLEMS} more problem(s): "
                f"--report FILE, or GET /api/v1/imports/{run.pk}/problems"
            )
        if report_path:
            rows = [["severity", "file", "row", "column", "value", "code", "reason"]] + [
                [p.severity, p.file, p.row or "", p.column, p.value, p.code, p.reason]
                for p in problems.iterator()
            ]
            Path(report_path).write_text(exporter.csv_text(rows), encoding="utf-8")
        self.stdout.write(f"import {run.pk}: {run.message}")
        errors = (counts.get("totals") or {}).get("errors", 0)
        if errors:
            raise CommandError(f"{errors} problem(s); see above", returncode=1)
