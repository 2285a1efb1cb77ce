"""Fixtures of the search suite: a small real-data library and every backend.

Backends: ``sqlite`` (a temporary file), ``opensearch`` (a private
osmem-server, the in-memory OpenSearch-compatible server from PyPI, started
once per session on 127.0.0.1 and stopped afterwards) and
``opensearch-real`` (the cluster at ``OPENSEARCH_URL``; skipped when the
variable is unset). A real cluster may need ``OPENSEARCH_USERNAME``,
``OPENSEARCH_PASSWORD``, ``OPENSEARCH_CA_CERTS`` and
``OPENSEARCH_VERIFY_CERTS=0``, or ``OPENSEARCH_AWS_REGION`` (and
``OPENSEARCH_AWS_SERVICE``, default ``es``) for SigV4 with boto3's
credentials; test indices are named ``mediaapp-test-*`` and deleted
afterwards.
"""

from __future__ import annotations

import pytest
from search_support import BACKENDS, build_library, dispose, indexed_backend, open_backend

from mediaapp.core.types import IndexDocument


@pytest.fixture(scope="session")
def library(testdata) -> list[IndexDocument]:
    """The conformance library (needs the shared test data)."""
    return build_library(testdata)


@pytest.fixture(params=BACKENDS)
def empty_index(request, tmp_path):
    """A fresh empty index of each backend, removed after the test."""
    index = open_backend(request.param, request, tmp_path)
    yield index
    dispose(index)


@pytest.fixture(scope="module", params=BACKENDS)
def library_index(request, tmp_path_factory, library):
    """Each backend with the conformance library indexed (shared by a module's read-only tests)."""
    index = indexed_backend(request.param, request, tmp_path_factory.mktemp("search"), library)
    yield index
    dispose(index)
