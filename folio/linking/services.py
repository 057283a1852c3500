"""Linking services: the only writers of Link rows, and the readers that resolve them.

Every write validates first, then runs in one transaction that also writes a LinkChange (with
the rows before and after, so `undo` can restore them) and one audit entry. Reads build their
lists with a fixed number of queries whatever the number of links or variants.
"""

import re
from collections import defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Now
from django.utils import timezone

from folio.accounts import audit
from folio.assets.browse import visible_assets
from folio.assets.models import Asset
from folio.catalog.models import Channel, Locale, Product, ProductModel
from folio.errors import Conflict, InvalidInput, NotFound, StaleWrite
from folio.linking.models import ROLES, Link, LinkChange, LinkSet

ROLE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
BUMP_CHUNK = 500  # owners per statement: 1,000 parameters, under every backend's limit
SNAPSHOT = (
    "id",
    "product_id",
    "product_model_id",
    "asset_id",
    "role",
    "position",
    "locale",
    "channel_id",
    "source",
    "created_by_id",
)


# --- validation helpers ------------------------------------------------------------------------


def _user(user):
    user = user if user is not None else audit.current_actor().user
    return user if getattr(user, "pk", None) else None


def resolve_target(target) -> Product | ProductModel:
    """A Product or ProductModel from itself, a SKU or a model code (a SKU wins a tie)."""
    if isinstance(target, Product | ProductModel):
        return target
    product = Product.objects.select_related("parent__parent").filter(sku=target).first()
    if product is not None:
        return product
    model = ProductModel.objects.select_related("parent").filter(code=target).first()
    if model is None:
        raise NotFound(f"no product or product model {target!r}", details={"target": target})
    return model


def resolve_target_product(sku: str) -> Product:
    product = Product.objects.select_related("parent__parent").filter(sku=sku).first()
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", details={"sku": sku})
    return product


def resolve_target_model(code: str) -> ProductModel:
    model = ProductModel.objects.select_related("parent").filter(code=code).first()
    if model is None:
        raise NotFound(f"no product model {code!r}", details={"code": code})
    return model


def _owner_q(owner) -> dict:
    if isinstance(owner, Product):
        return {"product": owner, "product_model": None}
    return {"product": None, "product_model": owner}


def _check_role(role: str) -> str:
    if not isinstance(role, str) or not ROLE_RE.match(role):
        raise InvalidInput(
            f"role {role!r} is not a slug (lower-case letters, digits, '-' or '_')",
            details={"role": role},
        )
    return role


def _check_locale(locale: str) -> str:
    locale = locale or ""
    if locale and not Locale.objects.filter(code=locale).exists():
        raise InvalidInput(f"no locale {locale!r}", details={"locale": locale})
    return locale


def _channel(channel) -> Channel | None:
    if channel in (None, ""):
        return None
    if isinstance(channel, Channel):
        return channel
    found = Channel.objects.filter(code=channel).first()
    if found is None:
        raise InvalidInput(f"no channel {channel!r}", details={"channel": channel})
    return found


def _visible_asset(asset_id: int, user) -> Asset:
    qs = visible_assets(user) if user is not None else Asset.objects.all()
    asset = qs.filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    if asset.status == Asset.Status.ARCHIVED:
        raise InvalidInput(f"asset {asset_id} is archived", details={"asset_id": asset_id})
    return asset


