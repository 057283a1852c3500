"""Where a publication's files go, switched in at once.

Every run builds its release in a staging folder on this machine (the feed files, and the
images under images/<file name>), then the destination switches it in:

- folder (the default, under FOLIO_PUBLICATIONS_DIR/<channel>/<feed>/, or `path`):
  the staging folder is renamed to releases/<publication id>/ and the `current` symlink is
  replaced by one pointing at it in one rename(2). A reader that opens current/… sees the
  old release or the new one, never a mix; the last FOLIO_PUBLICATIONS_KEEP releases stay
  for rollback.
- s3 (`bucket`, `prefix`; endpoint and credentials from the FOLIO_S3_* settings; the default
  when FOLIO_MEDIA is s3://…, under <media prefix>/publications/<channel>/<feed>/): the feed
  files are uploaded under prefix/releases/<id>/, changed images under prefix/images/
  (their addresses are what the feeds name, so they stay put), and prefix/current.json —
  which names the release — is written last. After a crash, recovery puts current.json back
  to the last recorded release and deletes the dead run's objects.
- http (`url`, optional `headers`): each feed file is POSTed with its Content-Type; anything
  but a 2xx answer fails the publication with what the server said.

Image bytes come from the media storage through a content-addressed cache next to the
releases (.cache/images/<sha256>), and are hard-linked into each release, so an unchanged
image is copied from the media storage once, not on every run.
"""

import contextlib
import errno
import json
import mimetypes
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from folio import faults

TYPES = {
    ".xml": "application/xml",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
}


class DestinationError(Exception):
    """A destination refused or failed to take the files (the message says which, where)."""


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def feed_folder(feed) -> Path:
    return Path(settings.PUBLICATIONS_DIR) / feed.channel.code / feed.code


@dataclass
class Switched:
    """What a switch did: where the files are now, and how to put the previous release back
    (when recording the publication fails afterwards)."""

    location: str
    previous: str | None = None
    undo_data: dict = field(default_factory=dict)


class Destination:
    kind = ""
    takes_images = True  # the release carries image files

    def __init__(self, feed, config: dict):
        self.feed, self.config = feed, config
        self.local = feed_folder(feed)

    def stage(self, publication_id: int) -> Path:
        """A fresh, empty folder to build the release in."""
        staged = self.local / "builds" / str(publication_id)
        if staged.exists():
            shutil.rmtree(staged)
        staged.mkdir(parents=True)
        return staged

    def image_cache(self) -> Path:
        return self.local / ".cache" / "images"

    def switch(self, staged: Path, publication, images: dict[str, str]) -> Switched:
        raise NotImplementedError

    def undo(self, switched: Switched) -> None:
        """Put the release that was current before `switched` back."""

    def finish(self, switched: Switched) -> None:
        """After the publication is recorded: drop what is no longer kept."""

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def recover(self, publication, last_done) -> None:
        """The process running `publication` was killed (it is not recorded, and never will
        be): remove what it built, and if it had switched its release in already, put back
        the release of `last_done` (the last recorded publication, or None)."""
        self.discard(self.local / "builds" / str(publication.pk))


# --- folder ----------------------------------------------------------------------------------


