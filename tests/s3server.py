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


def _free_port() -> int:
    """A port that is free, and whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port + 10000))
            return port
    pytest.fail("no free port pair for SeaweedFS")


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    if not WEED.exists() and not shutil.which("weed"):
        pytest.skip("SEAWEEDFS BINARY MISSING: S3 storage is NOT tested (pip install seaweedfs)")
    import boto3

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
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3")}
    log = open(folder / "weed.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(WEED if WEED.exists() else shutil.which("weed")),
            "server",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            "-filer",
            f"-filer.port={ports['filer']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.config={config}",
            # Off: their fixed default ports would clash between parallel test workers.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.max=5",
            "-master.volumeSizeLimitMB=64",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"SeaweedFS exited: {(folder / 'weed.log').read_text()[-2000:]}")
            try:
                client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail("SeaweedFS did not become ready within 60 s")
                time.sleep(0.5)
        yield endpoint, client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=2)  # a throw-away folder: no need to wait for a clean stop
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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
