"""Publishing: feeds (what a channel receives, in which format, where), publications (one run
of a feed), what each run sent, skipped or removed, the listing a channel currently holds, and
outgoing webhooks.

A channel may have several feeds (a marketplace channel with a Google Merchant XML feed and an
Amazon listings feed; a web shop with a Shopify CSV and JSON-LD). Each feed is published on its
own; its `Listing` rows are what the destination holds after the last successful publication,
which is what an incremental run compares against.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel


class Feed(VersionedModel):
    class Format(models.TextChoices):
        GOOGLE_XML = "google-xml", "Google Merchant Center XML (RSS 2.0)"
        GOOGLE_TSV = "google-tsv", "Google Merchant Center TSV"
        AMAZON_JSON = "amazon-json", "Amazon JSON_LISTINGS_FEED v2.0"
        SHOPIFY_CSV = "shopify-csv", "Shopify product CSV"
        JSONLD = "jsonld", "schema.org JSON-LD (web shop)"
        JSON = "json", "Generic JSON"
        CSV = "csv", "Generic CSV"
        PDF = "pdf", "Print: PDF product sheets and catalogues"

    class Connector(models.TextChoices):
        NONE = "", "Files only"
        SHOPIFY = "shopify", "Shopify Admin GraphQL API"
        AMAZON = "amazon", "Amazon Selling Partner Listings Items API"

    channel = models.ForeignKey("catalog.Channel", on_delete=models.CASCADE, related_name="feeds")
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=20, choices=Format.choices)
    # Locales published (each gets its own file where the format holds one language);
    # empty: every locale of the channel.
    locales = models.JSONField(default=list, blank=True)
    currency = models.CharField(max_length=3, blank=True)  # empty: the channel's first currency
    # field → rule: {"attribute": code, "locale"?: …, "scope"?: …} | {"constant": value}
    # | {"template": "{brand} {name} {capacity}"}, each with optional "max_length"/"truncate".
    # Fields not named here come from the format's default mapping.
    mapping = models.JSONField(default=dict, blank=True)
    # Format settings: seller_id, marketplace_id, product_type, link_template, title…
    options = models.JSONField(default=dict, blank=True)
    # {"kind": "folder", "path": …} | {"kind": "s3", "bucket", "prefix", "public_base_url"}
    # | {"kind": "http", "url": …}; empty: a folder under FOLIO_PUBLICATIONS_DIR.
    destination = models.JSONField(default=dict, blank=True)
    # Push straight to the channel's API besides writing files; stays a dry run until
    # credentials are configured (settings).
    connector = models.CharField(max_length=20, choices=Connector.choices, blank=True)
    # The default selection: {"category": code} | {"filter": "…"} | {"skus": […]}; empty: all.
    selection = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel", "code"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "code"], name="one_feed_code_per_channel")
        ]

    def __str__(self):
        return f"{self.channel_id}/{self.code}"


class Publication(models.Model):
    """One run of a feed: what was selected, sent, skipped and removed, and where it went."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Mode(models.TextChoices):
        FULL = "full"  # every selected product re-resolved and sent
        INCREMENTAL = "incremental"  # only what changed since the last successful run

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="publications")
    channel = models.ForeignKey("catalog.Channel", on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=20)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.INCREMENTAL)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    selection = models.JSONField(default=dict, blank=True)
    # The successful publication this one was compared against (incremental runs).
    base = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"selected", "published", "added", "updated", "unchanged", "removed", "skipped"}
    counts = models.JSONField(default=dict, blank=True)
    # skip reason code → number of products (the report's summary)
    reasons = models.JSONField(default=dict, blank=True)
    location = models.CharField(max_length=1000, blank=True)  # where the files are now
    files = models.JSONField(default=list, blank=True)  # [{"name", "size", "sha256"}]
    message = models.TextField(blank=True)  # why it failed
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # What the next incremental run needs to ask only for what changed since this one (see
    # publishing.changes): the moment from which changes may not have been seen, and the key
    # of everything the listings depended on besides their products.
    changes_since = models.DateTimeField(null=True, blank=True)
    version_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["feed", "status", "-id"])]

    def __str__(self):
        return f"publication {self.pk} of {self.feed_id}"


class PublishedItem(models.Model):
    """One product in one publication: sent (added/updated), removed, or skipped with every
    reason. Unchanged products of an incremental run are not repeated here: their Listing row
    keeps what was last sent."""

    class Action(models.TextChoices):
        ADDED = "added"
        UPDATED = "updated"
        REMOVED = "removed"
        SKIPPED = "skipped"

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=100)
    locale = models.CharField(max_length=10, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    # [{"code": "missing_attribute", "message": "…", "attribute"?, "asset_id"?, "field"?}]
    reasons = models.JSONField(default=list, blank=True)
    product_version = models.PositiveIntegerField(null=True, blank=True)
    asset_versions = models.JSONField(default=dict, blank=True)  # {asset_id: version number}
    renditions = models.JSONField(default=dict, blank=True)  # {file name: sha256}
    # updated: [{"field", "old", "new"}] of what differs from what was sent before (the diff a
    # dry run shows)
    changes = models.JSONField(default=list, blank=True)
    remote = models.JSONField(default=dict, blank=True)  # a push connector's answer

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["publication", "action"]),
            models.Index(fields=["product", "-id"]),
        ]


class Listing(models.Model):
    """What the destination of a feed holds for one product in one locale, as of the last
    successful publication that changed it. Incremental runs compare against `signature`
    and reuse `fragment` (the product's rendered piece of the feed) when nothing changed."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="listings")
    locale = models.CharField(max_length=10, blank=True)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=100)
    signature = models.CharField(max_length=64)  # hash of every input of the fragment
    fragment = models.TextField()
    data = models.JSONField(default=dict, blank=True)  # the fields sent (delta formats diff it)
    product_version = models.PositiveIntegerField(null=True, blank=True)
    asset_versions = models.JSONField(default=dict, blank=True)
    renditions = models.JSONField(default=dict, blank=True)
    publication = models.ForeignKey(
        Publication, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["feed", "locale", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "locale", "sku"], name="one_listing_per_sku")
        ]


class Webhook(VersionedModel):
    """An outgoing webhook: events are POSTed as JSON, signed with HMAC-SHA256 of the body."""

    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=300, blank=True)
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list)  # see events.EVENTS; ["*"] for all
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class WebhookDelivery(models.Model):
    """One event to one webhook, with every attempt's outcome (the delivery log)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its (next) attempt
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after the last attempt

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    event_id = models.CharField(max_length=64)  # the same for every webhook of one event
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    log = models.JSONField(default=list, blank=True)  # [{"at", "status_code", "error", "ms"}]
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
