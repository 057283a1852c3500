"""`folio backup DEST`: an online backup of the database and every stored file.

    folio backup /mnt/backups
    folio backup s3://folio-backups/prod [--full]

An operator command, run in the server's shell: it reads the whole database and media
storage, so it acts as no user and needs no --as-user. The server keeps running.
"""

from folio.backups import services
from folio.cli import FolioCommand, progress


class Command(FolioCommand):
    help = "Back up the database and every stored file to a new folder under DEST."

    def add_arguments(self, parser):
        parser.add_argument("dest", help="a folder, or s3://bucket/prefix")
        parser.add_argument(
            "--full",
            action="store_true",
            help="copy every file, even those the previous backup in DEST holds already",
        )

    def run(self, dest, full=False, **options):
        manifest = services.backup(
            dest,
            incremental=not full,
            progress=progress,
            say=self.stderr.write,
        )
        files = manifest["files"]
        self.stdout.write(
            f"backup complete: {manifest['location']}\n"
            f"  database: {manifest['database']['vendor']}, {len(manifest['counts'])} tables, "
            f"{sum(manifest['counts'].values())} rows\n"
            f"  files: {files['count']} ({files['bytes']} bytes; {files['copied']} copied, "
            f"{files['reused']} taken from {files['reused_from'] or 'no earlier backup'})"
        )
