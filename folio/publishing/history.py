"""Publications as people read them: the list, one publication's summary, its report (every
product sent, removed or skipped, each skip with its reasons and what to fix), its diff, and
where one product was last published (the SKU 360's "publications").

Read-only; the API and the CLI both call these, so the report says the same thing in both.
"""

from collections import defaultdict

from django.db import connection
from django.db.models import Exists, Max, OuterRef, QuerySet, TextField
from django.db.models.functions import Cast

from folio.errors import InvalidInput, NotFound
from folio.publishing.models import Listing, Publication, PublishedItem

DIFF_LIMIT = 1000
DIFF_MAX = 10_000


def reason_labels() -> dict[str, str]:
    try:
        from folio.publishing.resolve import REASONS
    except ImportError:  # the run module is optional for reading old reports
        return {}
    return dict(REASONS)


# --- lists ------------------------------------------------------------------------------------


def publications(
    *, channel: str | None = None, feed: str | None = None, status: str | None = None
) -> QuerySet:
    qs = Publication.objects.select_related("feed", "channel", "created_by", "job")
    if channel:
        qs = qs.filter(channel__code=channel)
    if feed:
        qs = qs.filter(feed__code=feed)
    if status:
        _check_choice("status", status, Publication.Status.values)
        qs = qs.filter(status=status)
    return qs


def get_publication(publication_id: int) -> Publication:
    found = (
        Publication.objects.select_related("feed", "channel", "created_by", "job")
        .filter(pk=publication_id)
        .first()
    )
    if found is None:
        raise NotFound(f"no publication {publication_id}", details={"publication": publication_id})
    return found


