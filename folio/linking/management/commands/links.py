from folio.cli import FolioCommand
from folio.errors import InvalidInput


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "linking.view_link",
        "add": "linking.add_link",
        "remove": "linking.delete_link",
        "auto": "linking.add_link",
        "where-used": "linking.view_link",
        "replace-everywhere": "linking.change_link",
    }
    help = (
        "Links between products and assets: list, add, remove, auto, where-used, "
        "replace-everywhere."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the links that apply to a product, per role")
        ls.add_argument("sku")
        ls.add_argument("--locale")
        ls.add_argument("--channel")
        add = sub.add_parser("add", help="link an asset to a product or product model")
        add.add_argument("sku", help="a SKU or a product model code")
        add.add_argument("asset_id", type=int)
        add.add_argument("--role", required=True)
        add.add_argument("--position", type=int)
        add.add_argument("--locale", default="")
        add.add_argument("--channel")
        rm = sub.add_parser("remove", help="remove a link")
        rm.add_argument("link_id", type=int)
        auto = sub.add_parser("auto", help="link assets by their file names")
        which = auto.add_mutually_exclusive_group(required=True)
        which.add_argument("--asset", type=int, nargs="+", dest="assets")
        which.add_argument("--all-unlinked", action="store_true")
        which.add_argument(
            "--since",
            type=int,
            metavar="ASSET_ID",
            help="assets with an id above this one (e.g. after `assets add`)",
        )
        wu = sub.add_parser("where-used", help="where an asset is shown")
        wu.add_argument("asset_id", type=int)
        rep = sub.add_parser("replace-everywhere", help="replace an asset in every link")
        rep.add_argument("old", type=int)
        rep.add_argument("new", type=int)
        rep.add_argument("--yes", action="store_true", help="do it (otherwise only a preview)")

    def run(self, action, **o):
        from folio.accounts.audit import current_actor
        from folio.linking import services

        user = current_actor().user
        action = action.replace("-", "_")
        if action == "list":
            resolved = services.links_for(o["sku"], locale=o["locale"], channel=o["channel"])
            for role, entries in resolved.items():
                for e in entries:
                    scope = " ".join(filter(None, [e["locale"], e["channel"] or ""]))
                    self.stdout.write(
                        f"{e['id']:>6}  {role:<12} #{e['position']:<3} asset {e['asset_id']:<7} "
                        f"{e['filename'] or e['title']:<32} from {e['origin']}"
                        + (f"  [{scope}]" if scope else "")
                    )
        elif action == "add":
            lk = services.link(
                o["sku"],
                o["asset_id"],
                o["role"],
                position=o["position"],
                locale=o["locale"],
                channel=o["channel"],
                user=user,
            )
            self.stdout.write(
                f"linked asset {lk.asset_id} as {lk.role} #{lk.position} (link {lk.pk})"
            )
        elif action == "remove":
            services.unlink(o["link_id"], user=user)
            self.stdout.write(f"removed link {o['link_id']}")
        elif action == "auto":
            self._auto(o, user)
        elif action == "where_used":
            used = services.where_used(o["asset_id"])
            for lk in used["links"]:
                owner = lk["product"] or f"model {lk['product_model']}"
                self.stdout.write(
                    f"{lk['link_id']:>6}  {owner:<28} {lk['role']:<12} "
                    f"#{lk['position']} {lk['locale']} {lk['channel'] or ''}"
                )
            for v in used["variants"]:
                self.stdout.write(f"        {v['sku']:<28} {v['role']:<12} via {v['via']}")
            self.stdout.write(f"channels: {', '.join(used['channels']) or '-'}")
        elif action == "replace_everywhere":
            result = services.replace_everywhere(
                o["old"], o["new"], preview=not o["yes"], user=user
            )
            for row in result["links"]:
                owner = row["product"] or f"model {row['product_model']}"
                self.stdout.write(
                    f"{row['link_id']:>6}  {owner:<28} {row['role']:<12} {row['action']}"
                )
            if result["preview"]:
                self.stdout.write(
                    f"{len(result['links'])} links would change; run again with --yes to do it"
                )
            else:
                self.stdout.write(
                    f"changed {len(result['links'])} links "
                    f"(undo: link change {result['change_id']})"
                )

    def _auto(self, o, user):
        from folio.assets.models import Asset
        from folio.linking import autolink

        if o["assets"]:
            ids = o["assets"]
        elif o["all_unlinked"]:
            ids = list(Asset.objects.filter(links__isnull=True).values_list("pk", flat=True))
        elif o["since"] is not None:
            ids = list(Asset.objects.filter(pk__gt=o["since"]).values_list("pk", flat=True))
        else:  # pragma: no cover - argparse requires one
            raise InvalidInput("name assets: --asset, --all-unlinked or --since")
        report = autolink.autolink(ids, user=user)
        for e in report["linked"]:
            self.stdout.write(
                f"linked   {e['filename']:<36} → {e['target']} {e['role']} #{e['position']}"
            )
        for e in report["skipped_existing"]:
            self.stdout.write(f"skipped  {e['filename']:<36} (already linked to {e['target']})")
        for e in report["unmatched"]:
            self.stdout.write(f"no match {e['filename'] or e['asset']!s:<36} {e['reason']}")
        self.stdout.write(
            f"{len(report['linked'])} linked, {len(report['skipped_existing'])} "
            f"already linked, {len(report['unmatched'])} unmatched"
        )