def _refuse_duplicate(
    owner_filter: dict,
    asset_id: int,
    role: str,
    locale: str,
    channel_id,
    *,
    exclude: int | None = None,
) -> None:
    # The DB constraint cannot see this for links without a channel (NULLs are distinct).
    qs = Link.objects.filter(
        **owner_filter, asset_id=asset_id, role=role, locale=locale, channel_id=channel_id
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise InvalidInput(
            f"asset {asset_id} is already linked as {role}"
            + (f" for {locale}" if locale else "")
            + (" in this channel" if channel_id else ""),
            details={"role": role, "asset_id": asset_id, "locale": locale},
        )


def snapshot(link: Link) -> dict:
    return {f: getattr(link, f) for f in SNAPSHOT}


def _history(action: str, ops: list[dict], user, *, owner=None, summary: str) -> LinkChange:
    user = _user(user)
    change = LinkChange.objects.create(
        user=user,
        username=getattr(user, "username", "") or "",
        action=action,
        product=owner if isinstance(owner, Product) else None,
        product_model=owner if isinstance(owner, ProductModel) else None,
        changes=ops,
    )
    audit.record(
        f"link.{action}",
        change,
        summary=summary,
        changes={"link_change": change.pk, "ops": len(ops)},
    )
    return change


def _group(link: Link):
    return Link.objects.filter(
        product_id=link.product_id,
        product_model_id=link.product_model_id,
        role=link.role,
        locale=link.locale,
        channel_id=link.channel_id,
    )


# --- the links version of an owner ---------------------------------------------------------------


def links_version(target) -> int:
    """The version of the links a product or product model owns (1 before any link write)."""
    owner = resolve_target(target)
    found = LinkSet.objects.filter(**_owner_q(owner)).values_list("version", flat=True).first()
    return found or 1


def _set_filter(owner) -> dict:
    return {"product": owner} if isinstance(owner, Product) else {"product_model": owner}


def _claim(owner, expected_version: int | None) -> int:
    """Inside a write's transaction: refuse it when the owner's links moved past
    `expected_version`, else bump their version. The UPDATE locks the owner's row, so link
    writes of one owner queue here (PostgreSQL; SQLite has one writer anyway)."""
    # An editor scoped to category trees changes the links of products in them only.
    from folio.catalog import scoping

    if isinstance(owner, Product):
        scoping.check_product(owner)
    else:
        scoping.check_model(owner, None)
    where = _set_filter(owner)
    if not LinkSet.objects.filter(**where).exists():
        try:
            with transaction.atomic():
                LinkSet.objects.create(**where)
        except IntegrityError:
            pass  # created meanwhile by a concurrent first write
    qs = LinkSet.objects.filter(**where)
    if expected_version is not None:
        qs = qs.filter(version=expected_version)
    if qs.update(version=F("version") + 1, updated_at=Now()) == 0:
        current = links_version(owner)
        raise StaleWrite(
            f"the links of {owner} were changed by someone else (you saw version "
            f"{expected_version}, they are now at {current}); reload them and try again",
            details={"current_version": current, "current": links_for(owner)},
        )
    return LinkSet.objects.filter(**where).values_list("version", flat=True).get()


def _bump_many(product_ids, model_ids) -> None:
    """Bump the links version of every owner a bulk write touched (no version named), after
    checking the actor may change them all."""
    from folio.catalog import scoping

    product_ids, model_ids = set(product_ids) - {None}, set(model_ids) - {None}
    # An editor scoped to category trees changes the links of products in them only.
    scoping.check_owners(product_ids, model_ids)
    # One upsert per kind of owner and chunk: an owner's first row starts at version 2
    # (created at 1, bumped by this write), an existing one goes up by one. Inserting the
    # missing rows and then updating them all through the ORM was a quarter of auto-linking's
    # time. Owners in id order, so that concurrent bulk writes lock rows in the same order.
    table = connection.ops.quote_name(LinkSet._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for column, ids in (("product_id", product_ids), ("product_model_id", model_ids)):
            ordered = sorted(ids)
            for start in range(0, len(ordered), BUMP_CHUNK):
                chunk = ordered[start : start + BUMP_CHUNK]
                cursor.execute(
                    f"INSERT INTO {table} ({column}, version, updated_at) "  # noqa: S608
                    f"VALUES {', '.join(['(%s, 2, %s)'] * len(chunk))} "
                    f"ON CONFLICT ({column}) DO UPDATE SET version = {table}.version + 1, "
                    "updated_at = excluded.updated_at",
                    [x for owner_id in chunk for x in (owner_id, now)],
                )


def _owner_of(link: Link):
    return link.product if link.product_id else link.product_model


# --- writes -------------------------------------------------------------------------------------


def link(
    target,
    asset_id: int,
    role: str,
    *,
    position: int | None = None,
    locale: str = "",
    channel=None,
    user=None,
    source: str = "manual",
    expected_version: int | None = None,
) -> Link:
    """Link an asset to a product or product model; `position` None appends, a number inserts
    there and moves the later links of that role/locale/channel down by one. With
    `expected_version` (the owner's links version the caller saw) a stale write is refused."""
    owner = resolve_target(target)
    _check_role(role)
    locale = _check_locale(locale)
    chan = _channel(channel)
    _visible_asset(asset_id, user)
    if position is not None and (not isinstance(position, int) or position < 1):
        raise InvalidInput("position must be 1 or more", details={"position": position})
    owner_filter = _owner_q(owner)
    with transaction.atomic():
        version = _claim(owner, expected_version)
        _refuse_duplicate(owner_filter, asset_id, role, locale, chan and chan.pk)
        group = Link.objects.select_for_update().filter(
            **owner_filter, role=role, locale=locale, channel=chan
        )
        ops = []
        if position is None:
            position = (group.aggregate(m=Max("position"))["m"] or 0) + 1
        else:
            later = list(group.filter(position__gte=position))
            for other in later:
                before = snapshot(other)
                other.position += 1
                ops.append({"op": "update", "before": before, "link": snapshot(other)})
            Link.objects.bulk_update(later, ["position"])
        new = Link.objects.create(
            **owner_filter,
            asset_id=asset_id,
            role=role,
            position=position,
            locale=locale,
            channel=chan,
            source=source,
            created_by=_user(user),
        )
        ops.insert(0, {"op": "create", "link": snapshot(new)})
        _history(
            "link",
            ops,
            user,
            owner=owner,
            summary=f"linked asset {asset_id} to {owner} as {role} #{position}",
        )
    new.links_version = version
    return new


def _get_link(link_id: int, *, lock: bool = False) -> Link:
    qs = Link.objects.select_for_update() if lock else Link.objects
    found = qs.filter(pk=link_id).first()
    if found is None:
        raise NotFound(f"no link {link_id}", details={"link_id": link_id})
    return found


def unlink(link_id: int, *, user=None, expected_version: int | None = None) -> int:
    """Remove a link; answers its owner's new links version."""
    with transaction.atomic():
        old = _get_link(link_id)
        owner = _owner_of(old)
        version = _claim(owner, expected_version)
        old = _get_link(link_id, lock=True)  # still there now that the owner's row is held
        snap = snapshot(old)
        old.delete()
        _history(
            "unlink",
            [{"op": "delete", "link": snap}],
            user,
            owner=owner,
            summary=f"unlinked asset {snap['asset_id']} ({snap['role']}) from {owner}",
        )
    return version


def _renumber(ordered: list[Link]) -> list[dict]:
    ops = []
    for i, item in enumerate(ordered, start=1):
        if item.position != i:
            before = snapshot(item)
            item.position = i
            ops.append({"op": "update", "before": before, "link": snapshot(item)})
    Link.objects.bulk_update(ordered, ["position"])
    return ops


def reorder(
    target,
    role: str,
    asset_ids_in_order: list[int],
    *,
    locale: str = "",
    channel=None,
    user=None,
    expected_version: int | None = None,
) -> list[Link]:
    """Put the links of one role/locale/channel in the given order (positions 1…n); the list
    must name each linked asset exactly once."""
    owner = resolve_target(target)
    _check_role(role)
    locale = _check_locale(locale)
    chan = _channel(channel)
    with transaction.atomic():
        version = _claim(owner, expected_version)
        links = list(
            Link.objects.select_for_update().filter(
                **_owner_q(owner), role=role, locale=locale, channel=chan
            )
        )
        by_asset = {lk.asset_id: lk for lk in links}
        wanted = [int(a) for a in asset_ids_in_order]
        if sorted(wanted) != sorted(by_asset) or len(set(wanted)) != len(wanted):
            raise InvalidInput(
                f"the order must name each asset linked as {role} exactly once "
                f"(linked: {sorted(by_asset)})",
                details={"role": role, "linked": sorted(by_asset), "given": wanted},
            )
        ordered = [by_asset[a] for a in wanted]
        ops = _renumber(ordered)
        if ops:
            _history("reorder", ops, user, owner=owner, summary=f"reordered {role} of {owner}")
    for lk in ordered:
        lk.links_version = version
    return ordered


def move(link_id: int, position: int, *, user=None, expected_version: int | None = None) -> Link:
    """Move one link to `position` within its role/locale/channel; the others close up."""
    if not isinstance(position, int) or position < 1:
        raise InvalidInput("position must be 1 or more", details={"position": position})
    with transaction.atomic():
        version = _claim(_owner_of(_get_link(link_id)), expected_version)
        moving = _get_link(link_id, lock=True)
        links = list(_group(moving).select_for_update().order_by("position", "id"))
        others = [lk for lk in links if lk.pk != moving.pk]
        others.insert(min(position, len(links)) - 1, next(lk for lk in links if lk.pk == link_id))
        ops = _renumber(others)
        owner = moving.product if moving.product_id else moving.product_model
        if ops:
            _history(
                "reorder", ops, user, owner=owner, summary=f"moved link {link_id} to #{position}"
            )
    moved = next(lk for lk in others if lk.pk == link_id)
    moved.links_version = version
    return moved


def replace(
    link_id: int, new_asset_id: int, *, user=None, expected_version: int | None = None
) -> Link:
    """Show another asset in the same place (role, position, locale, channel)."""
    _visible_asset(new_asset_id, user)
    with transaction.atomic():
        version = _claim(_owner_of(_get_link(link_id)), expected_version)
        current = _get_link(link_id, lock=True)
        owner_filter = {
            "product_id": current.product_id,
            "product_model_id": current.product_model_id,
        }
        _refuse_duplicate(
            owner_filter,
            new_asset_id,
            current.role,
            current.locale,
            current.channel_id,
            exclude=current.pk,
        )
        before = snapshot(current)
        current.asset_id = new_asset_id
        current.save(update_fields=["asset"])
        owner = current.product if current.product_id else current.product_model
        _history(
            "replace",
            [{"op": "update", "before": before, "link": snapshot(current)}],
            user,
            owner=owner,
            summary=f"replaced asset {before['asset_id']} by {new_asset_id} in link {link_id}",
        )
    current.links_version = version
    return current


def replace_everywhere(
    old_asset_id: int, new_asset_id: int, *, preview: bool = True, user=None
) -> dict:
    """Every link showing `old_asset_id` shows `new_asset_id` instead. Where the owner already
    shows the new asset in that role/locale/channel, the old link is removed instead. With
    `preview` nothing is written; otherwise one transaction and one LinkChange (undoable)."""
    if old_asset_id == new_asset_id:
        raise InvalidInput("the new asset is the old one", details={"new_asset_id": new_asset_id})
    _visible_asset(new_asset_id, user)
    with transaction.atomic():
        qs = Link.objects.filter(asset_id=old_asset_id).select_related(
            "product", "product_model", "channel"
        )
        links = list(qs.select_for_update(of=("self",)) if not preview else qs)
        taken = set(
            Link.objects.filter(asset_id=new_asset_id).values_list(
                "product_id", "product_model_id", "role", "locale", "channel_id"
            )
        )
        planned = []
        for lk in links:
            key = (lk.product_id, lk.product_model_id, lk.role, lk.locale, lk.channel_id)
            planned.append((lk, "remove" if key in taken else "replace"))
        rows = [{**_describe(lk), "action": action} for lk, action in planned]
        if preview or not planned:
            return {"preview": preview, "change_id": None, "links": rows}
        ops = []
        for lk, action in planned:
            before = snapshot(lk)
            if action == "remove":
                lk.delete()
                ops.append({"op": "delete", "link": before})
            else:
                lk.asset_id = new_asset_id
                ops.append({"op": "update", "before": before, "link": snapshot(lk)})
        Link.objects.bulk_update([lk for lk, a in planned if a == "replace"], ["asset"])
        _bump_many([lk.product_id for lk, _ in planned], [lk.product_model_id for lk, _ in planned])
        change = _history(
            "replace_all",
            ops,
            user,
            summary=f"replaced asset {old_asset_id} by {new_asset_id} in {len(ops)} links",
        )
    return {"preview": False, "change_id": change.pk, "links": rows}


def undo(change_id: int, *, user=None) -> LinkChange:
    """Restore the links a LinkChange altered, newest op first; recorded as its own change."""
    with transaction.atomic():
        change = LinkChange.objects.select_for_update().filter(pk=change_id).first()
        if change is None:
            raise NotFound(f"no link change {change_id}", details={"change_id": change_id})
        if change.undone:
            raise Conflict(f"link change {change_id} was already undone")
        ops = []
        for op in reversed(change.changes):
            snap = op["link"]
            if op["op"] == "create":
                Link.objects.filter(pk=snap["id"]).delete()
                ops.append({"op": "delete", "link": snap})
            elif op["op"] == "delete":
                _refuse_duplicate(
                    {
                        "product_id": snap["product_id"],
                        "product_model_id": snap["product_model_id"],
                    },
                    snap["asset_id"],
                    snap["role"],
                    snap["locale"],
                    snap["channel_id"],
                )
                restored = Link.objects.create(**snap)
                ops.append({"op": "create", "link": snapshot(restored)})
            else:
                current = Link.objects.filter(pk=snap["id"]).first()
                if current is None:
                    raise Conflict(
                        f"link {snap['id']} no longer exists; cannot undo change {change_id}",
                        details={"link_id": snap["id"]},
                    )
                after = snapshot(current)
                for f in ("asset_id", "role", "position", "locale", "channel_id"):
                    setattr(current, f, op["before"][f])
                current.save()
                ops.append({"op": "update", "before": after, "link": snapshot(current)})
        touched = [op["link"] for op in change.changes]
        _bump_many([t["product_id"] for t in touched], [t["product_model_id"] for t in touched])
        change.undone = True
        change.save(update_fields=["undone"])
        owner = change.product or change.product_model
        _history("undo", ops, user, owner=owner, summary=f"undid link change {change_id}")
    return change


# --- reads --------------------------------------------------------------------------------------


def _describe(lk: Link) -> dict:
    return {
        "link_id": lk.pk,
        "product": lk.product.sku if lk.product_id else None,
        "product_model": lk.product_model.code if lk.product_model_id else None,
        "role": lk.role,
        "position": lk.position,
        "locale": lk.locale,
        "channel": lk.channel.code if lk.channel_id else None,
    }


def _role_order(role: str):
    return (ROLES.index(role), role) if role in ROLES else (len(ROLES), role)


def links_for(target, *, locale: str | None = None, channel=None) -> dict[str, list[dict]]:
    """The links that apply to a product (or model), per role, inheritance resolved.

    Per role the nearest level that has applicable links wins (the variant, then its
    sub-model, then its root model). A link scoped to a locale or channel applies only there;
    an unscoped one applies everywhere. Without `locale`/`channel` only unscoped links apply.
    Each entry names its origin: "self" or the code of the model it is inherited from.
    """
    chan = _channel(channel)
    return {
        role: [_entry(lk, origin, chan) for lk, origin in entries]
        for role, entries in applicable_links(target, locale=locale, channel=chan).items()
    }


def applicable_links(
    target, *, locale: str | None = None, channel=None
) -> dict[str, list[tuple[Link, str]]]:
    """links_for's choice as the Link rows themselves (asset and its current version loaded),
    each with its origin, per role in role order: for callers that need more of the asset
    than links_for's entries carry. One query."""
    owner = resolve_target(target)
    chan = _channel(channel)
    if isinstance(owner, Product):
        chain = []
        node = owner.parent
        while node is not None:
            chain.insert(0, node)
            node = node.parent
        own = Q(product=owner)
    else:
        chain = [owner.parent] if owner.parent_id else []
        own = Q(product_model=owner)
    # nearest first: self = 0, then the sub-model, then the root
    levels = {m.pk: (len(chain) - i, m.code) for i, m in enumerate(chain)}
    qs = Link.objects.filter(own | Q(product_model_id__in=list(levels)))
    qs = qs.filter(locale__in=["", locale] if locale else [""])
    qs = (
        qs.filter(Q(channel__isnull=True) | Q(channel=chan))
        if chan
        else qs.filter(channel__isnull=True)
    )
    qs = qs.select_related("asset", "asset__current_version").order_by("role", "position", "id")
    by_role: dict[str, dict[int, list[Link]]] = defaultdict(lambda: defaultdict(list))
    for lk in qs:
        if isinstance(owner, Product):
            level = 0 if lk.product_id else levels[lk.product_model_id][0]
        else:
            level = 0 if lk.product_model_id == owner.pk else levels[lk.product_model_id][0]
        by_role[lk.role][level].append(lk)
    out = {}
    for role in sorted(by_role, key=_role_order):
        level = min(by_role[role])
        origin = "self" if level == 0 else next(c for lv, c in levels.values() if lv == level)
        chosen: dict[int, Link] = {}
        # a scoped link of an asset beats the unscoped link of the same asset
        for lk in by_role[role][level]:
            prev = chosen.get(lk.asset_id)
            if prev is None or (
                (lk.locale or lk.channel_id) and not (prev.locale or prev.channel_id)
            ):
                chosen[lk.asset_id] = lk
        entries = sorted(chosen.values(), key=lambda lk: (lk.position, lk.pk))
        out[role] = [(lk, origin) for lk in entries]
    return out


def _entry(lk: Link, origin: str, chan) -> dict:
    version = lk.asset.current_version
    return {
        "id": lk.pk,
        "role": lk.role,
        "position": lk.position,
        "asset_id": lk.asset_id,
        "title": lk.asset.title,
        "kind": lk.asset.kind,
        "status": lk.asset.status,
        "filename": version.filename if version else "",
        "locale": lk.locale,
        "channel": chan.code if lk.channel_id and chan else None,
        "source": lk.source,
        "origin": origin,
    }


def where_used(asset_id: int) -> dict:
    """Every product, product model, inheriting variant and channel an asset appears in."""
    links = list(
        Link.objects.filter(asset_id=asset_id)
        .select_related("product", "product_model", "channel")
        .order_by("id")
    )
    model_links = [lk for lk in links if lk.product_model_id]
    variants = []
    if model_links:
        mids = {lk.product_model_id for lk in model_links}
        roles = {lk.role for lk in model_links}
        candidates = list(
            Product.objects.filter(
                Q(parent_id__in=mids) | Q(parent__parent_id__in=mids)
            ).select_related("parent")
        )
        subs = {p.parent_id for p in candidates} | set(
            ProductModel.objects.filter(parent_id__in=mids).values_list("pk", flat=True)
        )
        # which nearer levels have links of their own for a role (they hide the model's)
        own = set()
        for pid, mid, role in (
            Link.objects.filter(role__in=roles)
            .filter(Q(product__in=[p.pk for p in candidates]) | Q(product_model_id__in=subs))
            .values_list("product_id", "product_model_id", "role")
        ):
            own.add((("p", pid) if pid else ("m", mid), role))
        seen = set()
        for lk in model_links:
            for p in candidates:
                chain = [p.parent_id, p.parent.parent_id]
                if lk.product_model_id not in chain or (p.pk, lk.role) in seen:
                    continue
                if (("p", p.pk), lk.role) in own:
                    continue
                if (
                    lk.product_model_id == p.parent.parent_id
                    and (("m", p.parent_id), lk.role) in own
                ):
                    continue
                seen.add((p.pk, lk.role))
                variants.append({"sku": p.sku, "role": lk.role, "via": lk.product_model.code})
    if any(lk.channel_id is None for lk in links):
        channels = list(Channel.objects.order_by("code").values_list("code", flat=True))
    else:
        channels = sorted({lk.channel.code for lk in links})
    return {
        "asset_id": asset_id,
        "links": [_describe(lk) for lk in links],
        "products": sorted({lk.product.sku for lk in links if lk.product_id}),
        "product_models": sorted({lk.product_model.code for lk in model_links}),
        "variants": sorted(variants, key=lambda v: (v["sku"], v["role"])),
        "channels": channels if links else [],
    }


def impact(asset_id: int) -> dict:
    """What archiving, deleting or expiring an asset would take away, for a preview."""
    used = where_used(asset_id)
    skus = set(used["products"]) | {v["sku"] for v in used["variants"]}
    roles: dict[str, int] = defaultdict(int)
    for lk in used["links"]:
        roles[lk["role"]] += 1
    main_for = sorted(
        {lk["product"] or lk["product_model"] for lk in used["links"] if lk["role"] == "main"}
        | {v["sku"] for v in used["variants"] if v["role"] == "main"}
    )
    return {
        "asset_id": asset_id,
        "links": len(used["links"]),
        "products": len(skus),
        "product_models": len(used["product_models"]),
        "channels": used["channels"],
        "roles": dict(roles),
        "main_image_of": main_for,
        "summary": (
            f"shown by {len(skus)} products and {len(used['product_models'])} models "
            f"in {len(used['channels'])} channels"
            if used["links"]
            else "not linked"
        ),
    }
