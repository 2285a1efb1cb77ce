"""Fixtures for the ingest tests: the 5_formats folder and its published checksums.

See ingest_cases.py for the expectations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def formats_dir(testdata: Path) -> Path:
    """``testdata/5_formats``."""
    return testdata / "5_formats"


@pytest.fixture(scope="session")
def manifest_sha256(testdata: Path) -> dict[str, str]:
    """sha256 of every test file, keyed by path relative to ``5_formats``, from manifest.json."""
    entries = json.loads((testdata / "manifest.json").read_text())
    prefix = "5_formats/"
    return {e["local"][len(prefix):]: e["sha256"] for e in entries if e["local"].startswith(prefix)}
