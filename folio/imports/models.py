"""Imports and exports as users see them: saved column mappings, and a record of every run
(what was read or written, with which options, the counts per file and every problem found).

The background job (jobs.Job) carries live progress; the run keeps the outcome after the job
rows are pruned, and its problems name file, row, column, value and reason.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel


class ColumnMapping(VersionedModel):
    """How the columns of an arbitrary spreadsheet become product fields and values.

    `columns`: [{"column": "Article no.", "field": "sku"},
                {"column": "Volume", "attribute": "capacity", "transforms": [{"op": "unit"}]},
                {"column": "Photo", "media": "main"}, {"column": "Note", "ignore": true}, …]
    `options`: {"kind", "delimiter", "encoding", "decimal_comma", "empty_cells", "family",
                "sheet", "header_row"}. Columns the mapping does not name are read by the
    usual column conventions (name-en_US, price-EUR…); anything else is refused.
    """

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Run(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=10, blank=True)  # api, cli
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)  # why it failed, or a one-line outcome
    # {"totals": {"rows", "created", "updated", "unchanged", "skipped", …},
    #  "files": [{"file", "kind", "rows", "created", …, "encoding", "delimiter"}]}
    counts = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class ImportRun(Run):
    """One `folio import` or POST /imports: the source, the mode and the outcome."""

    source = models.CharField(max_length=500)  # the file, folder or zip as the user named it
    staged_path = models.CharField(max_length=1000, blank=True)  # uploaded copy, until done
    dry_run = models.BooleanField(default=False)
    all_or_nothing = models.BooleanField(default=False)
    mapping = models.ForeignKey(
        ColumnMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    problem_count = models.PositiveIntegerField(default=0)
    # When every row was fine but nothing was written (dry run, or rolled back as a whole).
    written = models.BooleanField(default=False)

    def __str__(self):
        return f"import {self.pk} of {self.source}"


class ImportProblem(models.Model):
    """One thing wrong with the input: where (file, row, column), what (value) and why."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems")
    severity = models.CharField(max_length=10, default="error")  # error, warning
    file = models.CharField(max_length=500, blank=True)
    row = models.PositiveIntegerField(null=True, blank=True)  # 1 = the header row
    column = models.CharField(max_length=300, blank=True)
    value = models.CharField(max_length=300, blank=True)  # as read, cut at 300 characters
    code = models.CharField(max_length=200, blank=True)  # the SKU or code of the row
    reason = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "id"])]


class ExportRun(Run):
    """One `folio export` or POST /exports: what was selected and where the file is."""

    what = models.CharField(max_length=20, default="products")  # products, models, structure, all
    format = models.CharField(max_length=10, default="csv")  # csv, xlsx, zip
    path = models.CharField(max_length=1000, blank=True)  # the written file (API: for download)

    def __str__(self):
        return f"export {self.pk} ({self.what})"
