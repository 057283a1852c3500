"""Media in imports: the files that product rows name become assets, one per distinct content,
and links in the role the column says.

A cell of a `media-<role>` column, or of an asset-collection attribute (what other PIMs call
image and file attributes), lists files inside the import (`media/WB-750.jpg`, or just
`WB-750.jpg` when a media folder is there) or existing assets (`asset:42`). A file whose
bytes are already the current file of an asset reuses that asset, so importing the same
folder twice adds nothing. Files of the media folder that no row names go through the bulk
folder import and auto-linking by file name (folio.linking.autolink).

Assets are created through folio.assets.services.add_asset and links through
folio.linking.services.link, with their checks, history and audit entries.
"""

import hashlib
from pathlib import Path

from django.db.models import OuterRef, Subquery

from folio.assets import services as assets
from folio.assets.models import Asset, Blob
from folio.errors import Conflict, FolioError
from folio.imports.limits import limit
from folio.imports.sources import Source, media_path
from folio.linking import services as linking
from folio.linking.models import ROLES, Link

ASSET_REF = "asset:"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class MediaStore:
    """The assets of one import's files: checked, created or found once each."""

    def __init__(self, source: Source, *, user=None, dry_run: bool = False):
        self.source = source
        self.user = user
        self.dry_run = dry_run
        self.by_path: dict[Path, int] = {}
        self.named: set[Path] = set()  # files rows name (the rest of media/ is auto-linked)
        self.created = 0
        self.reused = 0
        self.linked = 0
        self._placeholder = 0

    def check(self, ref: str) -> Path | int:
        """The file (or existing asset id) a reference names; ValueError says why not."""
        ref = ref.strip()
        if ref.lower().startswith(ASSET_REF) or ref.isdigit():
            number = ref[len(ASSET_REF) :] if not ref.isdigit() else ref
            if not number.strip().isdigit():
                raise ValueError(f"{ref!r}: an asset reference is asset:<number>")
            asset_id = int(number)
            if not Asset.objects.filter(pk=asset_id).exists():
                raise ValueError(f"no asset {asset_id}")
            return asset_id
        path = media_path(self.source, ref)
        size = path.stat().st_size
        if size > limit("MAX_UPLOAD_BYTES"):
            raise ValueError(f"{ref} is {size:,} bytes, more than uploads may be")
        if size == 0:
            raise ValueError(f"{ref} is empty")
        if len(self.named) >= limit("MAX_MEDIA_FILES") and path not in self.named:
            raise ValueError(f"more than {limit('MAX_MEDIA_FILES'):,} media files in one import")
        self.named.add(path.resolve())
        return path

    def asset_for(self, ref: str) -> int:
        """The asset id for a reference, creating the asset on first use (dry run: a
        stand-in number, nothing stored)."""
        found = self.check(ref)
        if isinstance(found, int):
            return found
        key = found.resolve()
        if key in self.by_path:
            return self.by_path[key]
        if self.dry_run:
            self._placeholder -= 1
            self.by_path[key] = self._placeholder
            return self._placeholder
        asset_id = self._existing(_sha256(found))
        if asset_id is None:
            try:
                with open(found, "rb") as fh:
                    asset_id = assets.add_asset(
                        fh,
                        filename=found.name,
                        user=self.user,
                        max_bytes=limit("MAX_UPLOAD_BYTES"),
                    ).pk
                self.created += 1
            except Conflict as exc:
                duplicate = (exc.details or {}).get("duplicate_of")
                if duplicate is None:
                    raise
                asset_id = duplicate
                self.reused += 1
        else:
            self.reused += 1
        self.by_path[key] = asset_id
        return asset_id

    @staticmethod
    def _existing(sha256: str) -> int | None:
        first = (
            Asset.objects.filter(current_version__blob_id=OuterRef("pk"))
            .exclude(status=Asset.Status.ARCHIVED)
            .order_by("id")
            .values("id")
        )
        row = (
            Blob.objects.filter(sha256=sha256)
            .annotate(asset_id=Subquery(first[:1]))
            .values_list("asset_id", flat=True)
            .first()
        )
        return row

    def link(self, owner, asset_ids: list[int], role: str, locale: str = "") -> int:
        """Link the assets to the owner in this role, in this order, leaving links that are
        there already as they are (re-running an import links nothing twice)."""
        if self.dry_run or not asset_ids:
            return 0
        owner_q = (
            {"product": owner}
            if owner.__class__.__name__ == "Product"
            else {"product_model": owner}
        )
        have = set(
            Link.objects.filter(
                **owner_q, role=role, locale=locale, channel__isnull=True
            ).values_list("asset_id", flat=True)
        )
        made = 0
        for asset_id in asset_ids:
            if asset_id in have:
                continue
            linking.link(owner, asset_id, role, locale=locale, user=self.user, source="import")
            have.add(asset_id)
            made += 1
        self.linked += made
        return made

    def unnamed_files(self) -> list[Path]:
        """Files of the media folder that no row named: for auto-linking by file name."""
        folder = self.source.media_dir
        if folder is None:
            return []
        out = []
        for p in sorted(folder.rglob("*")):
            if p.name.startswith(".") or not p.is_file():
                continue
            if not p.resolve().is_relative_to(folder.resolve()):
                continue  # a link leading out of the folder
            if p.resolve() not in self.named:
                out.append(p)
            if len(out) > limit("MAX_MEDIA_FILES"):
                raise FolioError(
                    f"the media folder holds more than {limit('MAX_MEDIA_FILES'):,} files"
                )
        return out

    def add_folder(self, files: list[Path]) -> tuple[list[int], list[tuple[str, str]]]:
        """(asset ids, [(file, problem)]) for the unnamed media files."""
        ids, problems = [], []
        for path in files:
            rel = path.relative_to(self.source.media_dir).as_posix()
            try:
                ids.append(self.asset_for(str(path.relative_to(self.source.media_dir))))
            except (ValueError, FolioError, OSError) as exc:
                problems.append((rel, getattr(exc, "message", None) or str(exc)))
        return ids, problems


def role_for_attribute(attribute_code: str, image_attribute: str | None) -> str:
    """The link role of an asset-collection attribute's files: the family's image attribute
    shows the main image; an attribute named like a role (manual, swatch…) links in it."""
    if image_attribute and attribute_code == image_attribute:
        return "main"
    code = attribute_code.lower()
    return code if code in ROLES else "gallery"
