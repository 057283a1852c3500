"""`folio permission-matrix`: write the permission matrix into docs/security.md (every role
against every API operation group, from the role map and folio.accounts.permission_map)."""

from pathlib import Path

from django.conf import settings

from folio.accounts.permission_map import update_security_doc
from folio.cli import FolioCommand


class Command(FolioCommand):
    help = "Write the permission matrix section of docs/security.md from the role map."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", default=str(Path(settings.BASE_DIR) / "docs" / "security.md")
        )

    def run(self, output, **options):
        changed = update_security_doc(output)
        self.stdout.write(f"{'updated' if changed else 'unchanged'}: {output}")
