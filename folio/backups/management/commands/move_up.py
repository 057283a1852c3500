"""`folio move-up`: copy an embedded install to PostgreSQL and/or object storage.

    folio move-up --to-database postgresql://folio@db/folio --to-media s3://folio-media/prod

An operator command: stop the server first (writes made during the move are not copied).
Then point FOLIO_DATABASE_URL / FOLIO_MEDIA at the new places and start it again.
"""

from folio.backups import moveup
from folio.cli import FolioCommand, progress


class Command(FolioCommand):
    help = "Copy this install's SQLite database and media folder to PostgreSQL and S3."

    def add_arguments(self, parser):
        parser.add_argument("--to-database", default=None, help="postgresql://user@host/db")
        parser.add_argument("--to-media", default=None, help="s3://bucket/prefix or a folder")
        parser.add_argument(
            "--force", action="store_true", help="copy into a target that holds data already"
        )

    def run(self, to_database=None, to_media=None, force=False, **options):
        report = moveup.move_up(
            to_database=to_database,
            to_media=to_media,
            force=force,
            progress=progress,
            say=self.stderr.write,
        )
        out = self.stdout.write
        if "media" in report:
            m = report["media"]
            out(
                f"media: {m['files']} files ({m['bytes']} bytes) in {to_media}, every checksum "
                f"verified ({m['copied']} copied, {m['already_there']} were there already)"
            )
        if "database" in report:
            d = report["database"]
            out(f"database: {len(d['tables'])} tables, {d['rows']} rows, counts verified")
            for table, n in sorted(d["tables"].items()):
                out(f"  {table:40} {n:>10}")
            out(f"  search documents carried over: {d['search_documents']}")
            for table, why in d["not_copied"].items():
                out(f"  not copied: {table} ({why})")
        out("next: stop this server for good, then start Folio with")
        if to_database:
            out("  FOLIO_DATABASE_URL=<the --to-database URL>")
        if to_media:
            out(f"  FOLIO_MEDIA={to_media}")
