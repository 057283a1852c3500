"""What `folio import PATH` reads: one CSV/XLSX file, a folder of them, or a zip of a folder.

A folder (or zip) holds structure and product files named after what they contain
(locales.csv, attributes.csv, families.xlsx, product_models.csv, products.csv, …), loaded in
dependency order, and the media files that product rows name (in a media/ folder or beside
the files). A zip is unpacked into a private temporary folder first, entry by entry, refusing
anything that could land outside it: absolute paths, `..`, drive letters, backslashes,
symbolic links, devices; and bombs (too many entries, too many bytes, implausible ratios).
"""

import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from folio.errors import InvalidInput
from folio.imports.limits import limit
from folio.imports.readers import XLSX_SUFFIXES

# Dependency order: each kind only refers to kinds before it.
KINDS = (
    "locales",
    "currencies",
    "categories",
    "channels",
    "attribute_groups",
    "attributes",
    "attribute_options",
    "families",
    "family_variants",
    "association_types",
    "groups",
    "product_models",
    "products",
)
ALIASES = {
    "locales": ("locales", "locale"),
    "currencies": ("currencies", "currency"),
    "categories": ("categories", "category"),
    "channels": ("channels", "channel"),
    "attribute_groups": ("attribute_groups", "attributegroups", "attribute_group"),
    "attributes": ("attributes", "attribute"),
    "attribute_options": ("attribute_options", "attributeoptions", "options", "attribute_option"),
    "families": ("families", "family"),
    "family_variants": ("family_variants", "familyvariants", "family_variant"),
    "association_types": ("association_types", "associationtypes", "association_type"),
    "groups": ("product_groups", "groups", "group"),
    "product_models": ("product_models", "productmodels", "models", "product_model"),
    "products": ("products", "product"),
}
DATA_SUFFIXES = (".csv", ".tsv", *XLSX_SUFFIXES)
JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)|(^|/)\.")


def kind_of_name(name: str) -> str | None:
    """The kind a file or sheet name announces: the longest alias its name starts with
    ("product_models_2024.csv" → product_models, not products)."""
    stem = Path(name).stem.lower().replace("-", "_").replace(" ", "_")
    best, best_len = None, 0
    for kind, aliases in ALIASES.items():
        for alias in aliases:
            fits = stem == alias or (stem.startswith(alias) and not stem[len(alias)].isalpha())
            if fits and len(alias) > best_len:
                best, best_len = kind, len(alias)
    return best


@dataclass
class Entry:
    path: Path
    name: str  # relative to the import, with / separators
    kind: str | None


