"""`folio assets …`: add files and folders, list and restore versions, prune old versions.

    folio assets add ~/shoot/*.jpg --collection winter --kind packshot --tag launch
    folio assets add ./agency-drop --recursive --allow-duplicates
    folio assets versions 42
    folio assets restore 42 1
    folio assets prune

Everything goes through folio.assets.services, with the same checks and audit as the API.
One line per file (added / duplicate of #id / refused: reason), then a summary; the exit
status is 1 if any file was refused.
"""

from pathlib import Path

from django.core.management.base import CommandError

from folio.assets import services
from folio.cli import FolioCommand, progress
from folio.errors import Conflict, FolioError


def _files(paths: list[str], recursive: bool) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            found.extend(sorted(p for p in pattern if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"no such file or folder: {raw}")
    return found


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "add": "assets.add_asset",
        "versions": "assets.view_asset",
        "restore": "assets.change_asset",
        "prune": "assets.delete_asset",
    }
    help = "Assets: add files or folders, list and restore versions, prune old versions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add files (folders: their files) as new assets")
        add.add_argument("paths", nargs="+")
        add.add_argument("--recursive", "-r", action="store_true", help="include subfolders")
        add.add_argument("--collection", action="append", default=[])
        add.add_argument("--kind", default=None)
        add.add_argument("--tag", action="append", default=[])
        add.add_argument(
            "--allow-duplicates",
            action="store_true",
            help="add files identical to an existing asset's current file",
        )
        versions = sub.add_parser("versions", help="list an asset's versions")
        versions.add_argument("asset_id", type=int)
        restore = sub.add_parser("restore", help="make an earlier version current again")
        restore.add_argument("asset_id", type=int)
        restore.add_argument("number", type=int)
        prune = sub.add_parser("prune", help="drop the files of versions past the retention")
        prune.add_argument(
            "--keep",
            type=int,
            default=None,
            help="versions to keep per asset (default FOLIO_VERSION_RETENTION)",
        )

    def run(self, action, **o):
        return getattr(self, f"do_{action}")(**o)

    def do_add(self, paths, recursive, collection, kind, tag, allow_duplicates, **_):
        targets = _files(paths, recursive)
        if not targets:
            raise CommandError("no files to add")
        collections = [c.strip() for v in collection for c in v.split(",") if c.strip()]
        tags = [t.strip() for v in tag for t in v.split(",") if t.strip()]
        added = duplicates = refused = 0
        lines = []
        for path in progress(targets, total=len(targets), description="adding assets"):
            try:
                with open(path, "rb") as f:
                    asset = services.add_asset(
                        f,
                        filename=path.name,
                        kind=kind,
                        collections=collections,
                        tags=tags,
                        allow_duplicate=allow_duplicates,
                    )
            except Conflict as exc:
                details = exc.details or {}
                if "duplicate_of" in details:
                    duplicates += 1
                    lines.append(
                        f"{path}: duplicate of #{details['duplicate_of']} "
                        f"({details.get('title', '')})"
                    )
                else:
                    refused += 1
                    lines.append(f"{path}: refused: {exc.message}")
            except FolioError as exc:
                refused += 1
                lines.append(f"{path}: refused: {exc.message}")
            except OSError as exc:
                refused += 1
                lines.append(f"{path}: refused: cannot read it ({exc.strerror or exc})")
            else:
                added += 1
                version = asset.current_version
                lines.append(f"{path}: added #{asset.pk} {asset.title} ({version.mime})")
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(
            f"{added} added, {duplicates} duplicates skipped, {refused} refused "
            f"({len(targets)} files)"
        )
        if refused:
            raise SystemExit(1)

    def do_versions(self, asset_id, **_):
        asset = services.get_asset(asset_id)
        self.stdout.write(f"#{asset.pk} {asset.title} ({asset.status})")
        for v in services.versions(asset_id):
            mark = "*" if v.pk == asset.current_version_id else " "
            size = f"{v.width}×{v.height}" if v.width else ""
            state = " pruned" if v.pruned else ""
            who = v.uploaded_by.username if v.uploaded_by_id else "system"
            self.stdout.write(
                f"{mark} v{v.number}  {v.uploaded_at:%Y-%m-%d %H:%M}  {who}  {v.filename}  "
                f"{v.mime}  {v.size} bytes  {size}{state}  {v.comment}".rstrip()
            )

    def do_restore(self, asset_id, number, **_):
        version = services.restore_version(asset_id, number)
        self.stdout.write(f"restored v{number} of #{asset_id} as v{version.number}")

    def do_prune(self, keep=None, **_):
        result = services.prune(keep)
        self.stdout.write(
            f"{result['pruned_versions']} old versions pruned, {result['deleted_blobs']} files "
            f"deleted, {result['expired_uploads']} abandoned uploads removed"
        )
