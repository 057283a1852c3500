"""Editors scoped to category trees.

An administrator may give a catalog editor one or more categories (`Category.editors`); the
editor is then *scoped* to those trees — each category and everything below it — and may
create, change, restore and delete only products and product models classified somewhere in
them. A variant counts as classified in its own categories and in those of its product
model(s), since variants are usually classified on the model. An editor with no category is
unscoped, as are administrators and the system (scheduler, migrations). Reading stays global:
scoping limits who may change what, not what the catalog is.

The check runs in the service functions (create, update, delete, restore, bulk upsert, bulk
edit, model save), so the API, web UI, CLI, imports and bulk edits all obey it. It takes a
whole batch at once with a fixed number of queries, whatever the batch size. A write must
leave the product in scope too: a scoped editor cannot move a product out of their trees.
"""

from dataclasses import dataclass

from django.db.models import Q

from folio.catalog.models import Category, Product, ProductModel
from folio.errors import PermissionDenied


@dataclass(frozen=True)
class EditorScope:
    roots: tuple[str, ...]  # the category codes the editor was given
    ids: frozenset[int]  # those categories and all their descendants

    def describe(self) -> str:
        return "the categor" + ("y " if len(self.roots) == 1 else "ies ") + ", ".join(self.roots)


def _acting(user):
    if user is None:
        from folio.accounts import audit

        user = audit.current_actor().user
    return user if getattr(user, "pk", None) else None


def editor_scope(user=None) -> EditorScope | None:
    """The trees `user` (default: whoever is acting) is limited to, or None if unscoped."""
    user = _acting(user)
    if user is None or user.is_superuser:
        return None
    roots = list(Category.objects.filter(editors=user).values_list("code", "path"))
    if not roots:
        return None
    from folio.accounts.services import user_roles

    if "admin" in user_roles(user):
        return None
    below = Q()
    for _, path in roots:
        below |= Q(path=path) | Q(path__startswith=path + "/")
    ids = frozenset(Category.objects.filter(below).values_list("pk", flat=True))
    return EditorScope(roots=tuple(sorted(code for code, _ in roots)), ids=ids)


def _model_categories(model_ids: set[int]) -> dict[int, set[int]]:
    """Category ids of each given model, including those of its parent model (2 queries)."""
    if not model_ids:
        return {}
    parents = dict(ProductModel.objects.filter(pk__in=model_ids).values_list("pk", "parent_id"))
    wanted = set(model_ids) | {p for p in parents.values() if p}
    own: dict[int, set[int]] = {}
    for mid, cid in ProductModel.categories.through.objects.filter(
        productmodel_id__in=wanted
    ).values_list("productmodel_id", "category_id"):
        own.setdefault(mid, set()).add(cid)
    return {mid: own.get(mid, set()) | own.get(parents.get(mid) or 0, set()) for mid in model_ids}


def _refusal(scope: EditorScope, what: str, key: str, leaving: bool) -> str:
    if leaving:
        return (
            f"{what} {key} would no longer be classified in {scope.describe()} you may edit; "
            "keep at least one category of your scope"
        )
    return f"{what} {key} is not classified in {scope.describe()} you may edit"


def out_of_scope_products(scope: EditorScope | None, items) -> dict[str, str]:
    """For prepared product writes (objects with .product, .created and .categories — the new
    category ids, None when unchanged), the SKUs refused and why. A fixed number of queries."""
    items = list(items)
    if scope is None or not items:
        return {}
    existing = [p.product.pk for p in items if not p.created and p.product.pk]
    current: dict[int, set[int]] = {}
    for pid, cid in Product.categories.through.objects.filter(product_id__in=existing).values_list(
        "product_id", "category_id"
    ):
        current.setdefault(pid, set()).add(cid)
    models = _model_categories({p.product.parent_id for p in items if p.product.parent_id})
    refused = {}
    for p in items:
        inherited = models.get(p.product.parent_id, set())
        sku = p.product.sku
        if not p.created and not (current.get(p.product.pk, set()) | inherited) & scope.ids:
            refused[sku] = _refusal(scope, "product", sku, leaving=False)
            continue
        after = set(p.categories) if p.categories is not None else current.get(p.product.pk)
        if not ((after or set()) | inherited) & scope.ids:
            refused[sku] = _refusal(scope, "product", sku, leaving=not p.created)
    return refused


def check_products(items, user=None) -> None:
    """Raise PermissionDenied naming the first refused SKU and the scope."""
    scope = editor_scope(user)
    refused = out_of_scope_products(scope, items)
    if refused:
        sku, message = next(iter(refused.items()))
        raise PermissionDenied(
            message, details={"sku": sku, "scope": list(scope.roots)}, code="out_of_scope"
        )


def check_product(product: Product, user=None) -> None:
    """An existing product as it is now (deleting it)."""

    class _Item:
        created = False
        categories = None

    item = _Item()
    item.product = product
    check_products([item], user)


def check_model(model: ProductModel, new_categories: list[int] | None, user=None) -> None:
    """A product model write: in scope before (unless new) and after."""
    scope = editor_scope(user)
    if scope is None:
        return
    created = model.pk is None
    inherited = (
        _model_categories({model.parent_id}).get(model.parent_id, set())
        if (model.parent_id)
        else set()
    )
    current = _model_categories({model.pk}).get(model.pk, set()) if not created else set()
    details = {"code": model.code, "scope": list(scope.roots)}
    if not created and not current & scope.ids:
        raise PermissionDenied(
            _refusal(scope, "product model", model.code, leaving=False),
            details=details,
            code="out_of_scope",
        )
    after = set(new_categories) | inherited if new_categories is not None else current
    if not after & scope.ids:
        raise PermissionDenied(
            _refusal(scope, "product model", model.code, leaving=not created),
            details=details,
            code="out_of_scope",
        )


def check_owners(product_ids, model_ids, user=None) -> None:
    """Link writes that span many owners (replace everywhere, undo, auto-linking): every
    product and product model touched must be in the editor's scope. Three queries."""
    scope = editor_scope(user)
    if scope is None:
        return
    product_ids, model_ids = set(product_ids) - {None}, set(model_ids) - {None}

    class _Item:
        created = False
        categories = None

        def __init__(self, product):
            self.product = product

    products = Product.objects.filter(pk__in=product_ids).only("pk", "sku", "parent_id")
    check_products([_Item(p) for p in products], user)
    if model_ids:
        categories = _model_categories(model_ids)
        outside = sorted(m for m in model_ids if not categories.get(m, set()) & scope.ids)
        if outside:
            code = ProductModel.objects.filter(pk=outside[0]).values_list("code", flat=True).get()
            raise PermissionDenied(
                _refusal(scope, "product model", code, leaving=False),
                details={"code": code, "scope": list(scope.roots)},
                code="out_of_scope",
            )
