"""Feeds: what a channel receives, in which format, in which locales and currency, which
attribute fills which field, where the files go and which products go by default.

These functions are the only writers of Feed rows; the API, the CLI and the demo call them.
Everything given is checked against the channel and the catalog before anything is written,
and a refusal names the feed, the field and — where it applies — the mapping field, attribute,
locale or channel, so a bad setting is caught when it is made rather than as a half-empty
feed at the next publication. Updates take the version the caller edited (409 when stale);
every write leaves an audit entry.
"""

import contextlib
import re
import string
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from folio.accounts import audit
from folio.catalog.models import Attribute, Category, Channel, Locale, Product
from folio.errors import Conflict, InvalidInput, NotFound
from folio.publishing.formats import FORMATS
from folio.publishing.models import Feed, Publication
from folio.versioning import check_version, save_versioned

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
FIELD_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
# Values a mapping reads that are not attributes: "@sku" in an attribute rule, "{sku}" in a
# template.
SPECIALS = ("sku", "gtin", "family", "category")
RULE_KINDS = ("attribute", "constant", "template")
RULE_KEYS = {*RULE_KINDS, "locale", "scope", "max_length", "truncate"}
EDITABLE = (
    "name",
    "format",
    "locales",
    "currency",
    "mapping",
    "options",
    "destination",
    "connector",
    "selection",
    "enabled",
)
# A push connector talks to one channel's API about the listings one format describes.
CONNECTOR_FORMATS = {"shopify": "shopify-csv", "amazon": "amazon-json"}
DESTINATION_KINDS = ("folder", "s3", "http")
DESTINATION_KEYS = {
    "folder": {"kind", "path", "public_base_url"},
    "s3": {"kind", "bucket", "prefix", "endpoint_url", "region", "public_base_url"},
    "http": {"kind", "url", "headers", "timeout", "images", "public_base_url"},
}
PAPERS = ("A4", "Letter")
MAX_SELECTED_SKUS = 10_000


# --- options per format ---------------------------------------------------------------------


def _text(max_length: int = 500):
    def check(value) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "a non-empty text"
        if len(value) > max_length:
            return f"at most {max_length} characters"
        return None

    return check


def _one_of(*choices):
    def check(value) -> str | None:
        return None if value in choices else " or ".join(repr(c) for c in choices)

    return check


def _boolean(value) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _link_template(value) -> str | None:
    problem = _text(1000)(value)
    if problem:
        return problem
    try:
        names = _placeholders(value)
    except ValueError as exc:
        return f"a URL template ({exc})"
    unknown = sorted(set(names) - {"sku", "group"})
    if unknown:
        return f"a URL with {{sku}} or {{group}} placeholders only, not {{{unknown[0]}}}"
    if not _is_http_url(value.replace("{sku}", "x").replace("{group}", "x")):
        return "an http(s) URL such as https://shop.example.com/products/{sku}"
    return None


def _link(value) -> str | None:
    return None if _is_http_url(value) else "an http(s) URL"


def _marketplace_id(value) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9]{5,20}", value):
        return "an Amazon marketplace id such as ATVPDKIKX0DER"
    return None


def _product_type(value) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]{0,99}", value):
        return "an Amazon product type in capitals such as BOTTLE or COFFEE_MAKER"
    return None


def _seller_id(value) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9]{5,30}", value):
        return "an Amazon seller (merchant) id such as A1DEMOSELLER"
    return None


def _axis_fields(value) -> str | None:
    if not isinstance(value, dict) or not set(value) <= {"color", "size"}:
        return 'an object naming the attributes of Google\'s color and size: {"color": "colour"}'
    if not all(isinstance(v, str) and v for v in value.values()):
        return "attribute codes"
    return None


def _marketplace_ids(value) -> str | None:
    if not isinstance(value, dict) or not value:
        return 'an object {locale: marketplace id}, e.g. {"fr_FR": "A13V1IB3VIYZZH"}'
    for problem in map(_marketplace_id, value.values()):
        if problem:
            return problem
    return None


