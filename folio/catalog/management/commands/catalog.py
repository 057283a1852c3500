"""`folio catalog …`: list the catalog structure and make the common structure changes.

    folio catalog locales | currencies | channels | attributes | families | categories
    folio catalog channel create webshop --locale en_US --locale de_DE --currency USD,EUR \\
        --territory US --tree master --label en_US="Web shop"
    folio catalog attribute create capacity --type measurement --measurement-family volume \\
        --unit MILLILITER --group technical
    folio catalog option add color black blue green --label-locale en_US
    folio catalog family create bottles --attribute name,capacity --require webshop=name
    folio catalog category move espresso --parent coffee

Everything goes through folio.catalog.structure, with the same checks and audit as the API.
"""

import argparse

from folio.catalog import structure
from folio.catalog.models import (
    Attribute,
    Category,
    Channel,
    Currency,
    Family,
    FamilyVariant,
    Locale,
    MeasurementFamily,
)
from folio.cli import FolioCommand
from folio.errors import InvalidInput
from folio.words import counted


def _codes(values: list[str] | None) -> list[str] | None:
    """Repeatable options that also take comma lists: --locale en_US,de_DE --locale fr_FR."""
    if values is None:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _labels(values: list[str] | None) -> dict | None:
    if values is None:
        return None
    labels = {}
    for item in values:
        locale, sep, text = item.partition("=")
        if not sep:
            raise InvalidInput(f"--label takes LOCALE=TEXT (e.g. en_US=Capacity), not {item!r}")
        labels[locale.strip()] = text
    return labels


def _requirements(values: list[str] | None) -> dict | None:
    if values is None:
        return None
    out = {}
    for item in values:
        channel, sep, codes = item.partition("=")
        if not sep:
            raise InvalidInput(
                f"--require takes CHANNEL=ATTR,ATTR (e.g. webshop=name), not {item!r}"
            )
        out[channel.strip()] = _codes([codes])
    return out


def _given(**options) -> dict:
    return {k: v for k, v in options.items() if v is not None}


