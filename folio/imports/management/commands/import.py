"""`folio import PATH`: products, product models and structure from CSV/XLSX files, a folder
of them, or a zip; media files named by rows, or a media folder auto-linked by file name.

    folio import products.csv
    folio import ./akeneo-export/ --dry-run
    folio import supplier.xlsx --mapping acme --media-dir ./acme-photos
    folio import catalog.zip --all-or-nothing
    folio import ~/shoot/                     # a folder of images only: add and auto-link
    folio import --run-dry-run 42             # a finished dry run (web or API), for real

Prints one line per file with its counts, then the problems (file, row, column, value,
reason); --report writes all of them as CSV. The run is kept (GET /api/v1/imports/{id}).
Exit status 1 when a row was refused.
"""

from pathlib import Path

from django.core.management.base import CommandError

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand, progress
from folio.imports import exporter, services
from folio.imports.models import ImportProblem, ImportRun
from folio.imports.sources import KINDS
from folio.jobs.services import JobContext
from folio.words import counted

SHOWN_PROBLEMS = 50
# What a run is read with; --run-dry-run takes them from the dry run.
RUN_OPTIONS = (
    "dry_run",
    "all_or_nothing",
    "mapping",
    "media_dir",
    "kind",
    "encoding",
    "delimiter",
    "decimal_comma",
    "sheet",
)


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {"": "imports.add_importrun"}
    help = "Import products, product models and structure (CSV, XLSX, a folder or a zip)."

    def add_arguments(self, parser):
        parser.add_argument(
            "path", nargs="?", help="a CSV or XLSX file, a folder of them, or a .zip"
        )
        parser.add_argument(
            "--run-dry-run",
            type=int,
            metavar="ID",
            help="import the file of this finished dry run (started on the web or through the "
            "API) with its options and mapping, this time writing",
        )
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
        if o["run_dry_run"] is not None:
            return self._run_dry_run(o["run_dry_run"], path, user, o)
        if not path:
            raise CommandError("name the file, folder or zip to import (or --run-dry-run ID)")
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
        self._execute(run, f"Import {path}", user, o)

    def _run_dry_run(self, dry_id: int, path, user, o):
        """The dry run's file and options, through the service behind POST
        /api/v1/imports/{id}/run; run here with the progress bar."""
        given = [f"--{k.replace('_', '-')}" for k in RUN_OPTIONS if o[k]]
        if path or given:
            raise CommandError(
                "--run-dry-run repeats the dry run's file and options: leave out "
                + ", ".join(([path] if path else []) + given)
            )
        runs = (
            ImportRun.objects
            if user is None
            else services.visible_runs(ImportRun, user, "imports.view_importrun")
        )
        dry = runs.filter(pk=dry_id, dry_run=True, via="cli").first()
        if dry is not None and not services.dry_run_file_kept(dry):
            # A dry run from the command line read the file where it is; nothing was kept.
            raise CommandError(
                f"dry run {dry_id} was started from the command line and its file is not "
                f"kept: run folio import {dry.source} again without --dry-run"
            )
        run = services.stage_dry_run_for_real(dry_id, user, via="cli")
        self.stdout.write(f"import {run.pk}: dry run {dry_id} for real")
        self._execute(run, f"Import {run.source} (dry run {dry_id} for real)", user, o)

    def _execute(self, run, label: str, user, o):
        job = services.inline_job(
            label,
            services.import_job,
            {"run_id": run.pk},
            user,
            reports_progress=not (run.dry_run or run.all_or_nothing),
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
                f"… {counted(run.problem_count - SHOWN_PROBLEMS, 'more problem')}: "
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
            raise CommandError(f"{counted(errors, 'problem')}; see above", returncode=1)
