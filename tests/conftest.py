"""Shared pytest fixtures: the real test material and a throw-away library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata")).resolve()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared real test material (``../shared/testdata``); skips when absent."""
    if not (TESTDATA / "MANIFEST.md").exists():
        pytest.skip(f"shared test data not found at {TESTDATA}")
    return TESTDATA
