"""Which products a feed publishes.

A selection is the feed's own (Feed.selection) or a run's one-off: `{}` (every product),
`{"category": code}` (that category and every category below it), `{"filter": text | [texts]}`
(attribute conditions as the product list takes them, `capacity>=500 ml`; all must hold) or
`{"skus": [...]}`. Keys may be combined; a product must then match each.

When the channel has a category tree, only products in it are published: a product is in
it when it, or the product model it inherits from, sits in a category of the tree (variants
usually take their categories from their model). A product outside the tree is simply not
selected — unless it was named by SKU, where the report should say why it did not go out.

Ids come out in SKU order, in batches, so that a run over 100,000 products never holds
their rows, only their ids.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet

from folio.catalog import queries
from folio.catalog.models import Category, Channel, Product, ProductModel

BATCH = 500


@dataclass
class Selection:
    """What a run publishes: `batches()` of product ids in SKU order, and the products named
    by SKU that the channel's category tree leaves out (reported, not published)."""

    queryset: QuerySet
    outside_tree: list[tuple[int, str]] = field(default_factory=list)  # (product id, sku)
    batch_size: int = BATCH
    _ids: list[int] | None = None

    def ids(self) -> list[int]:
        """Every selected id in SKU order, read once (a run goes through them once per
        locale; ids only, in one pass, rather than a page query per batch)."""
        if self._ids is None:
            self._ids = list(
                self.queryset.order_by("sku")
                .values_list("pk", flat=True)
                .iterator(chunk_size=10_000)
            )
        return self._ids

    def batches(self) -> Iterator[list[int]]:
        ids = self.ids()
        for start in range(0, len(ids), self.batch_size):
            yield ids[start : start + self.batch_size]

    def count(self) -> int:
        return len(self.ids())


def select(channel: Channel, selection: dict | None, *, batch_size: int = BATCH) -> Selection:
    selection = selection or {}
    qs = _filtered(selection["filter"]) if selection.get("filter") else Product.objects.all()
    if selection.get("category"):
        qs = qs.filter(in_categories_q(_below(selection["category"])))
    outside: list[tuple[int, str]] = []
    if selection.get("skus"):
        qs = qs.filter(sku__in=list(selection["skus"]))
    tree = _tree(channel)
    if tree is not None:
        in_tree = in_categories_q(tree)
        if selection.get("skus"):
            outside = list(qs.exclude(in_tree).order_by("sku").values_list("pk", "sku"))
        qs = qs.filter(in_tree)
    return Selection(queryset=qs, outside_tree=outside, batch_size=batch_size)


def _tree(channel: Channel) -> QuerySet | None:
    """The categories of the channel's tree (its root and everything below), or None."""
    if channel.category_tree_id is None:
        return None
    root = Category.objects.filter(pk=channel.category_tree_id).values_list("path", flat=True)
    path = root.first()
    return Category.objects.filter(Q(path=path) | Q(path__startswith=f"{path}/"))


def _below(code: str) -> QuerySet:
    from folio.errors import InvalidInput

    path = Category.objects.filter(code=code).values_list("path", flat=True).first()
    if path is None:
        raise InvalidInput(f"no category {code!r}", details={"field": "selection.category"})
    return Category.objects.filter(Q(path=path) | Q(path__startswith=f"{path}/"))


def in_categories_q(categories: QuerySet) -> Q:
    """Products in one of `categories` themselves or through their product model (a variant
    of a two-level model through either model)."""
    own = Product.categories.through.objects.filter(
        product_id=OuterRef("pk"), category__in=categories
    )
    models = ProductModel.categories.through.objects.filter(category__in=categories).values(
        "productmodel_id"
    )
    return Q(Exists(own)) | Q(parent_id__in=models) | Q(parent__parent_id__in=models)


def _filtered(value) -> QuerySet:
    texts = [value] if isinstance(value, str) else list(value)
    f = queries.ProductFilter(conditions=[queries.parse_condition(t) for t in texts])
    return queries.filter_products(f)
