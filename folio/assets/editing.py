"""Editing what people say about assets, and the structure around them.

`update_asset` changes an asset's metadata and usage rights: the whole input is checked first
(a 422 names every field that is wrong and nothing is written), then the version the caller
read (a stale one answers 409 with the current state and nothing is written), then one
transaction writes, records the change (old → new) in the asset's history and the audit log,
and sends asset_changed so the search index follows. `alt_text` and `custom` merge (a key set
to null or "" is removed); every other field replaces.

Collections, tags, custom fields and review workflows have their create/update/delete here.
"""

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, Q
from django.utils.dateparse import parse_date, parse_datetime

from folio.accounts import audit
from folio.assets import scoping
from folio.assets.browse import get_asset, normalise_tag, tags_named
from folio.assets.models import (
    Asset,
    AssetChange,
    Collection,
    CustomField,
    ReviewWorkflow,
    Tag,
)
from folio.assets.signals import asset_changed
from folio.catalog.models import Channel, Locale
from folio.catalog.structure import COUNTRIES
from folio.errors import Conflict, InvalidInput, NotFound
from folio.versioning import APPLY_AGAIN, check_version, save_versioned
from folio.words import counted

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
TEXT_LIMITS = {"title": 300, "creator": 200, "copyright": 300, "credit": 300, "licence": 300}
PLAIN = (
    "title",
    "description",
    "kind",
    "alt_text",
    "creator",
    "copyright",
    "credit",
    "licence",
    "territories",
    "valid_from",
    "expires_at",
    "custom",
)
RELATED = ("tags", "collections", "channels")
EDITABLE = PLAIN + RELATED
MAX_CUSTOM_TEXT = 2000


class Errors:
    def __init__(self, subject: str):
        self.subject = subject
        self.items: list[dict] = []

    def add(self, field: str, reason: str, **extra) -> None:
        self.items.append({"field": field, "reason": reason, **extra})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        text = "; ".join(f"{e['field']}: {e['reason']}" for e in self.items[:5])
        raise InvalidInput(
            f"{self.subject}: {text}",
            details={"field": self.items[0]["field"], "errors": self.items},
        )


def _iso(value):
    return value.isoformat() if isinstance(value, datetime.datetime | datetime.date) else value


def asset_snapshot(asset: Asset) -> dict:
    return {
        "id": asset.pk,
        "version": asset.version,
        "title": asset.title,
        "description": asset.description,
        "type": asset.type,
        "kind": asset.kind,
        "status": asset.status,
        "alt_text": dict(asset.alt_text or {}),
        "tags": sorted(t.name for t in asset.tags.all()),
        "collections": sorted(c.code for c in asset.collections.all()),
        "creator": asset.creator,
        "copyright": asset.copyright,
        "credit": asset.credit,
        "licence": asset.licence,
        "territories": list(asset.territories or []),
        "channels": sorted(c.code for c in asset.channels.all()),
        "valid_from": _iso(asset.valid_from),
        "expires_at": _iso(asset.expires_at),
        "custom": dict(asset.custom or {}),
    }


# --- field checks ---------------------------------------------------------------------------


def _text(errors: Errors, field: str, value, *, required=False) -> str | None:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "must be text")
        return None
    value = value.strip()
    if required and not value:
        errors.add(field, "must not be empty")
        return None
    limit = TEXT_LIMITS.get(field)
    if limit and len(value) > limit:
        errors.add(field, f"at most {limit} characters")
        return None
    return value


