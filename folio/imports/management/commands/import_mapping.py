"""`folio import-mapping`: the saved column mappings of arbitrary spreadsheets.

    folio import-mapping save acme acme-mapping.json     # create, or replace its content
    folio import-mapping list
    folio import-mapping show acme                       # as JSON, to edit and save again
    folio import-mapping delete acme

The JSON file holds {"description": …, "options": {…}, "columns": [{"column": …, …}]};
every problem is reported with the column it is about (docs/importing.md).
"""

import json
from pathlib import Path

from django.core.management.base import CommandError

from folio.accounts.audit import current_actor
from folio.accounts.services import require
from folio.cli import FolioCommand
from folio.imports import services
from folio.imports.models import ColumnMapping


class Command(FolioCommand):
    help = "Saved column mappings for importing arbitrary spreadsheets: save, list, show, delete."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        save = sub.add_parser("save", help="create or replace a mapping from a JSON file")
        save.add_argument("name")
        save.add_argument("file")
        sub.add_parser("list", help="the saved mappings")
        show = sub.add_parser("show", help="one mapping as JSON")
        show.add_argument("name")
        delete = sub.add_parser("delete", help="delete a mapping")
        delete.add_argument("name")

    def run(self, action, **o):
        user = current_actor().user
        if user is not None and action == "delete":
            require(user, "imports.delete_columnmapping")
        elif user is not None and action == "save":
            # save creates a mapping or replaces a saved one
            require(user, "imports.add_columnmapping")
            if ColumnMapping.objects.filter(name=o["name"]).exists():
                require(user, "imports.change_columnmapping")
        if action == "list":
            for m in ColumnMapping.objects.all():
                self.stdout.write(
                    f"{m.name}  v{m.version}  {len(m.columns)} columns  {m.description}".rstrip()
                )
        elif action == "show":
            snap = services.mapping_snapshot(services.get_mapping(o["name"]))
            self.stdout.write(json.dumps(snap, indent=2, ensure_ascii=False))
        elif action == "delete":
            services.delete_mapping(o["name"])
            self.stdout.write(f"deleted {o['name']}")
        else:
            try:
                data = json.loads(Path(o["file"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"{o['file']}: not a readable JSON file ({exc})") from None
            if not isinstance(data, dict):
                raise CommandError(f"{o['file']}: expected an object with columns and options")
            fields = {k: data[k] for k in ("description", "options", "columns") if k in data}
            if ColumnMapping.objects.filter(name=o["name"]).exists():
                m = services.update_mapping(o["name"], **fields)
                self.stdout.write(f"saved {m.name} (version {m.version})")
            else:
                m = services.create_mapping(o["name"], user=user, **fields)
                self.stdout.write(f"created {m.name}")