def summary(publication: Publication) -> dict:
    """One publication for people and scripts: counts, the skip reasons with their labels,
    files and where they are, status and the job that ran it."""
    p = publication
    labels = reason_labels()
    return {
        "id": p.pk,
        "channel": p.channel.code,
        "feed": p.feed.code,
        "format": p.format,
        "mode": p.mode,
        "dry_run": p.dry_run,
        "status": p.status,
        "selection": p.selection or {},
        "base": p.base_id,
        "job": str(p.job_id) if p.job_id else None,
        "created_by": p.created_by.username if p.created_by_id else None,
        "created_at": p.created_at,
        "started_at": p.started_at,
        "finished_at": p.finished_at,
        "duration_ms": p.duration_ms,
        "counts": p.counts or {},
        "reasons": [
            {"code": code, "label": labels.get(code, code.replace("_", " ")), "count": count}
            for code, count in sorted((p.reasons or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "location": p.location,
        "files": p.files or [],
        "message": p.message,
    }


def items(
    publication: Publication, *, action: str | None = None, reason: str | None = None
) -> QuerySet:
    qs = PublishedItem.objects.filter(publication=publication)
    if action:
        _check_choice("action", action, PublishedItem.Action.values)
        qs = qs.filter(action=action)
    if reason:
        known = reason_labels()
        if known:  # without the run module the reasons are not known: any is looked for
            _check_choice("reason", reason, known)
        qs = _with_reason(qs, reason)
    return qs


def _check_choice(name: str, value: str, choices) -> None:
    """A list filter names one of a fixed set; anything else is the caller's mistake, said with
    the choices, not an empty list."""
    if value not in choices:
        raise InvalidInput(
            f"{name} {value!r} is not one of {', '.join(choices)}",
            details={"field": name, "value": value},
        )


def _with_reason(qs: QuerySet, code: str) -> QuerySet:
    if connection.vendor == "postgresql":
        return qs.filter(reasons__contains=[{"code": code}])
    # SQLite has no JSON containment; the column holds json.dumps text, where a reason's code
    # always reads `"code": "…"`.
    return qs.annotate(reasons_text=Cast("reasons", TextField())).filter(
        reasons_text__contains=f'"code": "{code}"'
    )


def item_out(item: PublishedItem, channel: str) -> dict:
    reasons = [{**r, "fix": fix_for(r, item.sku, channel)} for r in item.reasons or []]
    media = {
        "missing_media",
        "unapproved_image",
        "rights",
        "non_compliant_image",
        "rendition_failed",
    }
    # "No image" from the format follows from an image reason the same product has; one
    # sentence about what to do with the image is enough.
    has_media_reason = any(r.get("code") in media for r in reasons)
    hints = [
        r["fix"]["hint"]
        for r in reasons
        if not (
            has_media_reason
            and r.get("code") == "validation_failure"
            and not r.get("role")
            and "image" in str(r.get("field") or "")
        )
    ]
    return {
        "id": item.pk,
        "sku": item.sku,
        "locale": item.locale,
        "action": item.action,
        "reasons": reasons,
        "fix": "; ".join(dict.fromkeys(hints)),
        "product_version": item.product_version,
        "asset_versions": item.asset_versions or {},
        "renditions": item.renditions or {},
        "changes": item.changes or [],
        "remote": item.remote or {},
    }


def fix_for(reason: dict, sku: str, channel: str) -> dict:
    """What to change so the product goes out next time: what it is (attribute, asset, image
    role, feed field, product, category), which one, and a sentence saying so."""
    code = reason.get("code", "")
    attribute, locale = reason.get("attribute"), reason.get("locale")
    asset_id, role, field = reason.get("asset_id"), reason.get("role"), reason.get("field")
    in_locale = f" in {locale}" if locale else ""
    where = f"{in_locale} for channel {channel}"
    if code == "disabled":
        return {"target": "product", "sku": sku, "hint": f"enable {sku}"}
    if code == "missing_attribute" and str(attribute or "").startswith("media:"):
        code, role = "missing_media", role or str(attribute)[len("media:") :]
    if code == "missing_attribute":
        if attribute and not str(attribute).startswith("@"):
            return {
                "target": "attribute",
                "sku": sku,
                "attribute": attribute,
                "locale": locale,
                "channel": channel,
                "hint": f"fill {attribute} of {sku}{where}",
            }
        what = attribute or field
        return {
            "target": "mapping",
            "field": field,
            "hint": f"give {sku} a value for {what}{where}, or change the feed's mapping of "
            f"{field or what}",
        }
    if code == "missing_media":
        return {
            "target": "role",
            "sku": sku,
            "role": role,
            "hint": f"link an approved, in-rights image to {sku} as {role or 'the missing role'}",
        }
    if code == "unapproved_image":
        return {
            "target": "asset",
            "asset_id": asset_id,
            "role": role,
            "hint": f"approve asset {asset_id}"
            + (f" (linked as {role})" if role else "")
            + f", or link an approved image to {sku} instead",
        }
    if code == "rights":
        return {
            "target": "asset",
            "asset_id": asset_id,
            "role": role,
            "hint": f"extend the usage rights of asset {asset_id} to channel {channel}"
            f"{in_locale}, or link another image to {sku}",
        }
    if code == "non_compliant_image":
        return {
            "target": "asset",
            "asset_id": asset_id,
            "role": role,
            "hint": f"replace asset {asset_id}"
            + (f" ({role})" if role else "")
            + f": its rendition breaks channel {channel}'s image rules "
            f"(see `folio renditions status {asset_id}`)",
        }
    if code == "rendition_failed":
        return {
            "target": "asset",
            "asset_id": asset_id,
            "role": role,
            "hint": f"check asset {asset_id}'s file: its rendition failed "
            f"(see `folio renditions status {asset_id}`), then publish again",
        }
    if code == "validation_failure" and (role or "image" in str(field or "")):
        if role:
            return {
                "target": "role",
                "sku": sku,
                "role": role,
                "hint": f"fix the {role} image of {sku}: {reason.get('message', '')}".rstrip(": "),
            }
        return {
            "target": "role",
            "sku": sku,
            "role": "main",
            "hint": f"link an approved, in-rights image to {sku} for the channel's image slots",
        }
    if code == "validation_failure":
        return {
            "target": "field",
            "field": field,
            "attribute": attribute,
            "hint": f"fix {field or 'the field'} of {sku}"
            + (f" (from attribute {attribute})" if attribute else "")
            + ": change the value, or the feed's mapping rule (max_length, truncate)",
        }
    if code == "not_in_category_tree":
        return {
            "target": "category",
            "sku": sku,
            "hint": f"put {sku} in a category of channel {channel}'s category tree",
        }
    return {"target": "product", "sku": sku, "hint": reason.get("message") or code}


def diff(publication: Publication, *, limit: int = DIFF_LIMIT) -> dict:
    """What the publication changed (or, for a dry run, would change) at the destination:
    added products, updated ones with each field's old and new value, removed ones."""
    if not isinstance(limit, int) or not 1 <= limit <= DIFF_MAX:
        raise InvalidInput(
            f"limit must be 1–{DIFF_MAX}", details={"field": "limit", "value": limit}
        )
    out: dict = {"added": [], "updated": [], "removed": []}
    counts: dict[str, int] = defaultdict(int)
    rows = (
        PublishedItem.objects.filter(publication=publication, action__in=list(out))
        .order_by("action", "sku", "locale", "id")
        .values_list("action", "sku", "locale", "changes")
    )
    for action, sku, locale, changes in rows.iterator():
        counts[action] += 1
        if len(out[action]) >= limit:
            continue
        entry = {"sku": sku, "locale": locale}
        if action == "updated":
            entry["changes"] = changes or []
        out[action].append(entry)
    return {
        "publication": publication.pk,
        "dry_run": publication.dry_run,
        "mode": publication.mode,
        "status": publication.status,
        "counts": {k: counts[k] for k in ("added", "updated", "removed")},
        "unchanged": (publication.counts or {}).get("unchanged", 0),
        "truncated": any(counts[k] > len(out[k]) for k in out),
        **out,
    }


# --- one product --------------------------------------------------------------------------------


def last_publications(product) -> list[dict]:
    """Where `product` was last published: per feed, the latest successful (not dry-run)
    publication that sent, removed or skipped it, and whether the feed's destination holds
    it now. One query for a product never published, two otherwise."""
    latest = list(
        PublishedItem.objects.filter(
            product=product,
            publication__dry_run=False,
            publication__status=Publication.Status.DONE,
        )
        .values("publication__feed_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    if not latest:
        return []
    listed = Listing.objects.filter(feed_id=OuterRef("publication__feed_id"), product=product)
    rows = (
        PublishedItem.objects.filter(id__in=latest)
        .annotate(listed=Exists(listed))
        .select_related("publication__feed__channel")
        .order_by("publication__feed__channel__code", "publication__feed__code")
    )
    return [
        {
            "channel": item.publication.feed.channel.code,
            "feed": item.publication.feed.code,
            "format": item.publication.feed.format,
            "at": item.publication.finished_at or item.publication.created_at,
            "action": item.action,
            "locale": item.locale,
            "listed": item.listed,
            "reasons": [r.get("code") for r in item.reasons or []],
            "publication_id": item.publication_id,
        }
        for item in rows
    ]