def _codes(errors: Errors, field: str, value) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.add(field, "must be a list of codes")
        return None
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def _datetime(errors: Errors, field: str, value) -> datetime.datetime | bool | None:
    """The datetime, None when cleared, False when invalid."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, datetime.date):
        parsed = datetime.datetime.combine(value, datetime.time.min)
    elif isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None and parse_date(value.strip()):
            parsed = datetime.datetime.combine(parse_date(value.strip()), datetime.time.min)
    else:
        parsed = None
    if parsed is None:
        errors.add(field, "must be a date or date-time (ISO 8601)", value=str(value)[:50])
        return False
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _territories(errors: Errors, value) -> list[str] | None:
    codes = _codes(errors, "territories", value)
    if codes is None:
        return None
    codes = [c.upper() for c in codes]
    wrong = [c for c in codes if c not in COUNTRIES]
    if wrong:
        errors.add(
            "territories", f"{wrong[0]} is not an ISO 3166-1 alpha-2 country code", value=wrong[0]
        )
        return None
    return sorted(set(codes))


def _alt_text(errors: Errors, current: dict, value) -> dict | None:
    if not isinstance(value, dict):
        errors.add("alt_text", 'must map locale codes to text: {"en_US": "…"}')
        return None
    known = set(Locale.objects.filter(code__in=list(value)).values_list("code", flat=True))
    merged = dict(current or {})
    for locale, text in value.items():
        if locale not in known:
            errors.add(f"alt_text.{locale}", f"no locale {locale}", locale=locale)
            continue
        if text is None or (isinstance(text, str) and not text.strip()):
            merged.pop(locale, None)
        elif not isinstance(text, str):
            errors.add(f"alt_text.{locale}", "must be text", locale=locale)
        elif len(text) > 1000:
            errors.add(f"alt_text.{locale}", "at most 1000 characters", locale=locale)
        else:
            merged[locale] = text.strip()
    return merged


def custom_value(errors: Errors, field: CustomField, value) -> Any:
    where = f"custom.{field.code}"
    if field.type == CustomField.Type.TEXT:
        if not isinstance(value, str):
            errors.add(where, "must be text")
        elif len(value) > MAX_CUSTOM_TEXT:
            errors.add(where, f"at most {MAX_CUSTOM_TEXT} characters")
        else:
            return value.strip()
    elif field.type == CustomField.Type.SELECT:
        if value not in (field.options or []):
            errors.add(
                where,
                f"must be one of {', '.join(map(str, field.options or []))}",
                value=str(value)[:100],
            )
        else:
            return value
    elif field.type == CustomField.Type.DATE:
        parsed = parse_date(value) if isinstance(value, str) else None
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            parsed = value
        if parsed is None:
            errors.add(where, "must be a date (YYYY-MM-DD)", value=str(value)[:50])
        else:
            return parsed.isoformat()
    elif field.type == CustomField.Type.NUMBER:
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(str(value).strip())
            if not number.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.add(where, "must be a number", value=str(value)[:50])
        else:
            return int(number) if number == number.to_integral_value() else float(number)
    return None


def _custom(errors: Errors, current: dict, value) -> dict | None:
    if not isinstance(value, dict):
        errors.add("custom", 'must map custom field codes to values: {"campaign": "…"}')
        return None
    fields = {f.code: f for f in CustomField.objects.all()}
    merged = dict(current or {})
    for code, raw in value.items():
        field = fields.get(code)
        if field is None:
            errors.add(f"custom.{code}", f"no custom field {code}")
        elif raw is None or raw == "":
            if field.required:
                errors.add(f"custom.{code}", f"{field.label or code} is required")
            merged.pop(code, None)
        else:
            clean = custom_value(errors, field, raw)
            if clean is not None:
                merged[code] = clean
    return merged


def _check(asset: Asset, changes: dict) -> dict:
    errors = Errors(f"asset {asset.pk}")
    unknown = sorted(set(changes) - set(EDITABLE))
    for name in unknown:
        errors.add(name, f"not an editable field (editable: {', '.join(EDITABLE)})")
    clean: dict[str, Any] = {}
    for name in ("title", "description", "creator", "copyright", "credit", "licence"):
        if name in changes:
            value = _text(errors, name, changes[name], required=name == "title")
            if value is not None:
                clean[name] = value
    if "kind" in changes:
        if changes["kind"] not in Asset.Kind.values:
            errors.add(
                "kind",
                f"must be one of {', '.join(Asset.Kind.values)}",
                value=str(changes["kind"])[:50],
            )
        else:
            clean["kind"] = changes["kind"]
    if "alt_text" in changes:
        value = _alt_text(errors, asset.alt_text, changes["alt_text"])
        if value is not None:
            clean["alt_text"] = value
    if "custom" in changes:
        value = _custom(errors, asset.custom, changes["custom"])
        if value is not None:
            clean["custom"] = value
    if "territories" in changes:
        value = _territories(errors, changes["territories"])
        if value is not None:
            clean["territories"] = value
    for name in ("valid_from", "expires_at"):
        if name in changes:
            value = _datetime(errors, name, changes[name])
            if value is not False:
                clean[name] = value
    start = clean.get("valid_from", asset.valid_from)
    end = clean.get("expires_at", asset.expires_at)
    if start and end and end <= start and ("valid_from" in clean or "expires_at" in clean):
        errors.add("expires_at", "must be after valid_from")
    if "tags" in changes:
        names = _codes(errors, "tags", changes["tags"])
        if names is not None:
            names = list(dict.fromkeys(n for n in (normalise_tag(x) for x in names) if n))
            long = [n for n in names if len(n) > 100]
            if long:
                errors.add("tags", "a tag has at most 100 characters", value=long[0][:50])
            clean["tags"] = names
    for name, model in (("collections", Collection), ("channels", Channel)):
        if name in changes:
            codes = _codes(errors, name, changes[name])
            if codes is None:
                continue
            found = list(model.objects.filter(code__in=codes))
            missing = sorted(set(codes) - {o.code for o in found})
            if missing:
                errors.add(name, f"no {model._meta.verbose_name} {missing[0]}", value=missing[0])
            clean[name] = found
    errors.raise_if_any()
    return clean


def _changes_list(before: dict, after: dict) -> list[dict]:
    return [
        {"field": k, "old": before.get(k), "new": v}
        for k, v in after.items()
        if k not in ("version",) and before.get(k) != v
    ]


def record_change(asset: Asset, action: str, changes: list[dict], summary: str) -> None:
    actor = audit.current_actor().user
    user = actor if getattr(actor, "pk", None) else None
    AssetChange.objects.create(
        asset=asset,
        version=asset.version,
        user=user,
        username=user.username if user else "system",
        action=action,
        changes=changes,
    )
    audit.record(
        f"asset.{action}",
        asset,
        summary=summary,
        changes={c["field"]: [c.get("old"), c.get("new")] for c in changes},
    )


def update_asset(
    asset_id: int, changes: dict, *, expected_version: int | None = None, user=None
) -> Asset:
    """Change metadata and rights of an asset (see the module docstring for the rules)."""
    from folio.assets.workflow import acting

    user = user or audit.current_actor().user
    with acting(user):
        return _update_asset(asset_id, changes, expected_version, user)


@transaction.atomic
def _update_asset(asset_id: int, changes, expected_version: int | None, user) -> Asset:
    if not isinstance(changes, dict):
        raise InvalidInput("send the fields to change as an object")
    get_asset(asset_id, user)  # 404 for assets the user may not see
    asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
    check_version(asset, expected_version, f"asset {asset_id}", asset_snapshot, then=APPLY_AGAIN)
    clean = _check(asset, changes)
    if "collections" in clean:
        scoping.check_collection_change(asset, clean["collections"], user)
    else:
        scoping.check_asset(asset, user)
    before = asset_snapshot(asset)
    plain = [f for f in PLAIN if f in clean]
    for name in plain:
        setattr(asset, name, clean[name])
    save_versioned(asset, expected_version, plain, snapshot=asset_snapshot)
    if "tags" in clean:
        asset.tags.set(tags_named(clean["tags"]))
    if "collections" in clean:
        asset.collections.set(clean["collections"])
    if "channels" in clean:
        asset.channels.set(clean["channels"])
    after = asset_snapshot(asset)
    diff = _changes_list(before, after)
    if diff:
        record_change(
            asset,
            "edit",
            diff,
            f"asset {asset.pk} ({asset.title}): " + ", ".join(c["field"] for c in diff),
        )
        asset_changed.send(sender=Asset, asset_ids=[asset.pk])
    return asset


# --- structure: shared helpers ----------------------------------------------------------------


def _check_code(subject: str, code) -> str:
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise InvalidInput(
            f"{subject}: code: letters, digits, _ and - only (1–100 characters)",
            details={"field": "code", "value": str(code)[:100]},
        )
    return code


def _get(model, code: str, *, lock=False):
    qs = model.objects.select_for_update() if lock else model.objects
    obj = qs.filter(code=code).first()
    if obj is None:
        raise NotFound(f"no {model._meta.verbose_name} {code!r}", details={"code": code})
    return obj


def _create(model, code: str, subject: str, **fields):
    _check_code(subject, code)
    if model.objects.filter(code=code).exists():
        raise Conflict(f"{subject} exists already", details={"field": "code", "value": code})
    return model.objects.create(code=code, **fields)


def _reject_unknown(subject: str, changes: dict, allowed) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"{subject}: {unknown[0]} is not a setting (settings: {', '.join(allowed)})",
            details={"field": unknown[0]},
        )


def _diff(before: dict, after: dict) -> dict:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


# --- collections ----------------------------------------------------------------------------

COLLECTION_FIELDS = ("name", "description", "is_brand_kit", "workflow", "agencies")


def collection_snapshot(c: Collection) -> dict:
    return {
        "code": c.code,
        "name": c.name,
        "description": c.description,
        "is_brand_kit": c.is_brand_kit,
        "workflow": c.workflow.code if c.workflow_id else None,
        "agencies": sorted(u.username for u in c.agencies.all()),
        "version": c.version,
    }


def _collection_settings(subject: str, c: Collection, data: dict) -> list | None:
    errors = Errors(subject)
    if "name" in data:
        name = _text(errors, "name", data["name"], required=True)
        if name is not None:
            c.name = name[:200]
    if "description" in data:
        text = _text(errors, "description", data["description"])
        if text is not None:
            c.description = text
    if "is_brand_kit" in data:
        if not isinstance(data["is_brand_kit"], bool):
            errors.add("is_brand_kit", "must be true or false")
        else:
            c.is_brand_kit = data["is_brand_kit"]
    if "workflow" in data:
        code = data["workflow"]
        if code in (None, ""):
            c.workflow = None
        else:
            wf = ReviewWorkflow.objects.filter(code=code).first()
            if wf is None:
                errors.add("workflow", f"no review workflow {code}", value=str(code)[:100])
            c.workflow = wf
    agencies = None
    if "agencies" in data:
        names = _codes(errors, "agencies", data["agencies"])
        if names is not None:
            agencies = list(get_user_model().objects.filter(username__in=names))
            missing = sorted(set(names) - {u.username for u in agencies})
            if missing:
                errors.add("agencies", f"no user {missing[0]}", value=missing[0])
    errors.raise_if_any()
    return agencies


@transaction.atomic
def create_collection(code: str, **data) -> Collection:
    subject = f"collection {code}"
    scoping.check_collection(None)
    _reject_unknown(subject, data, COLLECTION_FIELDS)
    data.setdefault("name", code)
    probe = Collection(code=code)
    agencies = _collection_settings(subject, probe, data)
    c = _create(
        Collection,
        code,
        subject,
        name=probe.name,
        description=probe.description,
        is_brand_kit=probe.is_brand_kit,
        workflow=probe.workflow,
    )
    if agencies is not None:
        c.agencies.set(agencies)
    audit.record("collection.create", c, summary=subject, changes=collection_snapshot(c))
    return c


@transaction.atomic
def update_collection(code: str, *, expected_version: int | None = None, **changes) -> Collection:
    subject = f"collection {code}"
    _reject_unknown(subject, changes, COLLECTION_FIELDS)
    c = _get(Collection, code, lock=True)
    scoping.check_collection(c)
    check_version(c, expected_version, subject, collection_snapshot, then=APPLY_AGAIN)
    before = collection_snapshot(c)
    agencies = _collection_settings(subject, c, changes)
    fields = [f for f in ("name", "description", "is_brand_kit", "workflow") if f in changes]
    save_versioned(c, expected_version, fields, snapshot=collection_snapshot)
    if agencies is not None:
        c.agencies.set(agencies)
    audit.record(
        "collection.update", c, summary=subject, changes=_diff(before, collection_snapshot(c))
    )
    return c


@transaction.atomic
def delete_collection(code: str, *, expected_version: int | None = None) -> None:
    subject = f"collection {code}"
    c = _get(Collection, code, lock=True)
    scoping.check_collection(c)
    check_version(c, expected_version, subject, collection_snapshot)
    members = list(c.assets.values_list("pk", flat=True))
    audit.record("collection.delete", c, summary=subject, changes=collection_snapshot(c))
    c.delete()
    if members:
        asset_changed.send(sender=Asset, asset_ids=members)


# --- tags -----------------------------------------------------------------------------------


def list_tags(user=None):
    """Tags with how many assets carry each; an agency counts (and sees) only the tags of
    the assets it may see."""
    from folio.assets.browse import is_restricted, visible_assets

    if user is not None and is_restricted(user):
        mine = visible_assets(user).values("pk")
        return (
            Tag.objects.annotate(asset_count=Count("assets", filter=Q(assets__in=mine)))
            .filter(asset_count__gt=0)
            .order_by("name")
        )
    return Tag.objects.annotate(asset_count=Count("assets")).order_by("name")


def _tag(name: str, *, lock=False) -> Tag:
    qs = Tag.objects.select_for_update() if lock else Tag.objects
    tag = qs.filter(name=name).first() or qs.filter(name__iexact=normalise_tag(name)).first()
    if tag is None:
        raise NotFound(f"no tag {name!r}", details={"tag": name})
    return tag


def get_tag(name: str, user=None) -> Tag:
    """One tag with its asset count as `user` sees it (an agency: only tags it can see)."""
    tag = list_tags(user).filter(pk=_tag(name).pk).first()
    if tag is None:
        raise NotFound(f"no tag {name!r}", details={"tag": name})
    return tag


def tag_snapshot(tag: Tag) -> dict:
    return {"name": tag.name, "version": tag.version}


@transaction.atomic
def rename_tag(name: str, new_name: str, *, expected_version: int | None = None) -> Tag:
    tag = _tag(name, lock=True)
    check_version(tag, expected_version, f"tag {tag.name}", tag_snapshot, then=APPLY_AGAIN)
    new = normalise_tag(new_name)
    if not new or len(new) > 100:
        raise InvalidInput("a tag name is 1–100 characters", details={"field": "name"})
    if new == tag.name:
        return tag
    if Tag.objects.filter(name__iexact=new).exclude(pk=tag.pk).exists():
        raise Conflict(
            f"tag {new!r} exists already; merge the two instead",
            details={"field": "name", "value": new},
        )
    old = tag.name
    tag.name = new
    save_versioned(tag, expected_version, ["name"], snapshot=tag_snapshot)
    audit.record("tag.rename", tag, summary=f"tag {old} → {new}", changes={"name": [old, new]})
    members = list(tag.assets.values_list("pk", flat=True))
    if members:
        asset_changed.send(sender=Asset, asset_ids=members)
    return tag


@transaction.atomic
def merge_tags(sources: list[str], into: str) -> Tag:
    """Give every asset tagged with one of `sources` the tag `into` (created if needed), then
    delete the sources."""
    target_name = normalise_tag(into)
    if not target_name or len(target_name) > 100:
        raise InvalidInput("a tag name is 1–100 characters", details={"field": "into"})
    olds = [_tag(s, lock=True) for s in dict.fromkeys(sources)]
    target = tags_named([target_name])[0]
    olds = [t for t in olds if t.pk != target.pk]
    Through = Asset.tags.through
    members = set(Through.objects.filter(tag__in=olds).values_list("asset_id", flat=True))
    Through.objects.bulk_create(
        [Through(asset_id=a, tag_id=target.pk) for a in sorted(members)], ignore_conflicts=True
    )
    names = [t.name for t in olds]
    Tag.objects.filter(pk__in=[t.pk for t in olds]).delete()
    audit.record(
        "tag.merge",
        target,
        summary=f"tags {', '.join(names)} → {target.name}",
        changes={"merged": names, "assets": len(members)},
    )
    if members:
        asset_changed.send(sender=Asset, asset_ids=sorted(members))
    return target


@transaction.atomic
def delete_tag(name: str, *, expected_version: int | None = None) -> None:
    tag = _tag(name, lock=True)
    check_version(tag, expected_version, f"tag {tag.name}", tag_snapshot, then=APPLY_AGAIN)
    members = list(tag.assets.values_list("pk", flat=True))
    audit.record("tag.delete", tag, summary=f"tag {tag.name}", changes={"assets": len(members)})
    tag.delete()
    if members:
        asset_changed.send(sender=Asset, asset_ids=members)


# --- custom fields --------------------------------------------------------------------------

CUSTOM_FIELD_SETTINGS = ("label", "type", "options", "required")


def custom_field_snapshot(f: CustomField) -> dict:
    return {
        "code": f.code,
        "label": f.label,
        "type": f.type,
        "options": list(f.options or []),
        "required": f.required,
    }


def _custom_field_settings(subject: str, f: CustomField, data: dict) -> None:
    errors = Errors(subject)
    if "label" in data:
        label = _text(errors, "label", data["label"])
        if label is not None:
            f.label = label[:200]
    if "type" in data:
        if data["type"] not in CustomField.Type.values:
            errors.add("type", f"must be one of {', '.join(CustomField.Type.values)}")
        else:
            f.type = data["type"]
    if "options" in data:
        options = data["options"] or []
        if not isinstance(options, list) or not all(
            isinstance(o, str) and o.strip() for o in options
        ):
            errors.add("options", "must be a list of texts")
        elif len(set(options)) != len(options):
            errors.add("options", "must not repeat")
        else:
            f.options = options
    if "required" in data:
        if not isinstance(data["required"], bool):
            errors.add("required", "must be true or false")
        else:
            f.required = data["required"]
    if f.type == CustomField.Type.SELECT and not f.options:
        errors.add("options", "a select field needs at least one option")
    if f.type != CustomField.Type.SELECT and f.options:
        errors.add("options", "only select fields have options")
    errors.raise_if_any()


@transaction.atomic
def create_custom_field(code: str, **data) -> CustomField:
    subject = f"custom field {code}"
    _reject_unknown(subject, data, CUSTOM_FIELD_SETTINGS)
    if "type" not in data:
        raise InvalidInput(f"{subject}: type is required", details={"field": "type"})
    probe = CustomField(code=code, label=code)
    _custom_field_settings(subject, probe, data)
    f = _create(
        CustomField,
        code,
        subject,
        label=probe.label,
        type=probe.type,
        options=probe.options,
        required=probe.required,
    )
    audit.record("custom_field.create", f, summary=subject, changes=custom_field_snapshot(f))
    return f


@transaction.atomic
def update_custom_field(
    code: str, *, expected_version: int | None = None, **changes
) -> CustomField:
    subject = f"custom field {code}"
    _reject_unknown(subject, changes, CUSTOM_FIELD_SETTINGS)
    f = _get(CustomField, code, lock=True)
    check_version(f, expected_version, subject, custom_field_snapshot, then=APPLY_AGAIN)
    before = custom_field_snapshot(f)
    _custom_field_settings(subject, f, changes)
    if f.type != before["type"] and Asset.objects.filter(custom__has_key=code).exists():
        raise Conflict(
            f"{subject}: assets hold values for it, so its type stays {before['type']}",
            details={"field": "type"},
        )
    save_versioned(f, expected_version, list(CUSTOM_FIELD_SETTINGS), snapshot=custom_field_snapshot)
    audit.record(
        "custom_field.update", f, summary=subject, changes=_diff(before, custom_field_snapshot(f))
    )
    return f


@transaction.atomic
def delete_custom_field(code: str, *, expected_version: int | None = None) -> None:
    subject = f"custom field {code}"
    f = _get(CustomField, code, lock=True)
    check_version(f, expected_version, subject, custom_field_snapshot, then=APPLY_AGAIN)
    used = Asset.objects.filter(custom__has_key=code).count()
    if used:
        raise Conflict(
            f"{subject} cannot be deleted: "
            f"{counted(used, 'asset holds', 'assets hold')} values for it",
            details={"assets": used},
        )
    audit.record("custom_field.delete", f, summary=subject, changes=custom_field_snapshot(f))
    f.delete()


# --- review workflows -----------------------------------------------------------------------

WORKFLOW_SETTINGS = ("name", "steps", "kinds")


def workflow_snapshot(w: ReviewWorkflow) -> dict:
    return {
        "code": w.code,
        "name": w.name,
        "steps": list(w.steps or []),
        "kinds": list(w.kinds or []),
    }


def _workflow_settings(subject: str, w: ReviewWorkflow, data: dict) -> None:
    errors = Errors(subject)
    if "name" in data:
        name = _text(errors, "name", data["name"], required=True)
        if name is not None:
            w.name = name[:200]
    if "steps" in data:
        steps = data["steps"]
        if not isinstance(steps, list) or not steps:
            errors.add("steps", 'one or more steps: [{"name": "brand", "group": "brand"}]')
        else:
            clean, seen = [], set()
            groups = {s.get("group") for s in steps if isinstance(s, dict) and s.get("group")}
            existing = set(Group.objects.filter(name__in=groups).values_list("name", flat=True))
            for i, step in enumerate(steps):
                where = f"steps.{i}"
                if not isinstance(step, dict) or set(step) - {"name", "group"}:
                    errors.add(where, "a step is {name, group}")
                    continue
                name, group = step.get("name"), step.get("group") or None
                if not isinstance(name, str) or not name.strip() or len(name) > 100:
                    errors.add(f"{where}.name", "a step name is 1–100 characters")
                    continue
                name = name.strip()
                if name in seen:
                    errors.add(f"{where}.name", f"step {name} is named twice", value=name)
                seen.add(name)
                if group is not None and group not in existing:
                    errors.add(f"{where}.group", f"no group {group}", value=str(group)[:150])
                clean.append({"name": name, "group": group})
            w.steps = clean
    if "kinds" in data:
        kinds = data["kinds"] or []
        wrong = (
            [k for k in kinds if k not in Asset.Kind.values] if isinstance(kinds, list) else [kinds]
        )
        if wrong:
            errors.add(
                "kinds", f"{wrong[0]!r} is not an asset kind ({', '.join(Asset.Kind.values)})"
            )
        else:
            w.kinds = list(dict.fromkeys(kinds))
            taken = {
                k: other.code
                for other in ReviewWorkflow.objects.exclude(pk=w.pk)
                for k in (other.kinds or [])
                if k in w.kinds
            }
            if taken:
                kind, other = next(iter(taken.items()))
                errors.add("kinds", f"kind {kind} already uses workflow {other}", value=kind)
    errors.raise_if_any()


@transaction.atomic
def create_workflow(code: str, **data) -> ReviewWorkflow:
    subject = f"review workflow {code}"
    _reject_unknown(subject, data, WORKFLOW_SETTINGS)
    if "steps" not in data:
        raise InvalidInput(f"{subject}: steps are required", details={"field": "steps"})
    probe = ReviewWorkflow(code=code, name=data.get("name") or code)
    _workflow_settings(subject, probe, data)
    w = _create(
        ReviewWorkflow, code, subject, name=probe.name, steps=probe.steps, kinds=probe.kinds
    )
    audit.record("review_workflow.create", w, summary=subject, changes=workflow_snapshot(w))
    return w


@transaction.atomic
def update_workflow(code: str, *, expected_version: int | None = None, **changes) -> ReviewWorkflow:
    subject = f"review workflow {code}"
    _reject_unknown(subject, changes, WORKFLOW_SETTINGS)
    w = _get(ReviewWorkflow, code, lock=True)
    check_version(w, expected_version, subject, workflow_snapshot, then=APPLY_AGAIN)
    before = workflow_snapshot(w)
    _workflow_settings(subject, w, changes)
    save_versioned(w, expected_version, list(WORKFLOW_SETTINGS), snapshot=workflow_snapshot)
    audit.record(
        "review_workflow.update", w, summary=subject, changes=_diff(before, workflow_snapshot(w))
    )
    return w


@transaction.atomic
def delete_workflow(code: str, *, expected_version: int | None = None) -> None:
    subject = f"review workflow {code}"
    w = _get(ReviewWorkflow, code, lock=True)
    check_version(w, expected_version, subject, workflow_snapshot, then=APPLY_AGAIN)
    audit.record("review_workflow.delete", w, summary=subject, changes=workflow_snapshot(w))
    w.delete()
