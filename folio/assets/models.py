"""Product media: assets with versions, metadata, approval, usage rights, previews, sharing.

An asset is a logical file ("EspressoPro front packshot") with a history of versions; each
version points at a content-addressed blob (SHA-256), so identical bytes are stored once
whatever their names and versions. Previews are derived files, made by background jobs.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel


class Blob(models.Model):
    """Stored bytes, named by their SHA-256. Never modified; deleted only when unreferenced."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    mime = models.CharField(max_length=100)  # sniffed from the content, never the name
    storage_name = models.CharField(max_length=300)  # path in the media storage
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.sha256[:12]


class Collection(VersionedModel):
    """A curated set of assets ("Winter Collection", the brand kit); an asset can be in many."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_brand_kit = models.BooleanField(default=False)
    # Which review an asset in this collection goes through (else its kind's, else the default).
    workflow = models.ForeignKey(
        "ReviewWorkflow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collections",
    )
    # Agency users see and upload only into collections they are given.
    agencies = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="agency_collections"
    )
    # Asset managers scoped to this collection: a manager given any collection changes,
    # deletes and uploads only within their collections (folio.assets.scoping).
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_collections"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Tag(VersionedModel):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ReviewWorkflow(VersionedModel):
    """The approval an asset needs: one step, or several named steps in order, each decided by
    its own group ("brand", then "legal", then "creative")."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    # [{"name": "brand", "group": "brand-approvers"}, {"name": "legal", "group": "legal-…"}]
    steps = models.JSONField(default=list)
    # Asset kinds that use this workflow unless their collection names another.
    kinds = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class CustomField(VersionedModel):
    """An admin-defined metadata field; values live in Asset.custom[code]."""

    class Type(models.TextChoices):
        TEXT = "text"
        SELECT = "select"
        DATE = "date"
        NUMBER = "number"

    code = models.SlugField(max_length=100, unique=True)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices)
    options = models.JSONField(default=list, blank=True)  # for select
    required = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Asset(VersionedModel):
    class Type(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"
        AUDIO = "audio"
        PDF = "pdf"
        DOCUMENT = "document"

    class Kind(models.TextChoices):
        PACKSHOT = "packshot"
        LIFESTYLE = "lifestyle"
        CAMPAIGN = "campaign"
        LOGO = "logo"
        MANUAL = "manual"
        VIDEO = "video"
        CERTIFICATE = "certificate"
        GUIDELINE = "guideline"
        FONT = "font"
        OTHER = "other"

    class Status(models.TextChoices):
        DRAFT = "draft"
        IN_REVIEW = "in_review"
        APPROVED = "approved"
        REJECTED = "rejected"
        ARCHIVED = "archived"

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=Type.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    current_version = models.ForeignKey(
        "AssetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    alt_text = models.JSONField(default=dict, blank=True)  # {"en_US": "…", "de_DE": "…"}
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets")
    collections = models.ManyToManyField(Collection, blank=True, related_name="assets")
    creator = models.CharField(max_length=200, blank=True)
    copyright = models.CharField(max_length=300, blank=True)
    credit = models.CharField(max_length=300, blank=True)
    # Usage rights
    licence = models.CharField(max_length=300, blank=True)
    territories = models.JSONField(default=list, blank=True)  # ISO 3166; empty: worldwide
    channels = models.ManyToManyField("catalog.Channel", blank=True, related_name="+")
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    # Perceptual hash of the current image version (64-bit dHash as 16 hex digits).
    phash = models.CharField(max_length=16, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # An asset that lives in another DAM (see folio/assets/external.py): its file stays
    # there, Folio keeps the reference and the facts it needs. Blank for local assets.
    external_system = models.SlugField(max_length=100, blank=True)
    external_id = models.CharField(max_length=300, blank=True)
    external_url = models.URLField(max_length=1000, blank=True)
    external_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["type", "kind", "status"]),
            # what changed since a publication (publishing.changes)
            models.Index(fields=["updated_at"]),
            models.Index(fields=["valid_from"]),
        ]
        constraints = [
            # One Folio asset per asset of another DAM; local assets (no id) are not limited.
            models.UniqueConstraint(
                fields=["external_system", "external_id"],
                condition=~models.Q(external_id=""),
                name="external_asset_once",
            )
        ]

    def __str__(self):
        return self.title


class ExternalSystem(VersionedModel):
    """Another DAM whose assets Folio references. `secret` is the shared HMAC secret both
    sides know: the webhook must recompute signatures with it, so it is stored as given
    (not hashed); it is never logged, and shown only once, when the system is registered or
    its secret rotated."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    secret = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class AssetVersion(models.Model):
    """One uploaded file of an asset. Metadata is read from the content at upload."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="versions")
    filename = models.CharField(max_length=255)  # as uploaded, sanitised
    mime = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)  # seconds
    # Everything else read from the file: orientation, colour space, ICC, EXIF/IPTC/XMP,
    # codecs, frame size, "extension_mismatch"…
    metadata = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    comment = models.CharField(max_length=500, blank=True)
    pruned = models.BooleanField(default=False)  # bytes removed by the retention setting

    class Meta:
        ordering = ["asset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "number"], name="version_number_once")
        ]

    def __str__(self):
        return f"{self.asset_id} v{self.number}"


class AssetChange(models.Model):
    """History of an asset: new versions, metadata edits, workflow decisions, restores."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="history")
    version = models.PositiveIntegerField()  # the asset's row version after the change
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30)
    changes = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]


class Review(models.Model):
    """A decision on one step of an asset version's approval."""

    class Decision(models.TextChoices):
        APPROVED = "approved"
        REJECTED = "rejected"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="reviews")
    version_number = models.PositiveIntegerField()
    step = models.CharField(max_length=100)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["asset", "decided_at"]


class Preview(models.Model):
    """A derived image of a version: thumbnail, large view, PDF page, video poster."""

    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="previews")
    name = models.CharField(max_length=20)  # thumb, large
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="preview_once")]


class Upload(models.Model):
    """A resumable upload in progress: chunks are appended to a file under var/uploads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()  # announced total
    received = models.PositiveBigIntegerField(default=0)
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )  # a new version of this asset, when set
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()


class ColorPalette(VersionedModel):
    """Named brand colours with HEX, RGB and CMYK values, part of a brand kit."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="palettes")
    name = models.CharField(max_length=200)
    # [{"name": "Aqualine Blue", "hex": "#0B5CAD", "rgb": [11, 92, 173], "cmyk": [94, 47, 0, 32]}]
    colours = models.JSONField(default=list)

    def __str__(self):
        return self.name


class ShareLink(VersionedModel):
    """A time-limited, revocable link for people without an account (partners, agencies)."""

    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    assets = models.ManyToManyField(Asset, blank=True, related_name="share_links")
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    preset = models.CharField(max_length=100, blank=True)  # a rendition preset, or originals
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class ShareDownload(models.Model):
    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="downloads")
    asset = models.ForeignKey(Asset, null=True, on_delete=models.SET_NULL, related_name="+")
    zip = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