# What the run and the formats read from Feed.options; anything else would be ignored, so it
# is refused by name (a typo never silently falls back to a default).
_COMMON = {
    "link_template": _link_template,
    # "amazon": image files named IDENTIFIER.MAIN.jpg, IDENTIFIER.PT01.jpg…; "slot" (default):
    # the image slots' own file-name templates.
    "image_names": _one_of("amazon", "slot"),
}
OPTIONS: dict[str, dict[str, Any]] = {
    "google-xml": {
        **_COMMON,
        "title": _text(150),
        "link": _link,
        "description": _text(5000),
        "axis_fields": _axis_fields,
    },
    "google-tsv": {**_COMMON, "axis_fields": _axis_fields},
    "amazon-json": {
        **_COMMON,
        "seller_id": _seller_id,
        "marketplace_id": _marketplace_id,
        "marketplace_ids": _marketplace_ids,
        "product_type": _product_type,
    },
    "shopify-csv": {
        **_COMMON,
        "vendor": _text(255),
        "status": _one_of("active", "draft", "archived"),
        "published": _boolean,
    },
    "jsonld": {
        **_COMMON,
        "availability": _one_of("in_stock", "out_of_stock", "preorder", "backorder"),
        "snippets": _boolean,
    },
    "json": {**_COMMON, "pretty": _boolean},
    "csv": {
        **_COMMON,
        "headers": _one_of("codes", "labels", "both"),
        "delimiter": _one_of(",", ";", "\t"),
    },
    "pdf": {
        **_COMMON,
        "paper": _one_of(*PAPERS),
        "title": _text(200),
        "sheets": _boolean,  # a PDF product sheet per product
        "catalogue": _boolean,  # a PDF catalogue per category
    },
}


# --- reading --------------------------------------------------------------------------------


def _channel(code: str) -> Channel:
    if isinstance(code, Channel):
        return code
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise NotFound(f"no channel {code!r}", details={"channel": code})
    return channel


def get_feed(channel_code: str, feed_code: str) -> Feed:
    feed = (
        Feed.objects.select_related("channel")
        .filter(channel__code=getattr(channel_code, "code", channel_code), code=feed_code)
        .first()
    )
    if feed is None:
        raise NotFound(
            f"channel {channel_code} has no feed {feed_code!r}",
            details={"channel": str(channel_code), "feed": feed_code},
        )
    return feed


def list_feeds(channel_code: str | None = None) -> list[Feed]:
    qs = Feed.objects.select_related("channel").order_by("channel__code", "code")
    if channel_code is not None:
        qs = qs.filter(channel=_channel(channel_code))
    return list(qs)


def channel_currencies(channel: Channel) -> list[str]:
    return sorted(channel.currencies.values_list("code", flat=True))


def channel_locales(channel: Channel) -> list[str]:
    return sorted(channel.locales.values_list("code", flat=True))


def effective_currency(feed: Feed) -> str:
    """The currency prices are published in: the feed's, else the channel's first by code."""
    if feed.currency:
        return feed.currency
    codes = channel_currencies(feed.channel)
    return codes[0] if codes else ""


def effective_locales(feed: Feed) -> list[str]:
    """The locales published: the feed's (those the channel still has), else the channel's."""
    available = channel_locales(feed.channel)
    if not feed.locales:
        return available
    return [code for code in feed.locales if code in available]


def effective_mapping(feed: Feed) -> list[dict]:
    """Each field the feed sends and where its value comes from: the feed's own rule or the
    format's default (a field the feed maps to nothing is left out, as publishing does), with
    the format's limit and whether a listing needs it. Required fields first."""
    from folio.publishing.formats import get_format

    fmt = get_format(feed.format)
    own = feed.mapping or {}
    merged = {**(fmt.default_mapping or {}), **own}
    required = set(fmt.required_fields)
    rows = [
        {
            "field": name,
            "rule": rule,
            "origin": "feed" if name in own else "format",
            "required": name in required,
            "limit": (fmt.limits or {}).get(name),
        }
        for name, rule in merged.items()
        if rule
    ]
    missing = sorted(required - {r["field"] for r in rows})
    rows += [
        {"field": name, "rule": None, "origin": None, "required": True, "limit": None}
        for name in missing
    ]
    return sorted(rows, key=lambda r: (not r["required"], r["field"]))


