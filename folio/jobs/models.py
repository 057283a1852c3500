import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel


class Job(models.Model):
    """One piece of long-running work (import, bulk edit, renditions, publication…) as users
    see it: what it is, who started it, how far it got and what went wrong per item."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    MAX_KEPT_ERRORS = 1000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=200)  # the registered job's name
    label = models.CharField(max_length=300)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    schedule = models.ForeignKey(
        "Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    items_ok = models.PositiveBigIntegerField(default=0)
    items_failed = models.PositiveBigIntegerField(default=0)
    # Per-item errors: [{"item": "WB-750-SS", "message": "…"}]; the first MAX_KEPT_ERRORS only.
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)  # why it failed, in a sentence
    result = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    worker_id = models.CharField(max_length=64, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["kind"])]

    def __str__(self):
        return f"{self.label} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Worker(models.Model):
    """A live worker process; its heartbeat tells the reaper whether its jobs are still running."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.worker_id


class Schedule(VersionedModel):
    """Recurring work held as data: which job, with which parameters, how often."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    job = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    every_seconds = models.PositiveIntegerField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True)  # 5-field cron, UTC
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
