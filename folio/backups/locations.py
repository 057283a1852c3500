"""Where backups are kept: a folder, or a prefix in an S3-compatible bucket.

Each backup is a folder of its own (`<location>/<backup id>/`) holding manifest.json,
files.jsonl, the database snapshot and `media/<storage path>` for every stored file, so one
backup can be copied, moved or deleted without the others.

A backup is complete or absent. In a folder it is written as `.partial-<id>/` and renamed to
`<id>/` only once everything, manifest.json last, is written; a crash leaves only a
`.partial-…` folder, which no restore reads. S3 has no rename: there manifest.json is
written last, and a prefix without one is not a backup (and is deleted when the backup fails).
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from folio.errors import InvalidInput, NotFound
from folio.words import counted

CHUNK = 1024 * 1024
MANIFEST = "manifest.json"


def s3_client(endpoint_url: str | None = None):
    """A boto3 client with the S3 settings Folio's media storage and publications use."""
    import boto3

    media = settings.STORAGES.get("default", {}).get("OPTIONS", {})
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or settings.S3_ENDPOINT_URL or media.get("endpoint_url"),
        region_name=settings.S3_REGION or media.get("region_name"),
        aws_access_key_id=settings.S3_ACCESS_KEY or media.get("access_key"),
        aws_secret_access_key=settings.S3_SECRET_KEY or media.get("secret_key"),
    )


def split_s3(url: str, what: str) -> tuple[str, str]:
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise InvalidInput(f"{what} {url!r} needs a bucket name: s3://bucket/prefix")
    return bucket, prefix.strip("/")


class HashingReader:
    """A file wrapper that hashes what is read through it."""

    def __init__(self, f):
        self.f = f
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