class FolderDestination(Destination):
    kind = "folder"

    def __init__(self, feed, config: dict):
        super().__init__(feed, config)
        if config.get("path"):
            self.local = Path(config["path"]).expanduser().resolve()
        self.releases = self.local / "releases"
        self.current = self.local / "current"

    def stage(self, publication_id: int) -> Path:
        # A hidden name beside the releases: the rename into place is then within one folder
        # (one filesystem), and nobody takes a half-built release for a real one.
        staged = self.releases / f".building-{publication_id}"
        if staged.exists():
            shutil.rmtree(staged)
        staged.mkdir(parents=True)
        return staged

    def switch(self, staged: Path, publication, images: dict[str, str]) -> Switched:
        final = self.releases / str(publication.pk)
        if final.exists():
            shutil.rmtree(final)
        os.rename(staged, final)
        previous = os.readlink(self.current) if self.current.is_symlink() else None
        self._point(f"releases/{publication.pk}", publication.pk)
        return Switched(location=str(final), previous=previous)

    def _point(self, target: str, tag) -> None:
        """Replace `current` by a symlink to `target` in one rename: atomic for readers."""
        link = self.local / f".current-{tag}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(target, link)
        os.replace(link, self.current)
        _sync_dir(self.local)

    def undo(self, switched: Switched) -> None:
        if switched.previous:
            self._point(switched.previous, "undo")
        else:
            with contextlib.suppress(FileNotFoundError):
                self.current.unlink()

    def recover(self, publication, last_done) -> None:
        self.discard(self.releases / f".building-{publication.pk}")
        live = os.readlink(self.current) if self.current.is_symlink() else None
        mine = f"releases/{publication.pk}"
        if live == mine:
            if last_done is not None and (self.releases / str(last_done.pk)).is_dir():
                self._point(f"releases/{last_done.pk}", "recover")
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.current.unlink()
                _sync_dir(self.local)
        with contextlib.suppress(FileNotFoundError):
            (self.local / f".current-{publication.pk}").unlink()
        self.discard(self.releases / str(publication.pk))

    def finish(self, switched: Switched) -> None:
        keep = max(1, int(settings.PUBLICATIONS_KEEP))
        live = os.readlink(self.current) if self.current.is_symlink() else ""
        releases = sorted(
            (p for p in self.releases.iterdir() if p.is_dir() and p.name.isdigit()),
            key=lambda p: int(p.name),
        )
        for old in releases[:-keep]:
            if f"releases/{old.name}" != live:
                shutil.rmtree(old, ignore_errors=True)
        for left in self.releases.glob(".building-*"):  # of runs that died mid-way
            shutil.rmtree(left, ignore_errors=True)
        _prune_cache(self.image_cache())


def _sync_dir(path: Path) -> None:
    # The rename is atomic for readers either way; fsync makes it survive a power cut too.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prune_cache(cache: Path) -> None:
    """Cached images no release links to any more (link count 1: the cache's own)."""
    if not cache.is_dir():
        return
    for sub in cache.iterdir():
        for entry in os.scandir(sub):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_nlink <= 1:
                    os.unlink(entry.path)


# --- s3 -------------------------------------------------------------------------------------