def snapshot(feed: Feed) -> dict:
    return {
        "channel": feed.channel.code,
        "code": feed.code,
        "name": feed.name,
        "format": feed.format,
        "locales": list(feed.locales or []),
        "currency": feed.currency,
        "mapping": feed.mapping or {},
        "options": feed.options or {},
        "destination": feed.destination or {},
        "connector": feed.connector,
        "selection": feed.selection or {},
        "enabled": feed.enabled,
        "version": feed.version,
        "created_at": feed.created_at.isoformat() if feed.created_at else None,
        "updated_at": feed.updated_at.isoformat() if feed.updated_at else None,
    }


# --- checks ---------------------------------------------------------------------------------


class _Checker:
    """Checks one feed's settings against its channel and the catalog; every refusal names
    the feed, the setting and where inside it."""

    def __init__(self, feed: Feed, user=None):
        self.feed = feed
        self.channel = feed.channel
        self.user = user
        self.subject = f"feed {self.channel.code}/{feed.code or '?'}"

    def bad(self, field: str, reason: str, **where) -> InvalidInput:
        return InvalidInput(
            f"{self.subject}: {field}: {reason}",
            details={"field": field, "reason": reason, "channel": self.channel.code, **where},
        )

    def all(self) -> None:
        f = self.feed
        self.code()
        if not isinstance(f.name, str) or len(f.name) > 200:
            raise self.bad("name", "a text of at most 200 characters")
        self.format()
        f.locales = self.locales(f.locales)
        f.currency = self.currency(f.currency)
        f.mapping = self.mapping(f.mapping)
        f.options = self.options(f.options)
        f.destination = self.destination(f.destination)
        f.connector = self.connector(f.connector)
        f.selection = self.selection(f.selection)
        if not isinstance(f.enabled, bool):
            raise self.bad("enabled", f"expected true or false, got {f.enabled!r}")

    def code(self) -> None:
        code = self.feed.code
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise self.bad(
                "code",
                f"{code!r} is not a feed code: lower-case letters, digits, - and _ "
                "(up to 100, e.g. google-tsv)",
                value=code,
            )

    def format(self) -> None:
        if self.feed.format not in FORMATS:
            raise self.bad(
                "format",
                f"{self.feed.format!r} is not a feed format; one of {', '.join(FORMATS)}",
                value=self.feed.format,
            )

    def locales(self, value) -> list[str]:
        if _empty(value):
            return []
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise self.bad("locales", "expected a list of locale codes (empty: all the channel's)")
        available = channel_locales(self.channel)
        for code in value:
            if code not in available:
                raise self.bad(
                    "locales",
                    f"channel {self.channel.code} has no locale {code} "
                    f"(its locales: {', '.join(available) or 'none'})",
                    locale=code,
                )
        return list(dict.fromkeys(value))

    def currency(self, value) -> str:
        if _empty(value):
            return ""
        currencies = channel_currencies(self.channel)
        if not isinstance(value, str) or value not in currencies:
            raise self.bad(
                "currency",
                f"channel {self.channel.code} has no currency {value!r} "
                f"(its currencies: {', '.join(currencies) or 'none'})",
                value=value,
            )
        return value

    # mapping

    def mapping(self, value) -> dict:
        if _empty(value):
            return {}
        if not isinstance(value, dict):
            raise self.bad(
                "mapping", 'expected {field: rule}, e.g. {"title": {"attribute": "name"}}'
            )
        rules = {}
        attributes = self._attributes(value)
        for field, rule in value.items():
            if not isinstance(field, str) or not FIELD_RE.match(field):
                raise self.bad(
                    "mapping",
                    f"{field!r} is not a field name (lower-case letters, digits and _, "
                    "starting with a letter or _)",
                    mapping_field=field,
                )
            rules[field] = self.rule(field, rule, attributes)
        known = self._format_fields()
        for field in rules:
            if known is not None and field not in known:
                raise self.bad(
                    f"mapping.{field}",
                    f"{self.feed.format} feeds have no field {field!r} "
                    f"(fields: {', '.join(sorted(known))})",
                    mapping_field=field,
                )
        return rules

    def _format_fields(self) -> set[str] | None:
        """The fields a format reads, where it says (others would be ignored silently)."""
        try:
            fmt = import_string(FORMATS[self.feed.format])
        except ImportError:
            return None
        declared = getattr(fmt, "fields", None)
        if not isinstance(declared, tuple | list | set | frozenset) or not declared:
            return None
        return {*declared, *(getattr(fmt, "default_mapping", None) or {})}

    def _attributes(self, mapping: dict) -> dict[str, Attribute]:
        codes = set()
        for rule in mapping.values():
            if not isinstance(rule, dict):
                continue
            if isinstance(rule.get("attribute"), str):
                codes.add(rule["attribute"])
            if isinstance(rule.get("template"), str):
                with contextlib.suppress(ValueError):
                    codes.update(_placeholders(rule["template"]))
        return {a.code: a for a in Attribute.objects.filter(code__in=codes)}

    def rule(self, field: str, rule, attributes: dict[str, Attribute]) -> dict:
        where = f"mapping.{field}"

        def bad(reason: str, **extra):
            return self.bad(where, reason, mapping_field=field, **extra)

        if not isinstance(rule, dict):
            raise bad(
                'a rule is an object: {"attribute": code}, {"constant": value} or '
                '{"template": "{brand} {name}"}'
            )
        unknown = sorted(set(rule) - RULE_KEYS)
        if unknown:
            raise bad(
                f"unknown key {unknown[0]!r} (a rule takes {', '.join(sorted(RULE_KEYS))})",
                key=unknown[0],
            )
        kinds = [k for k in RULE_KINDS if k in rule]
        if len(kinds) != 1:
            raise bad(
                "a rule needs exactly one of attribute, constant or template"
                + (f" (it has {' and '.join(kinds)})" if kinds else "")
            )
        kind = kinds[0]
        if kind != "attribute":
            for key in ("locale", "scope"):
                if key in rule:
                    raise bad(f"{key} applies to attribute rules only", key=key)
        if kind == "attribute":
            self._attribute_rule(rule, attributes, bad)
        elif kind == "constant":
            value = rule["constant"]
            if isinstance(value, dict | list) or value is None:
                raise bad(f"a constant is a text, number or true/false, not {value!r}")
            if isinstance(value, str) and len(value) > 5000:
                raise bad("a constant has at most 5000 characters")
        else:
            self._template_rule(rule["template"], attributes, bad)
        if "max_length" in rule:
            n = rule["max_length"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise bad(
                    f"max_length must be a positive whole number, not {n!r}", key="max_length"
                )
        if "truncate" in rule and not isinstance(rule["truncate"], bool):
            raise bad(f"truncate must be true or false, not {rule['truncate']!r}", key="truncate")
        return dict(rule)

    def _attribute_rule(self, rule: dict, attributes: dict[str, Attribute], bad) -> None:
        code = rule["attribute"]
        if not isinstance(code, str) or not code:
            raise bad("attribute must be an attribute code (or @sku, @gtin, @family, @category)")
        if code.startswith("@"):
            if code[1:] not in SPECIALS:
                raise bad(
                    f"{code} is not one of {', '.join('@' + s for s in SPECIALS)}",
                    attribute=code,
                )
            for key in ("locale", "scope"):
                if key in rule:
                    raise bad(f"{code} has no {key}; drop {key} from the rule", key=key)
            return
        attribute = attributes.get(code)
        if attribute is None:
            raise bad(
                f"no attribute {code!r}"
                + (f" (for the product's {code}, write @{code})" if code in SPECIALS else ""),
                attribute=code,
            )
        if "locale" in rule:
            locale = rule["locale"]
            if not attribute.localizable:
                raise bad(
                    f"attribute {code} is the same in every locale; drop locale",
                    attribute=code,
                    locale=locale,
                )
            if not isinstance(locale, str) or not Locale.objects.filter(code=locale).exists():
                raise bad(f"no locale {locale!r}", attribute=code, locale=locale)
        if "scope" in rule:
            scope = rule["scope"]
            if not attribute.scopable:
                raise bad(
                    f"attribute {code} is the same in every channel; drop scope",
                    attribute=code,
                    scope=scope,
                )
            if not isinstance(scope, str) or not Channel.objects.filter(code=scope).exists():
                raise bad(f"scope: no channel {scope!r}", attribute=code, scope=scope)

    def _template_rule(self, template, attributes: dict[str, Attribute], bad) -> None:
        if not isinstance(template, str) or not template.strip():
            raise bad('a template is a text such as "{brand} {name} {capacity}"')
        if len(template) > 2000:
            raise bad("a template has at most 2000 characters")
        try:
            names = _placeholders(template)
        except ValueError as exc:
            raise bad(f"cannot read the template {template!r}: {exc}") from None
        for name in names:
            if name not in SPECIALS and name not in attributes:
                raise bad(
                    f"template placeholder {{{name}}} is neither an attribute nor one of "
                    f"{', '.join('{' + s + '}' for s in SPECIALS)}",
                    attribute=name,
                    placeholder=name,
                )

    # options, destination, connector, selection

    def options(self, value) -> dict:
        if _empty(value):
            return {}
        if not isinstance(value, dict):
            raise self.bad("options", "expected an object of format options")
        known = OPTIONS.get(self.feed.format, {})
        for name, option in value.items():
            check = known.get(name)
            if check is None:
                raise self.bad(
                    f"options.{name}",
                    f"not an option of {self.feed.format} feeds "
                    f"(options: {', '.join(sorted(known)) or 'none'})",
                    option=name,
                )
            problem = check(option)
            if problem:
                raise self.bad(f"options.{name}", f"must be {problem}, not {option!r}", option=name)
        return dict(value)

    def destination(self, value) -> dict:
        if _empty(value):
            return {}
        if not isinstance(value, dict):
            raise self.bad(
                "destination",
                'expected {"kind": "folder"|"s3"|"http", …} (empty: a folder under '
                "FOLIO_PUBLICATIONS_DIR)",
            )
        kind = value.get("kind", "folder")
        if kind not in DESTINATION_KINDS:
            raise self.bad(
                "destination.kind",
                f"{kind!r} is not one of {', '.join(DESTINATION_KINDS)}",
                value=kind,
            )
        unknown = sorted(set(value) - DESTINATION_KEYS[kind])
        if unknown:
            raise self.bad(
                f"destination.{unknown[0]}",
                f"not a setting of a {kind} destination "
                f"(settings: {', '.join(sorted(DESTINATION_KEYS[kind]))})",
            )
        clean = {**value, "kind": kind}
        if kind == "folder" and "path" in value:
            clean["path"] = self._folder(value["path"])
        elif kind == "s3":
            self._s3(value, clean)
        elif kind == "http":
            self._http(value)
        if "public_base_url" in value:
            base = value["public_base_url"]
            if base not in (None, "") and not _is_http_url(base):
                raise self.bad(
                    "destination.public_base_url",
                    "an http(s) URL the channel reads the files from, e.g. "
                    "https://feeds.example.com/google",
                    value=base,
                )
            if base in (None, ""):
                clean.pop("public_base_url")
            else:
                clean["public_base_url"] = base.rstrip("/")
        return clean

    def _s3(self, value: dict, clean: dict) -> None:
        bucket = value.get("bucket")
        if not isinstance(bucket, str) or not re.fullmatch(
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket or ""
        ):
            raise self.bad(
                "destination.bucket",
                "an S3 destination needs a bucket name (3–63 lower-case letters, digits, . and -)",
                value=bucket,
            )
        prefix = value.get("prefix", "")
        if not isinstance(prefix, str) or ".." in PurePosixPath(prefix).parts:
            raise self.bad("destination.prefix", "a key prefix such as feeds/google/")
        clean["prefix"] = prefix.strip("/")
        if "endpoint_url" in value and not _is_http_url(value["endpoint_url"]):
            raise self.bad(
                "destination.endpoint_url",
                "the S3 service's http(s) URL (default: FOLIO_S3_ENDPOINT_URL)",
                value=value["endpoint_url"],
            )
        if "region" in value and not (
            isinstance(value["region"], str) and re.fullmatch(r"[a-z0-9-]{1,40}", value["region"])
        ):
            raise self.bad("destination.region", "a region name such as eu-central-1")

    def _http(self, value: dict) -> None:
        if not _is_http_url(value.get("url")):
            raise self.bad(
                "destination.url",
                "an HTTP destination needs an http(s) URL to POST the files to",
                value=value.get("url"),
            )
        headers = value.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9-]{1,100}", k) and isinstance(v, str)
            for k, v in headers.items()
        ):
            raise self.bad(
                "destination.headers",
                'header names and text values, e.g. {"Authorization": "Bearer …"}',
            )
        timeout = value.get("timeout", 120)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 < timeout <= 3600)
        ):
            raise self.bad("destination.timeout", "seconds to wait for an answer, up to 3600")
        if "images" in value and not isinstance(value["images"], bool):
            raise self.bad(
                "destination.images", "true (POST the image files too) or false (default)"
            )

    def _folder(self, path) -> str:
        if not isinstance(path, str) or not path.strip():
            raise self.bad("destination.path", "a folder path")
        if "\x00" in path:
            raise self.bad("destination.path", "a folder path without NUL characters")
        if path.startswith("~"):
            raise self.bad("destination.path", "a folder path without ~ (write it out)")
        if ".." in Path(path).parts:
            raise self.bad(
                "destination.path", "a folder path without '..' (name the folder itself)"
            )
        base = Path(settings.PUBLICATIONS_DIR).resolve()
        # Stored resolved: a relative folder is under FOLIO_PUBLICATIONS_DIR, whatever the
        # directory the worker or the CLI happens to run in.
        folder = (base / path).resolve()
        outside = folder != base and base not in folder.parents
        # The rest of the server's file system is the operator's: such a folder is set from
        # the command line or by an administrator, never by a publisher through the API.
        if outside and self.user is not None and not getattr(self.user, "is_superuser", False):
            raise self.bad(
                "destination.path",
                f"only an administrator (or `folio feeds` on the server) may choose a "
                f"folder outside {base}; give a folder relative to it",
                value=path,
            )
        return str(folder)

    def connector(self, value) -> str:
        value = value or ""
        if value not in Feed.Connector.values:
            raise self.bad(
                "connector",
                f"{value!r} is not one of {', '.join(c for c in Feed.Connector.values if c)} "
                "(or empty: files only)",
                value=value,
            )
        wanted = CONNECTOR_FORMATS.get(value)
        if wanted and self.feed.format != wanted:
            raise self.bad(
                "connector",
                f"the {value} connector pushes {wanted} listings; this feed is "
                f"{self.feed.format} (make a {wanted} feed for {value})",
                value=value,
            )
        return value

    def selection(self, value) -> dict:
        if _empty(value):
            return {}
        shape = (
            'expected {"category": code}, {"filter": "capacity>=500 ml"} or {"skus": […]} '
            "(several: a product must match each)"
        )
        if not isinstance(value, dict):
            raise self.bad("selection", shape)
        unknown = sorted(set(value) - {"category", "filter", "skus"})
        if unknown:
            raise self.bad("selection", f"{shape}; not {unknown[0]!r}", key=unknown[0])
        clean = {}
        if "category" in value:
            clean["category"] = self._category(value["category"])
        if "filter" in value:
            clean["filter"] = self._filter(value["filter"])
        if "skus" in value:
            clean["skus"] = self._skus(value["skus"])
        return clean

    def _category(self, code) -> str:
        if not isinstance(code, str) or not code:
            raise self.bad("selection.category", "a category code")
        category = Category.objects.filter(code=code).first()
        if category is None:
            raise self.bad("selection.category", f"no category {code!r}", category=code)
        tree = self.channel.category_tree
        if tree is not None and category.path.split("/")[0] != tree.code:
            raise self.bad(
                "selection.category",
                f"{code} is not in channel {self.channel.code}'s category tree {tree.code}",
                category=code,
            )
        return code

    def _filter(self, value):
        from folio.catalog.queries import parse_condition

        texts = [value] if isinstance(value, str) else value
        if (
            not isinstance(texts, list)
            or not texts
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            raise self.bad(
                "selection.filter",
                "one condition such as 'capacity>=500 ml' or a list of them (all must hold)",
            )
        codes = set()
        for text in texts:
            try:
                codes.add(parse_condition(text).attribute)
            except InvalidInput as exc:
                raise self.bad("selection.filter", exc.message, filter=text) from None
        known = set(Attribute.objects.filter(code__in=codes).values_list("code", flat=True))
        for code in sorted(codes - known):
            raise self.bad("selection.filter", f"no attribute {code!r}", attribute=code)
        return value

    def _skus(self, value) -> list[str]:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(s, str) and s for s in value)
        ):
            raise self.bad("selection.skus", "a non-empty list of SKUs")
        skus = list(dict.fromkeys(value))
        if len(skus) > MAX_SELECTED_SKUS:
            raise self.bad(
                "selection.skus",
                f"at most {MAX_SELECTED_SKUS} SKUs; select a category or a filter instead",
            )
        found = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
        missing = [s for s in skus if s not in found]
        if missing:
            raise self.bad(
                "selection.skus",
                f"no product {', '.join(missing[:10])}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""),
                skus=missing[:100],
            )
        return skus


