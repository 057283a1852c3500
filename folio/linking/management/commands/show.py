"""`folio show SKU`: the SKU 360 in a terminal (or as JSON)."""

import json

from django.core.serializers.json import DjangoJSONEncoder

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand
from folio.linking import sku360


def _rights(link: dict) -> str:
    bad = {c: r["reasons"] for c, r in link["rights"].items() if not r["publishable"]}
    if not bad:
        return "publishable everywhere" if link["rights"] else ""
    return "; ".join(f"{c}: {', '.join(reasons)}" for c, reasons in bad.items())


class Command(FolioCommand):
    help = "Everything about one product: facts with origins, links, completeness, history."

    def add_arguments(self, parser):
        parser.add_argument("sku", help="a SKU, SKU prefix or GTIN")
        parser.add_argument("--channel", default=None)
        parser.add_argument("--locale", default=None)
        parser.add_argument("--json", action="store_true", help="print the whole 360 as JSON")

    def run(self, sku, channel=None, locale=None, json=False, **o):
        found = sku360.resolve_sku(sku)
        if len(found) != 1:
            from folio.errors import NotFound

            if not found:
                raise NotFound(f"nothing matches {sku!r}")
            raise NotFound(f"{sku!r} matches several products: {', '.join(found)}")
        data = sku360.sku360(found[0], user=current_actor().user, channel=channel, locale=locale)
        if json:
            self.stdout.write(_dumps(data))
            return
        self._print(data)

    def _print(self, d: dict) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=self.stdout, width=200, highlight=False, soft_wrap=False)
        p = d["product"]
        console.print(
            f"[bold]{p['sku']}[/bold]  family {p['family'] or '-'}"
            f"  models {' > '.join(p['parents']) or '-'}"
            f"  {'enabled' if p['enabled'] else 'DISABLED'}  v{p['version']}"
        )
        console.print(
            f"categories: {', '.join(p['categories']) or '-'}   "
            f"groups: {', '.join(p['groups']) or '-'}"
        )
        for group in d["facts"]:
            table = Table(title=group["label"], title_justify="left", show_lines=False)
            for col in ("attribute", "value", "locale", "channel", "from"):
                table.add_column(col)
            for a in group["attributes"]:
                if not a["values"]:
                    table.add_row(a["label"], "[dim]—[/dim]", "", "", "")
                for e in a["values"]:
                    table.add_row(
                        a["label"],
                        e["display"][:60],
                        e["locale"] or "",
                        e["scope"] or "",
                        a["origin"] or "",
                    )
            console.print(table)
        table = Table(title="Completeness", title_justify="left")
        for col in ("channel", "locale", "%", "missing"):
            table.add_column(col)
        for c in d["completeness"]:
            table.add_row(c["channel"], c["locale"], str(c["ratio"]), ", ".join(c["missing"]))
        console.print(table)
        table = Table(title="Links", title_justify="left")
        for col in ("role", "#", "asset", "status", "file", "from", "rights"):
            table.add_column(col)
        for link in d["links"]:
            f = link["file"] or {}
            size = f"{f.get('width')}×{f.get('height')}" if f.get("width") else ""
            table.add_row(
                link["role"],
                str(link["position"]),
                f"{link['asset']['id']} {link['asset']['title']}",
                link["asset"]["status"],
                f"{f.get('filename', '')} {size}".strip(),
                link["origin"],
                _rights(link),
            )
        console.print(table if d["links"] else "Links: none")
        console.print("[bold]Recent history[/bold]")
        for h in d["history"] or []:
            console.print(
                f"  v{h['version']} {h['at']:%Y-%m-%d %H:%M} {h['user']} {h['action']}: "
                f"{', '.join(h['attributes'])}"
            )
        if d["proposals"]:
            console.print(
                "[bold]Pending proposals[/bold]: "
                + ", ".join(f"#{x['id']} ({', '.join(x['attributes'])})" for x in d["proposals"])
            )
        console.print("Publications: " + ("not published yet" if not d["publications"] else ""))
        for pub in d["publications"]:
            held = "listed" if pub["listed"] else "not listed"
            console.print(
                f"  {pub['channel']}/{pub['feed']} ({pub['format']}) {pub['action']} "
                f"{pub['at']:%Y-%m-%d %H:%M}, {held} (publication {pub['publication_id']})"
            )


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
