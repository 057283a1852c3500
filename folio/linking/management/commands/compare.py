"""`folio compare SKU SKU… --channel C --locale L`: products side by side."""

from folio.cli import FolioCommand
from folio.linking import compare


class Command(FolioCommand):
    help = "Compare products attribute by attribute for one channel and locale."

    def add_arguments(self, parser):
        parser.add_argument("skus", nargs="+")
        parser.add_argument("--channel", required=True)
        parser.add_argument("--locale", required=True)

    def run(self, skus, channel, locale, **o):
        from rich.console import Console
        from rich.table import Table

        data = compare.compare(skus, channel=channel, locale=locale)
        console = Console(file=self.stdout, width=160, highlight=False)
        table = Table(title=f"{channel} / {locale}", title_justify="left")
        table.add_column("attribute")
        for sku in data["skus"]:
            table.add_column(sku)
        for group in data["groups"]:
            table.add_row(f"[bold]{group['label']}[/bold]", *[""] * len(data["skus"]))
            for row in group["rows"]:
                mark = "≠ " if row["differs"] else "  "
                table.add_row(mark + row["label"], *(row["values"][s] for s in data["skus"]))
        done = data["completeness"]
        table.add_row(
            "[bold]completeness[/bold]",
            *(f"{done[s]['ratio']} %" if done[s] else "-" for s in data["skus"]),
        )
        console.print(table)
