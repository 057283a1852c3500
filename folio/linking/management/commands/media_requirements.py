"""`folio media-requirements list|set|remove`: what a family needs linked per channel."""

from folio.cli import FolioCommand


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "linking.view_mediarequirement",
        "set": "linking.change_mediarequirement",
        "remove": "linking.delete_mediarequirement",
    }
    help = "Media requirements of families (count in completeness): list, set, remove."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the requirements, of one family or of all")
        ls.add_argument("family", nargs="?", help="a family code (default: every family)")
        put = sub.add_parser("set", help="require media of a role in a channel (or change it)")
        put.add_argument("family")
        put.add_argument("channel")
        put.add_argument("role")
        put.add_argument("--min-count", type=int, default=1, help="at least this many (1)")
        put.add_argument(
            "--preset", dest="compliant_preset", help="and each passing this preset's checks"
        )
        rm = sub.add_parser("remove", help="drop a requirement")
        rm.add_argument("family")
        rm.add_argument("channel")
        rm.add_argument("role")

    def run(self, action, **o):
        from folio.errors import NotFound
        from folio.linking import completeness
        from folio.linking.models import MediaRequirement

        if action == "list":
            rows = MediaRequirement.objects.select_related(
                "family", "channel", "compliant_preset"
            ).order_by("family__code", "channel__code", "role")
            if o["family"]:
                from folio.catalog.models import Family

                if not Family.objects.filter(code=o["family"]).exists():
                    raise NotFound(f"no family {o['family']!r}", details={"family": o["family"]})
                rows = rows.filter(family__code=o["family"])
            found = False
            for r in rows:
                found = True
                self.stdout.write(self._line(r))
            if not found:
                self.stdout.write("no media requirements")
        elif action == "set":
            r = completeness.set_requirement(
                o["family"],
                o["channel"],
                o["role"],
                min_count=o["min_count"],
                compliant_preset=o["compliant_preset"],
            )
            self.stdout.write("set " + self._line(r))
        elif action == "remove":
            completeness.remove_requirement(o["family"], o["channel"], o["role"])
            self.stdout.write(
                f"removed: {o['family']} no longer needs {o['role']} in {o['channel']}"
            )

    @staticmethod
    def _line(r) -> str:
        preset = f" passing {r.compliant_preset.code}" if r.compliant_preset_id else ""
        return f"{r.family.code:<24} {r.channel.code:<16} {r.role:<12} ≥ {r.min_count}{preset}"