def _empty(value) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _placeholders(template: str) -> list[str]:
    """The names a "{brand} {name}" template reads; ValueError when it is not one."""
    names = []
    for _text_part, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name:
            raise ValueError("a placeholder needs a name, e.g. {name}")
        if spec or conversion or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"{{{name}}} must be a plain name such as {{brand}}")
        names.append(name)
    return names


def _is_http_url(value) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_selection(channel: Channel | str, selection) -> dict:
    """A one-off selection (a run's, rather than the feed's default) checked like a feed's."""
    checker = _Checker(Feed(channel=_channel(channel), code="run"))
    return checker.selection(selection)


def _require(user, perm: str) -> None:
    # Service calls without a user are the system's (CLI, seed, jobs): who may run those is
    # settled by who may reach the server.
    if user is not None and getattr(user, "pk", None):
        from folio.accounts.services import require

        require(user, perm)


# --- writes ---------------------------------------------------------------------------------


@transaction.atomic
def create_feed(channel_code: str, data: dict, *, user=None) -> Feed:
    _require(user, "publishing.add_feed")
    channel = _channel(channel_code)
    if not isinstance(data, dict):
        raise InvalidInput("a feed is an object of settings")
    unknown = sorted(set(data) - {"code", *EDITABLE})
    if unknown:
        raise InvalidInput(
            f"feed {channel.code}/{data.get('code', '?')}: {unknown[0]}: not a feed setting "
            f"(settings: code, {', '.join(EDITABLE)})",
            details={"field": unknown[0], "channel": channel.code},
        )
    if "format" not in data:
        raise InvalidInput(
            f"feed {channel.code}/{data.get('code', '?')}: format: a feed needs a format "
            f"({', '.join(FORMATS)})",
            details={"field": "format", "channel": channel.code},
        )
    feed = Feed(channel=channel, **{k: v for k, v in data.items() if v is not None})
    _Checker(feed, user).all()
    subject = f"feed {channel.code}/{feed.code}"
    if Feed.objects.filter(channel=channel, code=feed.code).exists():
        raise Conflict(f"{subject} exists already", details={"field": "code", "code": feed.code})
    try:
        with transaction.atomic():
            feed.save()
    except IntegrityError:
        raise Conflict(f"{subject} exists already", details={"field": "code"}) from None
    audit.record("feed.create", feed, summary=subject, changes=snapshot(feed))
    return feed