class S3Destination(Destination):
    kind = "s3"

    def __init__(self, feed, config: dict):
        super().__init__(feed, config)
        self.bucket = config["bucket"]
        self.prefix = (config.get("prefix") or "").strip("/")

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def client(self):
        import boto3

        media = settings.STORAGES.get("default", {}).get("OPTIONS", {})
        return boto3.client(
            "s3",
            endpoint_url=self.config.get("endpoint_url")
            or settings.S3_ENDPOINT_URL
            or media.get("endpoint_url"),
            region_name=self.config.get("region") or settings.S3_REGION or media.get("region_name"),
            aws_access_key_id=settings.S3_ACCESS_KEY or media.get("access_key"),
            aws_secret_access_key=settings.S3_SECRET_KEY or media.get("secret_key"),
        )

    def switch(self, staged: Path, publication, images: dict[str, str]) -> Switched:
        client = self.client()
        try:
            previous = self._read(client, self.key("current.json"))
            self._upload_images(client, staged / "images", images)
            release = self.key("releases", str(publication.pk))
            names = []
            for path in sorted(staged.rglob("*")):
                rel = path.relative_to(staged).as_posix()
                if path.is_file() and not rel.startswith("images/"):
                    self._put(client, f"{release}/{rel}", path.read_bytes(), content_type(rel))
                    names.append(rel)
                    faults.point("publish.release_file_uploaded")  # crash tests: half a release
            pointer = {
                "publication": publication.pk,
                "release": f"releases/{publication.pk}/",
                "files": names,
            }
            self._put(
                client, self.key("current.json"), json.dumps(pointer).encode(), "application/json"
            )
        except DestinationError:
            raise
        except Exception as exc:
            raise DestinationError(f"s3://{self.bucket}/{self.prefix}: {exc}") from exc
        shutil.rmtree(staged, ignore_errors=True)
        return Switched(location=f"s3://{self.bucket}/{release}/", undo_data={"current": previous})

    def _upload_images(self, client, folder: Path, images: dict[str, str]) -> None:
        """Images whose bytes the bucket does not hold under that name yet; the manifest
        (images/manifest.json, name → sha256) is what the bucket holds."""
        manifest_key = self.key("images", "manifest.json")
        held = json.loads(self._read(client, manifest_key) or b"{}")
        changed = {n: sha for n, sha in images.items() if held.get(n) != sha}
        for name in sorted(changed):
            self._put(
                client, self.key("images", name), (folder / name).read_bytes(), content_type(name)
            )
        if changed:
            held.update(changed)
            self._put(
                client, manifest_key, json.dumps(held, sort_keys=True).encode(), "application/json"
            )

    def _read(self, client, key: str) -> bytes | None:
        try:
            return client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None

    def _put(self, client, key: str, body: bytes, ctype: str) -> None:
        client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=ctype)

    def undo(self, switched: Switched) -> None:
        client = self.client()
        previous = switched.undo_data.get("current")
        if previous is None:
            client.delete_object(Bucket=self.bucket, Key=self.key("current.json"))
        else:
            self._put(client, self.key("current.json"), previous, "application/json")

    def recover(self, publication, last_done) -> None:
        """Objects are uploaded one by one, so a run killed mid-way leaves part of its release
        under releases/<id>/, and one killed after writing current.json leaves it naming a
        release the database never recorded. Put current.json back to name the last recorded
        release (rebuilt from its objects: the bytes it had are gone), or remove it when there
        is none, then delete every object of the dead release. Images keep their names across
        releases and stay (the next run sends only those the manifest does not hold)."""
        super().recover(publication, last_done)
        client = self.client()
        pointer_key = self.key("current.json")
        current = json.loads(self._read(client, pointer_key) or b"{}")
        if current.get("publication") == publication.pk:
            names = self._release_names(client, last_done.pk) if last_done is not None else []
            if names:
                pointer = {
                    "publication": last_done.pk,
                    "release": f"releases/{last_done.pk}/",
                    "files": names,
                }
                self._put(client, pointer_key, json.dumps(pointer).encode(), "application/json")
            else:
                client.delete_object(Bucket=self.bucket, Key=pointer_key)
        self._delete_release(client, publication.pk)

    def _release_keys(self, client, release: int) -> list[str]:
        prefix = self.key("releases", str(release)) + "/"
        return [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for obj in page.get("Contents", [])
        ]

    def _release_names(self, client, release: int) -> list[str]:
        prefix = self.key("releases", str(release)) + "/"
        return sorted(k[len(prefix) :] for k in self._release_keys(client, release))

    def _delete_release(self, client, release: int, keys: list[str] | None = None) -> None:
        keys = self._release_keys(client, release) if keys is None else keys
        for start in range(0, len(keys), 1000):
            client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]},
            )

    def finish(self, switched: Switched) -> None:
        """Releases beyond FOLIO_PUBLICATIONS_KEEP, oldest first (never the current one), and
        what failed runs left (a run killed mid-upload whose recovery did not get to it)."""
        from folio.publishing.models import Publication

        client = self.client()
        keep = max(1, int(settings.PUBLICATIONS_KEEP))
        prefix = self.key("releases") + "/"
        keys: dict[int, list[str]] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                release = obj["Key"][len(prefix) :].split("/", 1)[0]
                if release.isdigit():
                    keys.setdefault(int(release), []).append(obj["Key"])
        current = json.loads(self._read(client, self.key("current.json")) or b"{}")
        feed_id = getattr(self.feed, "pk", None)
        failed = set(
            Publication.objects.filter(
                pk__in=list(keys), feed_id=feed_id, status=Publication.Status.FAILED
            ).values_list("pk", flat=True)
            if feed_id is not None and keys
            else ()
        )
        done = [r for r in sorted(keys) if r not in failed]
        for release in sorted(failed | set(done[:-keep])):
            if release == current.get("publication"):
                continue
            self._delete_release(client, release, keys[release])


# --- http -----------------------------------------------------------------------------------