class Command(FolioCommand):
    # what --as-user needs: listing is reading; `catalog THING OP` changes THING
    MODELS = {
        "option": "attributeoption",
        "group": "productgroup",
        "groups": "productgroup",
        "measurement-families": "measurementfamily",
    }
    VERBS = {
        "create": "add",
        "add": "add",
        "update": "change",
        "move": "change",
        "delete": "delete",
    }

    def required_permissions(self, options):
        action, op = options.get("action") or "", options.get("op")
        if op is None:  # a list: locales, channels, attributes…
            thing = self.MODELS.get(action) or action.replace("-", "")
            thing = {"currencies": "currency", "families": "family", "categories": "category"}.get(
                thing, thing.removesuffix("s")
            )
            return (f"catalog.view_{thing}",)
        thing = self.MODELS.get(action) or action.replace("-", "")
        return (f"catalog.{self.VERBS.get(op, 'change')}_{thing}",)

    help = (
        "Catalog structure: list locales, channels, attributes, families, categories…; "
        "create, change and delete them."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in (
            "locales",
            "currencies",
            "channels",
            "families",
            "family-variants",
            "measurement-families",
            "groups",
            "association-types",
            "attribute-groups",
        ):
            sub.add_parser(name, help=f"list {name.replace('-', ' ')}")
        attrs = sub.add_parser("attributes", help="list attributes")
        attrs.add_argument("--type", choices=Attribute.Type.values)
        attrs.add_argument("--group")
        cats = sub.add_parser("categories", help="list categories (as trees)")
        cats.add_argument("--tree", help="only this tree, e.g. master")

        def group(name, help_text):
            p = sub.add_parser(name, help=help_text)
            return p.add_subparsers(dest="op", required=True)

        def op(ops, name, help_text, *, code=True):
            p = ops.add_parser(name, help=help_text)
            if code:
                p.add_argument("code")
            return p

        def labelled(p):
            p.add_argument(
                "--label",
                action="append",
                metavar="LOCALE=TEXT",
                help="a label, e.g. en_US=Capacity (repeatable)",
            )

        for name, what in (("locale", "a locale"), ("currency", "a currency")):
            ops = group(name, f"create or delete {what}")
            op(ops, "create", f"add {what}").add_argument("--label", default="")
            op(ops, "delete", f"delete {what} nothing uses")

        ops = group("channel", "create, change or delete a channel")
        for verb in ("create", "update"):
            p = op(ops, verb, f"{verb} a channel (update: only the options given change)")
            labelled(p)
            p.add_argument("--kind", choices=Channel.Kind.values)
            p.add_argument("--locale", action="append", help="locale code(s), repeatable")
            p.add_argument("--currency", action="append", help="currency code(s), repeatable")
            p.add_argument("--territory", action="append", help="ISO 3166 country code(s)")
            p.add_argument("--tree", help="the root category of the channel's tree")
            p.add_argument("--requires-review", action=argparse.BooleanOptionalAction, default=None)
        op(ops, "delete", "delete a channel")

        ops = group("attribute", "create, change or delete an attribute")
        for verb in ("create", "update"):
            p = op(ops, verb, f"{verb} an attribute (update: only the options given change)")
            labelled(p)
            if verb == "create":
                p.add_argument("--type", required=True, choices=Attribute.Type.values)
                p.add_argument("--localizable", action="store_true", default=None)
                p.add_argument("--scopable", action="store_true", default=None)
                p.add_argument("--measurement-family")
            p.add_argument("--group")
            p.add_argument("--unique", action=argparse.BooleanOptionalAction, default=None)
            p.add_argument("--gtin", action=argparse.BooleanOptionalAction, default=None)
            p.add_argument("--max-length", type=int)
            p.add_argument("--unit", help="default unit (measurement)")
            p.add_argument("--allowed-unit", action="append")
            p.add_argument("--available-locale", action="append")
        op(ops, "delete", "delete an attribute no family or product uses")

        ops = group("option", "add or delete options of a select attribute")
        p = op(ops, "add", "add options", code=False)
        p.add_argument("attribute")
        p.add_argument("options", nargs="+", metavar="CODE[=LABEL]")
        p.add_argument("--label-locale", default="en_US", help="the locale of the labels given")
        p = op(ops, "delete", "delete an option no product uses", code=False)
        p.add_argument("attribute")
        p.add_argument("option")

        ops = group("family", "create, change or delete a family")
        for verb in ("create", "update"):
            p = op(ops, verb, f"{verb} a family (update: only the options given change)")
            labelled(p)
            p.add_argument("--attribute", action="append", help="attribute code(s)")
            p.add_argument("--label-attribute")
            p.add_argument("--image-attribute")
            p.add_argument(
                "--require",
                action="append",
                metavar="CHANNEL=ATTR,ATTR",
                help="what a channel requires (replaces that channel's list)",
            )
        op(ops, "delete", "delete a family without products")

        ops = group("category", "create, move or delete a category")
        p = op(ops, "create", "create a category (without --parent: a new tree)")
        p.add_argument("--parent")
        labelled(p)
        op(ops, "move", "move a category with its subtree").add_argument("--parent", required=True)
        op(ops, "delete", "delete a category without children or products")

        for name, what in (
            ("group", "product group"),
            ("association-type", "association type"),
            ("attribute-group", "attribute group"),
        ):
            ops = group(name, f"create or delete a {what}")
            p = op(ops, "create", f"create a {what}")
            labelled(p)
            if name == "association-type":
                p.add_argument("--two-way", action="store_true")
                p.add_argument("--quantified", action="store_true")
            op(ops, "delete", f"delete a {what}")

        # FolioCommand teaches --as-user to the first level of sub-commands only.
        for action in sub.choices.values():
            for nested in action._actions:
                if isinstance(nested, argparse._SubParsersAction):
                    for leaf in nested.choices.values():
                        leaf.add_argument(
                            "--as-user",
                            default=argparse.SUPPRESS,
                            dest="as_user",
                            help="record changes as this user",
                        )

    def run(self, action, **o):
        listing = getattr(self, "list_" + action.replace("-", "_"), None)
        if listing is not None:
            return listing(**o)
        getattr(self, f"{action.replace('-', '_')}_{o.pop('op')}")(**o)

    def say(self, text: str) -> None:
        self.stdout.write(text)

    # --- lists

    def list_locales(self, **o):
        for loc in Locale.objects.all():
            self.say(f"{loc.code:<12} {loc.label}")

    def list_currencies(self, **o):
        for cur in Currency.objects.all():
            self.say(f"{cur.code:<6} {cur.label}")

    def list_channels(self, **o):
        for c in Channel.objects.prefetch_related("locales", "currencies").select_related(
            "category_tree"
        ):
            s = structure.channel_snapshot(c)
            self.say(
                f"{c.code:<20} {c.kind:<12} locales {','.join(s['locales']):<24} "
                f"currencies {','.join(s['currencies']) or '-':<12} "
                f"tree {s['category_tree'] or '-'}  territories {','.join(c.territories) or '-'}"
            )

    def list_attributes(self, type=None, group=None, **o):
        qs = Attribute.objects.select_related("group", "measurement_family")
        if type:
            qs = qs.filter(type=type)
        if group:
            qs = qs.filter(group__code=group)
        for a in qs:
            flags = [f for f in ("localizable", "scopable", "unique") if getattr(a, f)]
            if a.is_gtin:
                flags.append("gtin")
            if a.measurement_family_id:
                flags.append(f"{a.measurement_family.code}:{a.default_unit}")
            self.say(
                f"{a.code:<24} {a.type:<18} {a.group.code if a.group_id else '-':<14} "
                f"{' '.join(flags)}"
            )

    def list_families(self, **o):
        for f in Family.objects.prefetch_related(
            "attributes", "requirements__channel", "requirements__attribute"
        ):
            reqs = structure.family_requirements(f)
            required = "; ".join(f"{c}: {','.join(a)}" for c, a in reqs.items()) or "-"
            self.say(f"{f.code:<24} {f.attributes.count():>3} attributes  requires {required}")

    def list_family_variants(self, **o):
        for fv in FamilyVariant.objects.select_related("family").prefetch_related(
            "level_attributes__attribute"
        ):
            levels = " | ".join(
                f"{lv['level']}: axes {','.join(lv['axes'])}" for lv in structure.variant_levels(fv)
            )
            self.say(f"{fv.code:<32} family {fv.family.code:<20} {levels}")

    def list_categories(self, tree=None, **o):
        qs = structure.categories_in_tree(tree) if tree else Category.objects.all()
        for c in qs.order_by("path"):
            depth = c.path.count("/")
            self.say(
                f"{'  ' * depth}{c.code}  {c.label()!r}" if c.labels else f"{'  ' * depth}{c.code}"
            )

    def list_measurement_families(self, **o):
        for m in MeasurementFamily.objects.all():
            self.say(f"{m.code:<18} standard {m.standard_unit:<12} units {', '.join(m.units)}")

    def _list_labelled(self, model):
        for obj in model.objects.all():
            self.say(f"{obj.code:<24} {obj.label()}")

    def list_groups(self, **o):
        from folio.catalog.models import ProductGroup

        self._list_labelled(ProductGroup)

    def list_association_types(self, **o):
        from folio.catalog.models import AssociationType

        self._list_labelled(AssociationType)

    def list_attribute_groups(self, **o):
        from folio.catalog.models import AttributeGroup

        self._list_labelled(AttributeGroup)

    # --- changes

    def locale_create(self, code, label, **o):
        structure.create_locale(code, label=label)
        self.say(f"created locale {code}")

    def locale_delete(self, code, **o):
        structure.delete_locale(code)
        self.say(f"deleted locale {code}")

    def currency_create(self, code, label, **o):
        structure.create_currency(code, label=label)
        self.say(f"created currency {code}")

    def currency_delete(self, code, **o):
        structure.delete_currency(code)
        self.say(f"deleted currency {code}")

    def _channel_settings(self, o) -> dict:
        return _given(
            labels=_labels(o["label"]),
            kind=o["kind"],
            locales=_codes(o["locale"]),
            currencies=_codes(o["currency"]),
            territories=_codes(o["territory"]),
            category_tree=o["tree"],
            requires_review=o["requires_review"],
        )

    def channel_create(self, code, **o):
        structure.create_channel(code, **{"locales": [], **self._channel_settings(o)})
        self.say(f"created channel {code}")

    def channel_update(self, code, **o):
        c = structure.update_channel(code, **self._channel_settings(o))
        self.say(f"updated channel {code} (version {c.version})")

    def channel_delete(self, code, **o):
        structure.delete_channel(code)
        self.say(f"deleted channel {code}")

    def _attribute_settings(self, o) -> dict:
        return _given(
            labels=_labels(o["label"]),
            group=o["group"],
            unique=o["unique"],
            is_gtin=o["gtin"],
            max_length=o["max_length"],
            default_unit=o["unit"],
            allowed_units=_codes(o["allowed_unit"]),
            available_locales=_codes(o["available_locale"]),
            localizable=o.get("localizable"),
            scopable=o.get("scopable"),
            measurement_family=o.get("measurement_family"),
        )

    def attribute_create(self, code, type, **o):
        structure.create_attribute(code, type=type, **self._attribute_settings(o))
        self.say(f"created attribute {code} ({type})")

    def attribute_update(self, code, **o):
        a = structure.update_attribute(code, **self._attribute_settings(o))
        self.say(f"updated attribute {code} (version {a.version})")

    def attribute_delete(self, code, **o):
        structure.delete_attribute(code)
        self.say(f"deleted attribute {code}")

    def option_add(self, attribute, options, label_locale, **o):
        items = []
        for item in options:
            code, sep, label = item.partition("=")
            items.append({"code": code, "labels": {label_locale: label} if sep else {}})
        created = structure.add_options(attribute, items)
        self.say(f"added {counted(len(created), 'option')} to {attribute}")

    def option_delete(self, attribute, option, **o):
        structure.delete_option(attribute, option)
        self.say(f"deleted option {option} of {attribute}")

    def _family_settings(self, o) -> dict:
        return _given(
            labels=_labels(o["label"]),
            attributes=_codes(o["attribute"]),
            label_attribute=o["label_attribute"],
            image_attribute=o["image_attribute"],
            requirements=_requirements(o["require"]),
        )

    def family_create(self, code, **o):
        structure.create_family(code, **self._family_settings(o))
        self.say(f"created family {code}")

    def family_update(self, code, **o):
        f = structure.update_family(code, **self._family_settings(o))
        self.say(f"updated family {code} (version {f.version})")

    def family_delete(self, code, **o):
        structure.delete_family(code)
        self.say(f"deleted family {code}")

    def category_create(self, code, parent, label, **o):
        c = structure.create_category(code, parent=parent, labels=_labels(label))
        self.say(f"created category {c.path}")

    def category_move(self, code, parent, **o):
        c = structure.update_category(code, parent=parent)
        self.say(f"moved category {code} to {c.path}")

    def category_delete(self, code, **o):
        structure.delete_category(code)
        self.say(f"deleted category {code}")

    def group_create(self, code, label, **o):
        structure.create_group(code, labels=_labels(label))
        self.say(f"created product group {code}")

    def group_delete(self, code, **o):
        structure.delete_group(code)
        self.say(f"deleted product group {code}")

    def association_type_create(self, code, label, two_way, quantified, **o):
        structure.create_association_type(
            code, labels=_labels(label), two_way=two_way, quantified=quantified
        )
        self.say(f"created association type {code}")

    def association_type_delete(self, code, **o):
        structure.delete_association_type(code)
        self.say(f"deleted association type {code}")

    def attribute_group_create(self, code, label, **o):
        structure.create_attribute_group(code, labels=_labels(label))
        self.say(f"created attribute group {code}")

    def attribute_group_delete(self, code, **o):
        structure.delete_attribute_group(code)
        self.say(f"deleted attribute group {code}")
