"""Fixtures shared by the Rekognition face-collection tests in ``tests/compare``."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def aws(rekognition_stubber):
    """The Rekognition ``Stubber`` every engine's client answers through (``tests/conftest.py``)."""
    return rekognition_stubber


@pytest.fixture
def root(tmp_path):
    """A library folder using the rekognition engine (photos sent as bytes, one worker, no rate limit)."""
    lib = tmp_path / "team-lib"
    lib.mkdir()
    (lib / "settings.json").write_text(json.dumps({
        "workers": 1, "engines": ["rekognition"],
        "engine_config": {"rekognition": {"upload": "none", "tps": 1000, "max_concurrency": 1}}}))
    return lib