class HttpDestination(Destination):
    kind = "http"

    def __init__(self, feed, config: dict):
        super().__init__(feed, config)
        self.url = config["url"]
        self.takes_images = bool(config.get("images"))

    def switch(self, staged: Path, publication, images: dict[str, str]) -> Switched:
        import urllib3

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=float(self.config.get("timeout", 120))),
            retries=False,
        )
        try:
            for path in sorted(p for p in staged.rglob("*") if p.is_file()):
                name = path.relative_to(staged).as_posix()
                self._post(http, name, path.read_bytes(), publication)
        finally:
            http.clear()
            shutil.rmtree(staged, ignore_errors=True)
        return Switched(location=self.url)

    def _post(self, http, name: str, body: bytes, publication) -> None:
        import urllib3

        headers = {
            **{str(k): str(v) for k, v in (self.config.get("headers") or {}).items()},
            "Content-Type": content_type(name),
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Folio-Publication": str(publication.pk),
            "X-Folio-Feed": f"{self.feed.channel.code}/{self.feed.code}",
        }
        try:
            answer = http.request("POST", self.url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise DestinationError(f"POST {name} to {self.url} failed: {exc}") from exc
        if not 200 <= answer.status < 300:
            text = answer.data[:300].decode("utf-8", "replace").strip()
            raise DestinationError(
                f"POST {name} to {self.url} answered {answer.status}"
                + (f": {text}" if text else "")
            )


KINDS = {"folder": FolderDestination, "s3": S3Destination, "http": HttpDestination}


def media_bucket() -> tuple[str, str] | None:
    """(bucket, prefix) of the media storage when it is S3-compatible object storage."""
    default = settings.STORAGES.get("default", {})
    if not default.get("BACKEND", "").startswith("storages.backends.s3"):
        return None
    options = default.get("OPTIONS", {})
    return options["bucket_name"], (options.get("location") or "").strip("/")


def effective_config(feed) -> dict:
    """The feed's destination as a run will use it (its own, or the default)."""
    config = dict(feed.destination or {})
    if not config.get("kind") and not config.get("path") and media_bucket():
        # Scaled out, any worker on any machine runs a publication: a folder on that machine
        # would scatter releases, so a feed without a destination of its own goes to the
        # media bucket, beside the originals and renditions.
        bucket, prefix = media_bucket()
        config = {
            "kind": "s3",
            "bucket": bucket,
            "prefix": "/".join(
                p for p in (prefix, "publications", feed.channel.code, feed.code) if p
            ),
            **{k: v for k, v in config.items() if k == "public_base_url"},
        }
    return config


def for_feed(feed) -> Destination:
    config = effective_config(feed)
    kind = config.get("kind") or "folder"
    if kind not in KINDS:
        raise DestinationError(f"unknown destination kind {kind!r}")
    return KINDS[kind](feed, config)


# --- images ---------------------------------------------------------------------------------


def place_images(cache: Path, folder: Path, images: dict[str, tuple[str, str]]) -> int:
    """Put each image ({file name: (sha256, storage name)}) into `folder`, hard-linked from
    the content-addressed cache (filled from the media storage when it lacks the bytes).
    Returns how many were fetched from the media storage."""
    folder.mkdir(parents=True, exist_ok=True)
    cache_dir, out_dir = str(cache), str(folder)
    fetched = 0
    for name, (sha, storage_name) in images.items():
        cached = os.path.join(cache_dir, sha[:2], sha)
        target = os.path.join(out_dir, name)
        try:
            os.link(cached, target)
            continue
        except FileNotFoundError:
            if os.path.exists(cached):
                raise
            _fetch(storage_name, Path(cached))
            fetched += 1
        except OSError as exc:
            if exc.errno != errno.EMLINK:  # another filesystem, or no hard links: copy
                shutil.copyfile(cached, target)
                continue
        _link_somehow(cached, target)
    return fetched


def _link_somehow(cached: str, target: str) -> None:
    """Link `target` to the cached bytes; when one file has all the links a filesystem
    allows (the same bytes under very many names, a placeholder image), to a numbered
    copy of it (made once, never rewritten: old releases may link to it)."""
    for n in range(100):
        source = cached if n == 0 else f"{cached}.{n}"
        if not os.path.exists(source):
            partial = f"{source}.{os.getpid()}.part"
            shutil.copyfile(cached, partial)
            os.replace(partial, source)
        try:
            os.link(source, target)
            return
        except OSError as exc:
            if exc.errno != errno.EMLINK:
                raise
    shutil.copyfile(cached, target)


def _fetch(storage_name: str, cached: Path) -> None:
    from django.core.files.storage import default_storage

    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    with default_storage.open(storage_name, "rb") as src, open(partial, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    os.replace(partial, cached)
