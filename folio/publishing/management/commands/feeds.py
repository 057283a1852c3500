"""`folio feeds …`: what each channel is published as.

    folio feeds list [CHANNEL]
    folio feeds show marketplace google [--json]
    folio feeds create marketplace google --format google-xml --locale en_US \\
        --map 'title={brand} {name} {capacity}' --map condition=const:new \\
        --option link_template=https://shop.example.com/p/{sku}
    folio feeds set marketplace google --map 'title={"attribute": "name", "max_length": 150}'
    folio feeds delete marketplace google

A mapping rule on the command line is FIELD=RULE where RULE is an attribute code (`name`), a
special (`@sku`, `@gtin`, `@family`, `@category`), `const:TEXT`, a template with
{placeholders}, or the rule as a JSON object. `set` merges mapping rules and options into the
feed's (`--unmap FIELD`, `--unset-option NAME` remove one).
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand
from folio.errors import InvalidInput
from folio.publishing import feeds as service
from folio.publishing.formats import FORMATS


def _rule(text: str) -> tuple[str, dict]:
    field, sep, spec = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise InvalidInput(
            f"--map {text!r}: write FIELD=RULE, e.g. title=name, gtin=@gtin, "
            "condition=const:new or 'title={brand} {name}'",
            details={"field": "mapping"},
        )
    if spec.lstrip().startswith('{"'):
        try:
            rule = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"--map {field}: the rule is not valid JSON ({exc.msg})",
                details={"field": f"mapping.{field}"},
            ) from None
        return field, rule
    if spec.startswith("const:"):
        return field, {"constant": spec[len("const:") :]}
    if "{" in spec:
        return field, {"template": spec}
    return field, {"attribute": spec.strip()}


def _option(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise InvalidInput(f"--option {text!r}: write NAME=VALUE", details={"field": "options"})
    try:
        value = json.loads(raw)
        if isinstance(value, dict | list):
            value = raw
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def _json_arg(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"--{what} is not valid JSON ({exc.msg})", details={"field": what}
        ) from None
    return value


def _settings(o: dict, current: dict | None = None) -> dict:
    """The feed settings the options name (merged into `current` for mapping and options)."""
    data: dict = {}
    if o.get("from_json"):
        source = o["from_json"]
        if source == "-":
            import sys

            text = sys.stdin.read()
        else:
            try:
                with open(source, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
        loaded = _json_arg(text, "from-json")
        if not isinstance(loaded, dict):
            raise InvalidInput("--from-json: expected a JSON object of feed settings")
        data.update(loaded)
    for name in ("name", "format", "currency", "connector"):
        if o.get(name) is not None:
            data[name] = o[name]
    if o.get("locale"):
        data["locales"] = o["locale"]
    if o.get("all_locales"):
        data["locales"] = []
    if o.get("map") or o.get("unmap"):
        mapping = dict((current or {}).get("mapping") or data.get("mapping") or {})
        for text in o.get("map") or []:
            field, rule = _rule(text)
            mapping[field] = rule
        for field in o.get("unmap") or []:
            mapping.pop(field, None)
        data["mapping"] = mapping
    if o.get("option") or o.get("unset_option"):
        options = dict((current or {}).get("options") or data.get("options") or {})
        for text in o.get("option") or []:
            name, value = _option(text)
            options[name] = value
        for name in o.get("unset_option") or []:
            options.pop(name, None)
        data["options"] = options
    if o.get("destination"):
        data["destination"] = _json_arg(o["destination"], "destination")
    elif o.get("folder"):
        data["destination"] = {"kind": "folder", "path": o["folder"]}
    if o.get("public_base_url") is not None:
        destination = dict(data.get("destination") or (current or {}).get("destination") or {})
        destination["public_base_url"] = o["public_base_url"]
        data["destination"] = destination
    selection = {}
    if o.get("category"):
        selection["category"] = o["category"]
    if o.get("filter"):
        selection["filter"] = o["filter"] if len(o["filter"]) > 1 else o["filter"][0]
    if o.get("sku"):
        selection["skus"] = o["sku"]
    if selection or o.get("all_products"):
        data["selection"] = selection
    if o.get("enabled") is not None:
        data["enabled"] = o["enabled"]
    return data


def _setting_arguments(parser, *, create: bool) -> None:
    parser.add_argument("--format", required=False, choices=list(FORMATS), help="the feed format")
    parser.add_argument("--name", default=None)
    parser.add_argument(
        "--locale", action="append", default=[], help="publish this locale (repeat; default: all)"
    )
    if not create:
        parser.add_argument("--all-locales", action="store_true", help="every channel locale")
    parser.add_argument("--currency", default=None, help="default: the channel's first")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=RULE",
        help="title=name, gtin=@gtin, condition=const:new, 'title={brand} {name}', "
        'or FIELD=\'{"attribute": "name", "max_length": 150, "truncate": true}\'',
    )
    parser.add_argument(
        "--option", action="append", default=[], metavar="NAME=VALUE", help="a format option"
    )
    if not create:
        parser.add_argument("--unmap", action="append", default=[], metavar="FIELD")
        parser.add_argument("--unset-option", action="append", default=[], metavar="NAME")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--folder", default=None, help="destination folder (relative: under FOLIO_PUBLICATIONS_DIR)"
    )
    where.add_argument(
        "--destination",
        default=None,
        metavar="JSON",
        help='e.g. \'{"kind": "s3", "bucket": "feeds", "prefix": "google"}\'',
    )
    parser.add_argument("--public-base-url", default=None, help="where the channel reads files")
    parser.add_argument(
        "--connector", default=None, choices=["", "shopify", "amazon"], help="push connector"
    )
    parser.add_argument("--category", default=None, help="default selection: this category")
    parser.add_argument(
        "--filter", action="append", default=[], help="default selection: a condition (repeat)"
    )
    parser.add_argument(
        "--sku", action="append", default=[], help="default selection: a product (repeat)"
    )
    if not create:
        parser.add_argument("--all-products", action="store_true", help="no default selection")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    parser.add_argument(
        "--from-json", default=None, metavar="FILE", help="settings as a JSON object (- : stdin)"
    )


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "publishing.view_feed",
        "show": "publishing.view_feed",
        "create": "publishing.add_feed",
        "set": "publishing.change_feed",
        "delete": "publishing.delete_feed",
    }
    help = "Feeds: what each channel is published as (list, show, create, set, delete)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the feeds of every channel, or of one")
        ls.add_argument("channel", nargs="?")
        show = sub.add_parser("show", help="one feed's settings")
        show.add_argument("channel")
        show.add_argument("feed")
        show.add_argument("--json", action="store_true")
        create = sub.add_parser("create", help="add a feed to a channel")
        create.add_argument("channel")
        create.add_argument("feed", help="its code, e.g. google")
        _setting_arguments(create, create=True)
        change = sub.add_parser("set", help="change a feed's settings")
        change.add_argument("channel")
        change.add_argument("feed")
        _setting_arguments(change, create=False)
        change.add_argument(
            "--version", type=int, default=None, help="refuse if the feed is not at this version"
        )
        delete = sub.add_parser("delete", help="delete a feed (and its publications)")
        delete.add_argument("channel")
        delete.add_argument("feed")
        delete.add_argument("--version", type=int, default=None)

    def run(self, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _list(self, channel=None, **o):
        found = service.list_feeds(channel)
        if not found:
            self.stdout.write("no feeds" + (f" on channel {channel}" if channel else ""))
            return
        for feed in found:
            locales = ",".join(service.effective_locales(feed)) or "-"
            state = "" if feed.enabled else "  (disabled)"
            push = f"  → {feed.connector}" if feed.connector else ""
            self.stdout.write(
                f"{feed.channel.code:<14} {feed.code:<14} {feed.format:<12} {locales:<12} "
                f"{service.effective_currency(feed) or '-':<4} v{feed.version}{push}{state}"
            )

    def _show(self, channel, feed, json=False, **o):
        found = service.get_feed(channel, feed)
        data = {
            **service.snapshot(found),
            "effective_locales": service.effective_locales(found),
            "effective_currency": service.effective_currency(found),
        }
        if json:
            self.stdout.write(_dumps(data))
            return
        self.stdout.write(f"{data['channel']}/{data['code']}  {data['name'] or ''}".rstrip())
        self.stdout.write(f"format:      {data['format']}")
        self.stdout.write(
            f"locales:     {', '.join(data['effective_locales'])}"
            + ("" if data["locales"] else " (all the channel's)")
        )
        self.stdout.write(
            f"currency:    {data['effective_currency'] or '-'}"
            + ("" if data["currency"] else " (the channel's first)")
        )
        self.stdout.write(f"enabled:     {'yes' if data['enabled'] else 'no'}")
        self.stdout.write(f"connector:   {data['connector'] or 'none (files only)'}")
        self.stdout.write(f"destination: {_dumps(data['destination'] or {'kind': 'folder'})}")
        self.stdout.write(
            f"selection:   {_dumps(data['selection']) if data['selection'] else 'all'}"
        )
        self.stdout.write(f"version:     {data['version']}")
        self.stdout.write("options:" + ("" if data["options"] else " none"))
        for name, value in sorted(data["options"].items()):
            self.stdout.write(f"  {name} = {value}")
        self.stdout.write("mapping:" + ("" if data["mapping"] else " the format's defaults"))
        for field, rule in sorted(data["mapping"].items()):
            self.stdout.write(f"  {field} ← {_describe(rule)}")

    def _create(self, channel, feed, **o):
        data = {"code": feed, **_settings(o)}
        created = service.create_feed(channel, data, user=current_actor().user)
        self.stdout.write(
            f"feed {created.channel.code}/{created.code} created ({created.format}); publish "
            f"it with `folio publish {created.channel.code} --feed {created.code}`"
        )

    def _set(self, channel, feed, version=None, **o):
        current = service.snapshot(service.get_feed(channel, feed))
        changes = _settings(o, current)
        if not changes:
            raise InvalidInput("nothing to change: name a setting (see `folio feeds set --help`)")
        updated = service.update_feed(
            channel, feed, changes, expected_version=version, user=current_actor().user
        )
        self.stdout.write(
            f"feed {updated.channel.code}/{updated.code} changed "
            f"({', '.join(sorted(changes))}); now at version {updated.version}"
        )

    def _delete(self, channel, feed, version=None, **o):
        service.delete_feed(channel, feed, expected_version=version, user=current_actor().user)
        self.stdout.write(f"feed {channel}/{feed} deleted")


def _describe(rule: dict) -> str:
    if "attribute" in rule:
        text = rule["attribute"]
        where = "@".join(x for x in (rule.get("locale"), rule.get("scope")) if x)
        text += f" [{where}]" if where else ""
    elif "constant" in rule:
        text = f"constant {rule['constant']!r}"
    else:
        text = f"template {rule.get('template')!r}"
    if rule.get("max_length"):
        text += f", at most {rule['max_length']} characters"
        text += " (cut)" if rule.get("truncate") else ""
    elif rule.get("truncate"):
        text += ", cut to the format's limit"
    return text


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