@transaction.atomic
def update_feed(
    channel_code: str, feed_code: str, patch: dict, *, expected_version: int | None, user=None
) -> Feed:
    _require(user, "publishing.change_feed")
    feed = get_feed(channel_code, feed_code)
    subject = f"feed {feed.channel.code}/{feed.code}"
    unknown = sorted(set(patch) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            f"{subject}: {unknown[0]}: not a changeable setting "
            f"(changeable: {', '.join(EDITABLE)})",
            details={"field": unknown[0], "channel": feed.channel.code},
        )
    before = snapshot(feed)
    for field, value in patch.items():
        setattr(feed, field, value)
    # Who may choose a folder is asked of whoever chooses it, not of everyone editing later.
    _Checker(feed, user if "destination" in patch else None).all()
    save_versioned(feed, expected_version, sorted(patch), snapshot=snapshot)
    after = snapshot(feed)
    changes = {k: [before[k], after[k]] for k in EDITABLE if before[k] != after[k]}
    audit.record("feed.update", feed, summary=subject, changes=changes)
    return feed


@transaction.atomic
def delete_feed(
    channel_code: str, feed_code: str, *, expected_version: int | None = None, user=None
) -> None:
    _require(user, "publishing.delete_feed")
    feed = get_feed(channel_code, feed_code)
    subject = f"feed {feed.channel.code}/{feed.code}"
    check_version(feed, expected_version, subject, snapshot)
    running = feed.publications.filter(
        status__in=[Publication.Status.PENDING, Publication.Status.RUNNING]
    ).first()
    if running is not None:
        raise Conflict(
            f"{subject} cannot be deleted while publication {running.pk} is {running.status}",
            details={"publication": running.pk, "status": running.status},
        )
    audit.record("feed.delete", feed, summary=subject, changes=snapshot(feed))
    feed.delete()