@dataclass
class Source:
    name: str  # what the user named
    root: Path  # media references resolve inside this folder
    entries: list[Entry]
    media_dir: Path | None = None
    unknown: list[str] = field(default_factory=list)  # files that are neither data nor media
    temporary: Path | None = None

    def cleanup(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None

    def ordered(self) -> list[Entry]:
        order = {k: i for i, k in enumerate(KINDS)}
        return sorted(self.entries, key=lambda e: (order.get(e.kind, len(KINDS)), e.name))


def refuse(message: str, **details) -> InvalidInput:
    return InvalidInput(message, details={"reason": message, **details}, code="refused")


def open_source(path: Path | str, *, media_dir: Path | str | None = None, name: str = "") -> Source:
    path = Path(path)
    shown = name or str(path)
    if not path.exists():
        raise refuse(f"no such file or folder: {shown}")
    if path.is_dir():
        source = _folder(path, shown)
    elif path.suffix.lower() == ".zip":
        source = _zip(path, shown)
    else:
        source = Source(
            name=shown,
            root=path.parent,
            entries=[Entry(path, name or path.name, kind_of_name(name or path.name))],
        )
    if media_dir is not None:
        media = Path(media_dir)
        if not media.is_dir():
            source.cleanup()
            raise refuse(f"--media-dir {media_dir}: no such folder")
        source.media_dir = media.resolve()
    return source


def _folder(root: Path, shown: str, temporary: Path | None = None) -> Source:
    root = root.resolve()
    entries, unknown = [], []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise refuse(f"{p.name} is a link to a file outside the import; refused", file=p.name)
        if p.suffix.lower() in DATA_SUFFIXES:
            entries.append(Entry(p, p.name, kind_of_name(p.name)))
        else:
            unknown.append(p.name)
    if len(entries) > limit("MAX_FILES"):
        raise refuse(f"{shown} holds {len(entries)} files; at most {limit('MAX_FILES')} are read")
    media = root / "media"
    if not entries and not media.is_dir() and unknown:
        # A folder of media files alone: the bulk folder import with auto-linking.
        media, unknown = root, []
    return Source(
        name=shown,
        root=root,
        entries=entries,
        media_dir=media if media.is_dir() else None,
        unknown=unknown,
        temporary=temporary,
    )


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_entry_name(name: str) -> PurePosixPath:
    why = None
    if "\x00" in name:
        why = "a NUL character in its name"
    elif name.startswith(("/", "\\")):
        why = "an absolute path"
    elif _DRIVE.match(name):
        why = "a drive letter"
    elif "\\" in name:
        why = "a backslash in its path"
    else:
        parts = PurePosixPath(name).parts
        if any(p == ".." for p in parts):
            why = "'..' in its path (it would land outside the import)"
    if why:
        raise refuse(f"the zip entry {name!r} has {why}; the zip is refused", entry=name)
    return PurePosixPath(name)


def _zip(path: Path, shown: str) -> Source:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise refuse(f"{shown} is not a zip file") from None
    temporary = Path(tempfile.mkdtemp(prefix="folio-import-"))
    dest = temporary / "unpacked"
    dest.mkdir()
    try:
        with archive:
            infos = archive.infolist()
            if len(infos) > limit("MAX_ZIP_ENTRIES"):
                raise refuse(
                    f"{shown} has {len(infos):,} entries; at most "
                    f"{limit('MAX_ZIP_ENTRIES'):,} are unpacked"
                )
            total, budget = 0, limit("MAX_UNPACKED_BYTES")
            ratio = limit("MAX_COMPRESSION_RATIO")
            for info in infos:
                rel = _check_entry_name(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise refuse(
                        f"the zip entry {info.filename!r} is a symbolic link; the zip is refused",
                        entry=info.filename,
                    )
                if JUNK.search(info.filename.rstrip("/")):
                    continue
                target = dest.joinpath(*rel.parts)
                if not target.resolve().is_relative_to(dest.resolve()):
                    raise refuse(f"the zip entry {info.filename!r} points outside the import")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                    raise refuse(
                        f"the zip entry {info.filename!r} is not a regular file; refused",
                        entry=info.filename,
                    )
                if info.file_size > 1 << 20 and info.file_size > ratio * max(info.compress_size, 1):
                    raise refuse(
                        f"the zip entry {info.filename!r} unpacks {info.file_size:,} bytes from "
                        f"{info.compress_size:,}: refused as a zip bomb",
                        entry=info.filename,
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with archive.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        total += len(chunk)
                        if written > info.file_size:
                            raise refuse(
                                f"the zip entry {info.filename!r} is larger than it declares",
                                entry=info.filename,
                            )
                        if total > budget:
                            raise refuse(f"{shown} unpacks to more than {budget:,} bytes")
                        out.write(chunk)
        root = dest
        children = [p for p in dest.iterdir() if not p.name.startswith(".")]
        # A zip of a folder holds that one folder: its content is the import.
        if len(children) == 1 and children[0].is_dir():
            root = children[0]
        return _folder(root, shown, temporary=temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def media_path(source: Source, reference: str) -> Path:
    """The file a media cell names, inside the import (or the --media-dir); refuses anything
    that would leave them."""
    ref = reference.strip().replace("\\", "/")
    if not ref:
        raise ValueError("an empty file name")
    if ref.startswith("/") or _DRIVE.match(ref) or "\x00" in ref:
        raise ValueError(f"{reference!r} is an absolute path; name a file inside the import")
    parts = PurePosixPath(ref).parts
    if ".." in parts:
        raise ValueError(f"{reference!r} leaves the import ('..'); name a file inside it")
    roots = [r for r in (source.root, source.media_dir) if r is not None]
    if source.media_dir is not None and parts and parts[0] != "media":
        roots.insert(0, source.media_dir)
    for base in roots:
        candidate = base.joinpath(*parts)
        if candidate.is_file():
            # A link inside a folder import may point anywhere on the disk: follow it only
            # when it stays inside.
            if not candidate.resolve().is_relative_to(base.resolve()):
                raise ValueError(f"{reference!r} points outside the import; refused")
            return candidate
    raise ValueError(f"no file {reference!r} in the import")
