"""Fixtures of the cloud tests: a moto server on 127.0.0.1, fake credentials, clean client caches.

Nothing here ever reaches real AWS: every client gets ``endpoint_url`` of the
local moto server, or is a ``Stubber``-wrapped client that never sends.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch, tmp_path):
    """Fake credentials and no shared config/metadata lookups; reset the client and engine caches."""
    from mediaapp.analysis import registry
    from mediaapp.cloud import clients

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.set_client_factory(None)
    registry.clear_engines()
    yield
    clients.set_client_factory(None)
    registry.clear_engines()  # also closes each engine's usage ledger


@pytest.fixture(scope="session")
def moto_server():
    """A moto server (real HTTP) on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_server, request):
    """A fresh bucket on the moto server; yields (endpoint_url, bucket name, boto3 s3 client)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    name = "mediaapp-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3.create_bucket(Bucket=name)
    yield moto_server, name, s3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    for key in keys:
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def rekognition_samples(testdata) -> Path:
    """``4_rekognition`` of the shared test data."""
    return testdata / "4_rekognition"


def load_sample(testdata: Path, rel: str) -> dict:
    """One real Rekognition sample response (JSON) from ``4_rekognition``."""
    return json.loads((testdata / "4_rekognition" / rel).read_text(encoding="utf-8"))
