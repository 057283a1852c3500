"""`folio restore SRC`: put a backup back into this installation and check it.

    folio restore /mnt/backups/20261126T083000Z
    folio restore s3://folio-backups/prod/20261126T083000Z --force

An operator command: stop the server and workers first. Refuses an installation that holds
data unless --force, a backup of another database vendor, and a backup from a newer Folio.
"""

from folio.backups import services
from folio.cli import FolioCommand, progress


class Command(FolioCommand):
    help = "Restore a backup (made by `folio backup`) into this installation."

    def add_arguments(self, parser):
        parser.add_argument("src", help="a backup folder, or s3://bucket/prefix/<backup id>")
        parser.add_argument(
            "--force", action="store_true", help="replace the data this installation holds"
        )

    def run(self, src, force=False, **options):
        report = services.restore(
            src,
            force=force,
            progress=progress,
            say=self.stderr.write,
        )
        self.stdout.write(
            f"restored {report['backup']} (made {report['manifest']['created_at']} by Folio "
            f"{report['manifest']['folio_version']})\n"
            f"  verified: {report['tables']} tables, {report['rows']} rows, "
            f"{report['files']} files ({report['copied']} copied, the rest were in place)\n"
            "  run `folio migrate` if this Folio is newer than the backup"
        )
