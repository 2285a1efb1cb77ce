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
def fake_aws(fake_aws):
    """Every cloud test runs under the suite's ``fake_aws`` (``tests/conftest.py``)."""
    return fake_aws


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
