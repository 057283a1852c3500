"""Links between product facts and product media: which asset shows which product, in which
role and position, for which locale and channel. Linking depends on catalog and assets; they
never import it."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel

ROLES = ("main", "gallery", "lifestyle", "swatch", "video", "manual", "certificate", "logo")


class Link(models.Model):
    """An asset shown for a product, a product model or a variant.

    A variant inherits its models' links role by role, unless it has links of its own for that
    role (the blue bottle has its own main image and shares the manual).
    """

    # Every index is written on each new link (millions at catalog scale), so there is none
    # that another already serves: the owner is the first column of its unique constraint and
    # of its (owner, role, position) index, and role alone says too little to look up by.
    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="links",
        db_index=False,
    )
    product_model = models.ForeignKey(
        "catalog.ProductModel",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="links",
        db_index=False,
    )
    asset = models.ForeignKey("assets.Asset", on_delete=models.CASCADE, related_name="links")
    role = models.SlugField(max_length=50, db_index=False)  # ROLES or a custom role
    position = models.PositiveIntegerField(default=1)
    locale = models.CharField(max_length=10, blank=True)  # "" = every locale
    channel = models.ForeignKey(
        "catalog.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )  # null = every channel
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="manual")  # manual, auto, import, api

    class Meta:
        # NULLs are distinct in unique constraints, so for links without a channel the service
        # layer is what keeps an asset from being linked twice in one role.
        ordering = ["role", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(product__isnull=False, product_model__isnull=True)
                    | models.Q(product__isnull=True, product_model__isnull=False)
                ),
                name="link_has_one_owner",
            ),
            models.UniqueConstraint(
                fields=["product", "asset", "role", "locale", "channel"],
                name="link_once_per_product",
            ),
            models.UniqueConstraint(
                fields=["product_model", "asset", "role", "locale", "channel"],
                name="link_once_per_model",
            ),
        ]
        indexes = [
            models.Index(fields=["product", "role", "position"]),
            models.Index(fields=["product_model", "role", "position"]),
        ]

    def __str__(self):
        owner = f"p{self.product_id}" if self.product_id else f"m{self.product_model_id}"
        return f"{owner}:{self.role}#{self.position}→a{self.asset_id}"


class LinkSet(VersionedModel):
    """The version of the links one product or product model owns, as one unit.

    Writes to links change more than one row (inserting at a position moves the later links;
    a reorder renumbers the whole role), so a version per link could not tell a client that
    the order it read is no longer the order stored. Every link write bumps its owner's
    version instead, under a row lock that also queues concurrent link writes of one owner;
    a write naming an older version changes nothing (409). An owner without a row is at
    version 1. The row lives here, not on Product, because linking depends on catalog and not
    the other way round.
    """

    product = models.OneToOneField(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    product_model = models.OneToOneField(
        "catalog.ProductModel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(product__isnull=False, product_model__isnull=True)
                    | models.Q(product__isnull=True, product_model__isnull=False)
                ),
                name="linkset_has_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["updated_at"])]  # publishing.changes


class LinkChange(models.Model):
    """History of links: link, unlink, reorder, replace (undoable), auto-link."""

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product_model = models.ForeignKey(
        "catalog.ProductModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changes = models.JSONField(default=list)  # enough to undo: [{"op", "link": {...}}]
    undone = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]


class AutoLinkPattern(models.Model):
    """How file names name their product: `{sku}_{view}.jpg` with views mapped to roles and
    positions, `{gtin}.MAIN.jpg`, `{sku}-{position}.jpg`."""

    name = models.SlugField(max_length=100, unique=True)
    pattern = models.CharField(max_length=200)
    # {"front": {"role": "main", "position": 1}, "side": {"role": "gallery", "position": 2}}
    views = models.JSONField(default=dict, blank=True)
    default_role = models.SlugField(max_length=50, default="gallery")
    priority = models.IntegerField(default=100)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self):
        return self.name


class MediaRequirement(VersionedModel):
    """What a family needs linked per channel for completeness: `min_count` approved, in-rights
    assets in `role`; with `compliant_preset`, each counted asset's rendition through that
    preset must be ready and have passed its compliance check (a marketplace main image)."""

    family = models.ForeignKey(
        "catalog.Family", on_delete=models.CASCADE, related_name="media_requirements"
    )
    channel = models.ForeignKey("catalog.Channel", on_delete=models.CASCADE, related_name="+")
    role = models.SlugField(max_length=50)
    min_count = models.PositiveSmallIntegerField(default=1)
    compliant_preset = models.ForeignKey(
        "renditions.Preset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["family", "channel", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "channel", "role"], name="media_requirement_once"
            ),
        ]

    def __str__(self):
        return f"{self.family_id}:{self.channel_id}:{self.role}≥{self.min_count}"
