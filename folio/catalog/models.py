"""Product facts: the structure (locales, channels, attributes, families, variants, categories)
and the products themselves.

Values live on each product as one typed document, `{attribute: [{locale, scope, data}]}`
(docs/catalog.md). The document is the truth; `ValueIndex` rows are derived from it (with
inherited values resolved) so that lists can filter by attribute without reading JSON.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel

code_validator = RegexValidator(
    r"^[A-Za-z0-9_]+$", "codes use letters, digits and underscores only (e.g. name, size_ml)"
)


class CodeField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 100)
        kwargs.setdefault("validators", [code_validator])
        super().__init__(*args, **kwargs)


class DocumentField(models.JSONField):
    """A JSON document inserted many rows at a time (product values).

    On PostgreSQL, Django's bulk_create sends many rows as one array per column (INSERT …
    SELECT FROM UNNEST), and with client-side parameter binding psycopg escapes each quote of
    each JSON text in Python, about a fifth of bulk_upsert's time there. A field with a
    placeholder makes Django use a plain multi-row VALUES insert instead, whose literals
    libpq quotes."""

    def get_placeholder(self, value, compiler, connection):
        return "%s"


class Labelled(VersionedModel):
    """Structure objects: a code for machines and labels per locale for people."""

    code = CodeField(unique=True)
    labels = models.JSONField(default=dict, blank=True)  # {"en_US": "Capacity", "de_DE": …}

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self):
        return self.code

    def label(self, locale: str | None = None) -> str:
        return self.labels.get(locale or "", "") or self.labels.get("en_US", "") or self.code


class Locale(VersionedModel):
    code = models.CharField(max_length=10, unique=True)  # en_US, de_DE, fr_FR
    label = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Currency(VersionedModel):
    code = models.CharField(max_length=3, unique=True)  # ISO 4217
    label = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self):
        return self.code


class Category(Labelled):
    """A node of a category tree; a root (no parent) is a tree, e.g. `master` or `amazon_de`.

    `path` holds the codes from the root ("master/kitchen/coffee") so that "in this category
    or below" is one indexed prefix match.
    """

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=1000, db_index=True, editable=False)
    sort_order = models.IntegerField(default=0)
    # Catalog editors scoped to this tree (this category and everything below it): a scoped
    # editor changes only products and models classified somewhere in their trees. An editor
    # with no such category is unscoped. Set through folio.catalog.scoping.set_editor_scope.
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="editor_categories"
    )

    class Meta(Labelled.Meta):
        verbose_name_plural = "categories"


class Channel(Labelled):
    """A sales destination (web shop, marketplace, print) with its locales, currencies,
    territories, category tree and requirements. Renditions and publishing hang their
    channel settings off this one model."""

    class Kind(models.TextChoices):
        WEBSHOP = "webshop"
        MARKETPLACE = "marketplace"
        PRINT = "print"
        OTHER = "other"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.WEBSHOP)
    locales = models.ManyToManyField(Locale, related_name="channels")
    currencies = models.ManyToManyField(Currency, related_name="channels", blank=True)
    territories = models.JSONField(default=list, blank=True)  # ISO 3166 country codes
    category_tree = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="channels"
    )
    # Publication needs an approved product (editors' changes become proposals) when on.
    requires_review = models.BooleanField(default=False)


class AttributeGroup(Labelled):
    sort_order = models.IntegerField(default=0)

    class Meta(Labelled.Meta):
        ordering = ["sort_order", "code"]


class MeasurementFamily(Labelled):
    """Units of one physical quantity with conversions to its standard unit.

    units: {"MILLILITER": {"symbol": "ml", "factor": "0.001", "offset": "0", "labels": {…}}};
    amount_in_standard = amount × factor + offset (offset only for temperatures).
    """

    standard_unit = models.CharField(max_length=50)
    units = models.JSONField(default=dict)

    class Meta(Labelled.Meta):
        verbose_name_plural = "measurement families"


class Attribute(Labelled):
    class Type(models.TextChoices):
        IDENTIFIER = "identifier"
        TEXT = "text"
        TEXTAREA = "textarea"
        NUMBER = "number"
        MEASUREMENT = "measurement"
        PRICE = "price"
        BOOLEAN = "boolean"
        DATE = "date"
        SELECT = "select"
        MULTISELECT = "multiselect"
        ASSET_COLLECTION = "asset_collection"
        PRODUCT_REFERENCE = "product_reference"

    class TextRule(models.TextChoices):
        NONE = ""
        URL = "url"
        EMAIL = "email"
        REGEX = "regex"

    type = models.CharField(max_length=20, choices=Type.choices)
    group = models.ForeignKey(
        AttributeGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="attributes"
    )
    sort_order = models.IntegerField(default=0)
    localizable = models.BooleanField(default=False)
    scopable = models.BooleanField(default=False)
    # Locale-specific: only these locales may hold a value (empty: every locale).
    available_locales = models.ManyToManyField(Locale, blank=True, related_name="+")
    unique = models.BooleanField(default=False)
    is_gtin = models.BooleanField(default=False)
    # Validation
    max_length = models.PositiveIntegerField(null=True, blank=True)
    text_rule = models.CharField(max_length=10, choices=TextRule.choices, blank=True)
    regex = models.CharField(max_length=500, blank=True)
    rich_text = models.BooleanField(default=False)  # textarea: sanitized HTML
    number_min = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    number_max = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    decimals_allowed = models.BooleanField(default=True)
    negative_allowed = models.BooleanField(default=True)
    date_min = models.DateField(null=True, blank=True)
    date_max = models.DateField(null=True, blank=True)
    measurement_family = models.ForeignKey(
        MeasurementFamily,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attributes",
    )
    default_unit = models.CharField(max_length=50, blank=True)
    allowed_units = models.JSONField(default=list, blank=True)  # empty: every unit of the family

    class Meta(Labelled.Meta):
        ordering = ["sort_order", "code"]


class AttributeOption(VersionedModel):
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="options")
    code = CodeField()
    labels = models.JSONField(default=dict, blank=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["attribute", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["attribute", "code"], name="option_code_per_attribute")
        ]

    def __str__(self):
        return f"{self.attribute.code}.{self.code}"


class Family(Labelled):
    """An attribute set: which attributes a product of this kind has, which each channel needs."""

    attributes = models.ManyToManyField(Attribute, related_name="families", blank=True)
    label_attribute = models.ForeignKey(
        Attribute, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    image_attribute = models.ForeignKey(
        Attribute, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Products of this family need an approved proposal before publication (besides channels).
    requires_review = models.BooleanField(default=False)

    class Meta(Labelled.Meta):
        verbose_name_plural = "families"


class FamilyRequirement(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="requirements")
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["family", "attribute", "channel"], name="requirement_once"
            )
        ]


class FamilyVariant(Labelled):
    """How products of a family vary: 1 or 2 levels of axes; each attribute has one level.

    Level 0 is the root product model (common values), 1 the sub-model (2-level variants) or
    the variant product, 2 the variant product of a 2-level family variant.
    """

    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="variants")

    @property
    def levels(self) -> int:
        return max((a.level for a in self.level_attributes.all()), default=1)


class FamilyVariantAttribute(models.Model):
    family_variant = models.ForeignKey(
        FamilyVariant, on_delete=models.CASCADE, related_name="level_attributes"
    )
    attribute = models.ForeignKey(Attribute, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()  # 1 or 2
    is_axis = models.BooleanField(default=False)

    class Meta:
        ordering = ["level", "-is_axis", "attribute__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["family_variant", "attribute"], name="attribute_one_level"
            )
        ]


class ProductGroup(Labelled):
    """A named set of products across families, e.g. the "Winter Collection"."""


class AssociationType(Labelled):
    two_way = models.BooleanField(default=False)
    quantified = models.BooleanField(default=False)  # packs: "2 × filter cartridge"


class ProductModel(VersionedModel):
    """A root or sub product model: the values its variants share."""

    code = CodeField(unique=True)
    family_variant = models.ForeignKey(
        FamilyVariant, on_delete=models.PROTECT, related_name="models"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="sub_models"
    )
    categories = models.ManyToManyField(Category, blank=True, related_name="product_models")
    values = DocumentField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["updated_at"])]  # publishing.changes

    def __str__(self):
        return self.code

    @property
    def level(self) -> int:
        return 0 if self.parent_id is None else 1


sku_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    "a SKU is 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit",
)


class Product(VersionedModel):
    sku = models.CharField(max_length=100, unique=True, validators=[sku_validator])
    family = models.ForeignKey(
        Family, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    parent = models.ForeignKey(
        ProductModel, null=True, blank=True, on_delete=models.PROTECT, related_name="variants"
    )
    enabled = models.BooleanField(default=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="products")
    groups = models.ManyToManyField(ProductGroup, blank=True, related_name="products")
    values = DocumentField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sku"]
        indexes = [
            models.Index(fields=["family", "sku"]),
            models.Index(fields=["updated_at", "id"]),
        ]

    def __str__(self):
        return self.sku


class Association(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="associations")
    type = models.ForeignKey(AssociationType, on_delete=models.PROTECT, related_name="+")
    target_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_model = models.ForeignKey(
        ProductModel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_group = models.ForeignKey(
        ProductGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        target_product__isnull=False,
                        target_model__isnull=True,
                        target_group__isnull=True,
                    )
                    | models.Q(
                        target_product__isnull=True,
                        target_model__isnull=False,
                        target_group__isnull=True,
                    )
                    | models.Q(
                        target_product__isnull=True,
                        target_model__isnull=True,
                        target_group__isnull=False,
                    )
                ),
                name="association_one_target",
            )
        ]


class ValueIndex(models.Model):
    """One filterable value of a product, inherited values resolved (derived, rebuilt on write).

    `text` holds text, option codes (one row per option of a multi-select), dates as ISO
    strings and booleans as "true"/"false"; `number` holds numbers, measurement amounts in the
    family's standard unit, and prices (with `unit` = the currency).
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    attribute = models.ForeignKey(
        Attribute, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    locale = models.CharField(max_length=10, blank=True)
    scope = models.CharField(max_length=100, blank=True)
    unit = models.CharField(max_length=50, blank=True)
    text = models.CharField(max_length=255, null=True, blank=True)
    number = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "value index entries"
        indexes = [
            models.Index(fields=["product", "attribute"], name="valueindex_product"),
            models.Index(fields=["attribute", "text", "product"], name="valueindex_text"),
            models.Index(fields=["attribute", "number", "product"], name="valueindex_number"),
        ]


class Completeness(models.Model):
    """How complete a product is for one channel and locale; kept current on every change."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="completeness", db_index=False
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    locale = models.ForeignKey(Locale, on_delete=models.CASCADE, related_name="+")
    required = models.PositiveIntegerField(default=0)
    filled = models.PositiveIntegerField(default=0)
    ratio = models.PositiveSmallIntegerField(default=100)  # floor(100 × filled / required)
    missing = models.JSONField(default=list, blank=True)  # attribute codes
    stale = models.BooleanField(default=False)  # a structure change is being recomputed

    class Meta:
        verbose_name_plural = "completeness"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "channel", "locale"], name="completeness_once"
            )
        ]
        indexes = [models.Index(fields=["channel", "locale", "ratio", "product"])]


class ProductChange(models.Model):
    """One saved change of a product or product model: who, when, which values, old → new.

    `changes` is [{"field": "values", "attribute": "name", "locale": "en_US", "scope": null,
    "old": …, "new": …}, {"field": "enabled", "old": true, "new": false}, …]. The old sides
    let any earlier version be rebuilt by undoing newer changes in order.
    """

    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="history",
        db_index=False,
    )
    product_model = models.ForeignKey(
        ProductModel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="history",
        db_index=False,
    )
    version = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=10, blank=True)
    action = models.CharField(max_length=20)  # create, update, restore, approve, bulk_edit
    changes = DocumentField(default=list)
    proposal = models.ForeignKey(
        "Proposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        indexes = [
            models.Index(fields=["product", "version"], name="history_product"),
            models.Index(fields=["product_model", "version"], name="history_model"),
        ]


class Proposal(models.Model):
    """Draft changes to a product under review, beside its live (approved) version."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="proposals")
    base_version = models.PositiveIntegerField()
    changes = models.JSONField()  # the PATCH the editor sent, validated
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        indexes = [models.Index(fields=["status", "proposed_at"])]
