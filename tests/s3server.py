"""A real S3-compatible server for tests: SeaweedFS (the `weed` binary in .venv/bin) on
loopback, and a fixture that makes it the media storage the way folio/settings.py configures
FOLIO_MEDIA=s3://bucket/prefix.

Use it by importing the fixtures into a test module:
    from tests.s3server import s3_media, seaweed  # noqa: F401 - fixtures
`seaweed` yields (endpoint URL, boto3 client) with the bucket BUCKET created; ACCESS and
SECRET are its credentials.
"""

import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage, storages
from django.test import override_settings
from django.utils.functional import empty

WEED = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "weed"
ACCESS, SECRET, BUCKET = "folio-test", "folio-test-secret-key", "folio-media"


def _free_ports(count: int) -> list[int]:
    """`count` free ports whose +10000 (SeaweedFS's gRPC port for each) are free too, and no
    port of the set is another's gRPC port: chosen one at a time, the filer once drew the
    master's gRPC port and SeaweedFS died with "address already in use"."""
    taken: set[int] = set()
    ports: list[int] = []
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or {port, port + 10000} & taken:
            continue
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port + 10000))
            ports.append(port)
            taken |= {port, port + 10000}
            if len(ports) == count:
                return ports
    pytest.fail(f"no {count} free port pairs for SeaweedFS")


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    if not WEED.exists() and not shutil.which("weed"):
        pytest.skip("SEAWEEDFS BINARY MISSING: S3 storage is NOT tested (pip install seaweedfs)")

    folder = tmp_path_factory.mktemp("seaweed")
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "folio",
                        "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # Ports are free when chosen, yet another process (a parallel test worker) may bind one
    # before SeaweedFS does: start again on fresh ports then, a few times, and fail loudly.
    for attempt in range(1, 4):
        data = folder / f"run-{attempt}"
        data.mkdir()
        server = _Server(data, config)
        try:
            ready = server.wait_ready()
        except BaseException:
            server.stop()
            raise
        if ready:
            break
        server.stop()
        if attempt == 3 or "address already in use" not in server.log_tail():
            pytest.fail(f"SeaweedFS exited: {server.log_tail()}")
    try:
        yield server.endpoint, server.client
    finally:
        server.stop()


class _Server:
    """One `weed server` (master, volume, filer and S3 gateway) on loopback ports."""

    def __init__(self, folder: Path, config: Path):
        import boto3

        master, volume, filer, s3 = _free_ports(4)
        self.log_path = folder / "weed.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        try:
            self.proc = subprocess.Popen(
                [
                    str(WEED if WEED.exists() else shutil.which("weed")),
                    "server",
                    f"-dir={folder}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-master.port={master}",
                    f"-volume.port={volume}",
                    "-filer",
                    f"-filer.port={filer}",
                    "-s3",
                    f"-s3.port={s3}",
                    f"-s3.config={config}",
                    # Off: their fixed default ports would clash between parallel test workers.
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    "-volume.max=5",
                    "-master.volumeSizeLimitMB=64",
                ],
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            self.log.close()
            raise
        self.endpoint = f"http://127.0.0.1:{s3}"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )

    def wait_ready(self) -> bool:
        """True once the bucket is made and written to; False if SeaweedFS exited."""
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                return False
            try:
                self.client.create_bucket(Bucket=BUCKET)
                self.client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                return True
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS did not become ready within 60 s: {self.log_tail()}")
                time.sleep(0.5)

    def log_tail(self) -> str:
        return self.log_path.read_text()[-2000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=2)  # a throw-away folder: no need to wait for a clean stop
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def s3_media(seaweed, settings, tmp_path):
    endpoint, client = seaweed
    settings.UPLOAD_DIR = tmp_path / "uploads"
    options = {
        "bucket_name": BUCKET,
        "location": "assets-test",
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "access_key": ACCESS,
        "secret_key": SECRET,
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 300,
        "file_overwrite": True,
    }
    stores = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    # The storage handler caches backends, and default_storage the default one: reset both
    # so S3 is really used inside, and the folder storage again afterwards.
    with override_settings(STORAGES=stores):
        reset_storages()
        assert type(storages["default"]).__name__ == "S3Storage"
        yield client
    reset_storages()


def reset_storages() -> None:
    storages._backends = None
    storages._storages = {}
    default_storage._wrapped = empty
