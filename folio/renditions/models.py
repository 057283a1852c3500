"""Channel-ready media: presets (named, versioned rendition specs held as data), the image
slots each channel asks for, and the rendition cache.

A rendition is keyed by (source bytes, spec hash): the same master image rendered with the same
spec is made once, whatever asset, version or channel asks for it, and a new source version or
a changed preset simply asks for a different key.
"""

from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel


class Preset(VersionedModel):
    """e.g. `amazon-main`: white background, product ≥ 85 % of the frame, longest side
    1000–10,000 px, JPEG sRGB. `spec` is the operations and output, `rules` the channel's
    compliance rules, `market_overrides` per-locale changes to `spec` ({"de_DE": {…}})."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, default="image")  # image | video
    spec = models.JSONField(default=dict)
    rules = models.JSONField(default=dict, blank=True)
    market_overrides = models.JSONField(default=dict, blank=True)
    filename_template = models.CharField(max_length=200, default="{sku}-{position}.{ext}")
    public = models.BooleanField(default=False)  # stable unsigned delivery URLs allowed

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class ImageSlot(VersionedModel):
    """What a channel needs per asset role: the marketplace's `main` image through
    `amazon-main`, its `gallery` images through `amazon-gallery`, at most `max_count`."""

    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.CASCADE, related_name="image_slots"
    )
    role = models.CharField(max_length=50)
    preset = models.ForeignKey(Preset, on_delete=models.PROTECT, related_name="slots")
    max_count = models.PositiveSmallIntegerField(default=1)
    required = models.BooleanField(default=False)
    filename_template = models.CharField(max_length=200, blank=True)  # else the preset's

    class Meta:
        ordering = ["channel", "role"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "role"], name="one_slot_per_role")
        ]

    def __str__(self):
        return f"{self.channel_id}:{self.role}"


class RenditionQuerySet(models.QuerySet):
    def update(self, **fields):
        # Incremental publishing asks which renditions changed since its last run
        # (publishing.changes); every row write says when, including the many
        # queryset updates of the render jobs and reviews.
        fields.setdefault("updated_at", timezone.now())
        return super().update(**fields)


class Rendition(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    source_sha256 = models.CharField(max_length=64)
    spec_hash = models.CharField(max_length=64)  # of the effective spec (preset + market)
    preset = models.ForeignKey(
        Preset, null=True, blank=True, on_delete=models.SET_NULL, related_name="renditions"
    )
    preset_version = models.PositiveIntegerField(default=1)
    locale = models.CharField(max_length=10, blank=True)  # the market override applied
    spec = models.JSONField(default=dict)  # the effective spec, as rendered
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    blob = models.ForeignKey(
        "assets.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=10, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # {"passed": bool, "checks": [{"rule": "min_longest_side", "passed": true, "detail": "…"}]}
    compliance = models.JSONField(default=dict, blank=True)
    # Background removal's confidence, when the spec removes the background; doubtful
    # cut-outs go to a person for review instead of straight to a channel.
    confidence = models.FloatField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    rendered_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RenditionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_sha256", "spec_hash"], name="rendition_once_per_source_and_spec"
            )
        ]
        indexes = [
            models.Index(fields=["preset", "status"]),
            models.Index(fields=["updated_at"]),
        ]

    def __str__(self):
        return f"{self.source_sha256[:8]}/{self.spec_hash[:8]}"

    def save(self, *args, **kwargs):
        # As RenditionQuerySet.update: a write through the instance is a change too.
        self.updated_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)