def copy_hashing(src, out) -> tuple[str, int]:
    """Copy file object `src` to `out`; (sha256, size) of the bytes copied."""
    h = HashingReader(src)
    while chunk := h.read(CHUNK):
        out.write(chunk)
    return h.digest.hexdigest(), h.size


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Folder:
    """Backups in a local (or mounted) folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __str__(self):
        return str(self.root)

    def url(self, backup_id: str) -> str:
        return str(self.root / backup_id)

    # Listing and reading complete backups.
    def backups(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / MANIFEST).is_file()
        )

    def exists(self, backup_id: str, rel: str) -> bool:
        return (self.root / backup_id / rel).is_file()

    def open(self, backup_id: str, rel: str):
        return open(self.root / backup_id / rel, "rb")

    def local_copy(self, backup_id: str, rel: str, tmp: Path) -> Path:
        return self.root / backup_id / rel  # already local: read in place

    # Writing a new backup.
    def start(self, backup_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.root / backup_id).exists():
            raise InvalidInput(f"{self.root / backup_id} exists already")
        self._partial(backup_id).mkdir()

    def _partial(self, backup_id: str) -> Path:
        return self.root / f".partial-{backup_id}"

    def scratch_path(self, backup_id: str, rel: str) -> Path:
        """Where a file may be written directly (then `keep_scratch` it)."""
        path = self._partial(backup_id) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def keep_scratch(self, backup_id: str, rel: str, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)  # written in place; on disk before the rename
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, backup_id: str, rel: str, src) -> tuple[str, int]:
        path = self.scratch_path(backup_id, rel)
        with open(path, "wb") as out:
            found = copy_hashing(src, out)
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename makes the backup complete
        return found

    def reuse(self, backup_id: str, rel: str, previous: str, previous_rel: str) -> bool:
        """Take an unchanged file from an earlier backup: a hard link (no bytes copied, and
        each backup folder stays whole on its own). False if it cannot be linked."""
        source = self.root / previous / previous_rel
        target = self.scratch_path(backup_id, rel)
        try:
            os.link(source, target)
        except OSError:
            return False
        return True

    def finish(self, backup_id: str) -> None:
        partial = self._partial(backup_id)
        for path in (partial / MANIFEST, partial):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.rename(partial, self.root / backup_id)

    def abort(self, backup_id: str) -> None:
        shutil.rmtree(self._partial(backup_id), ignore_errors=True)


class Bucket:
    """Backups under a prefix of an S3-compatible bucket (FOLIO_S3_* settings)."""

    def __init__(self, url: str):
        self.bucket, self.prefix = split_s3(url, "backup location")
        self.client = s3_client()

    def __str__(self):
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def url(self, backup_id: str) -> str:
        return f"{self}/{backup_id}"

    def key(self, backup_id: str, rel: str = "") -> str:
        return "/".join(p for p in (self.prefix, backup_id, rel) if p)

    def backups(self) -> list[str]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        base = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(base) :].strip("/")
                if self.exists(name, MANIFEST):
                    found.append(name)
        return sorted(found)

    def exists(self, backup_id: str, rel: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(backup_id, rel))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def open(self, backup_id: str, rel: str):
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(backup_id, rel))["Body"]
        return body

    def local_copy(self, backup_id: str, rel: str, tmp: Path) -> Path:
        path = tmp / Path(rel).name
        self.client.download_file(self.bucket, self.key(backup_id, rel), str(path))
        return path

    def start(self, backup_id: str) -> None:
        if self.exists(backup_id, MANIFEST):
            raise InvalidInput(f"{self.url(backup_id)} exists already")
        Path(settings.UPLOAD_DIR).mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="folio-backup-", dir=settings.UPLOAD_DIR))

    def scratch_path(self, backup_id: str, rel: str) -> Path:
        return self._scratch / Path(rel).name

    def keep_scratch(self, backup_id: str, rel: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self.key(backup_id, rel))
        path.unlink()

    def put(self, backup_id: str, rel: str, src) -> tuple[str, int]:
        # Spooled to a local file first: the checksum is of the bytes read from the media
        # storage, and boto3's managed upload then handles large files in parts.
        path = self._scratch / "upload"
        with open(path, "wb") as out:
            sha, size = copy_hashing(src, out)
        self.keep_scratch(backup_id, rel, path)
        return sha, size

    def reuse(self, backup_id: str, rel: str, previous: str, previous_rel: str) -> bool:
        # A server-side copy: the bytes never leave the object store.
        self.client.copy(
            {"Bucket": self.bucket, "Key": self.key(previous, previous_rel)},
            self.bucket,
            self.key(backup_id, rel),
        )
        return True

    def finish(self, backup_id: str) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def abort(self, backup_id: str) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(backup_id) + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


def location(dest: str) -> Folder | Bucket:
    """Where to write backups: a folder or s3://bucket/prefix."""
    if not dest or not str(dest).strip():
        raise InvalidInput("give a folder or s3://bucket/prefix to back up to")
    return Bucket(dest) if str(dest).startswith("s3://") else Folder(dest)


def backup_at(src: str) -> tuple[Folder | Bucket, str]:
    """(location, backup id) of the backup at `src`: a backup folder or s3://…/<id>."""
    src = str(src).rstrip("/")
    if src.startswith("s3://"):
        bucket, prefix = split_s3(src, "backup")
        parent, _, backup_id = prefix.rpartition("/")
        place = Bucket(f"s3://{bucket}/{parent}")
    else:
        path = Path(src).expanduser().resolve()
        if not path.exists():
            raise NotFound(f"no backup at {path}: the folder does not exist")
        place, backup_id = Folder(path.parent), path.name
    if backup_id and place.exists(backup_id, MANIFEST):
        return place, backup_id
    # SRC may be the folder that holds backups: name them rather than guess which one.
    inner = location(src).backups()
    if inner:
        raise InvalidInput(
            f"{src} holds {counted(len(inner), 'backup')}, not one: give one of them, e.g. "
            f"{location(src).url(inner[-1])} (the newest)",
            details={"backups": inner},
        )
    raise NotFound(f"{src} is not a backup: it has no {MANIFEST} (an unfinished backup has none)")
