"""Helpers of the search suite (a uniquely named module, so test files import them unambiguously).

See ``conftest.py`` for the backends and the environment variables of a real cluster.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from mediaapp.core.apis import flatten
from mediaapp.core.responses import detected_lines
from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind, IndexDocument

BACKENDS = ("sqlite", "opensearch", "opensearch-real")
REAL_URL = os.environ.get("OPENSEARCH_URL", "")
REAL_SKIP = "OPENSEARCH_URL is not set: the conformance suite against a real OpenSearch cluster is skipped"
# (tests/conftest.py prints whether the real-cluster run happens in the report header of any run)


def sha(i: int) -> str:
    """The fake sha256 of library asset ``i`` (``0101...`` for 1): sorts by ``i``."""
    return f"{i:02x}" * 32


def _rek(testdata: Path, api: str, rel: str) -> tuple[list[Detection], dict]:
    response = json.loads((testdata / "4_rekognition" / rel).read_text())
    return flatten(api, response, "rekognition"), response


#: File sizes of the library's assets (bytes): not in sha256 order, and 3 and 5 tie (the size order's tie-break).
SIZES = {1: 5_000_000, 2: 2_048, 3: 300_000, 4: 12, 5: 300_000, 6: 70_000_000, 7: 512, 8: 2_049}


def _doc(i: int, paths: list[str], taken: str | None, dets: list[Detection], text: str = "") -> IndexDocument:
    asset = Asset(sha(i), SIZES[i], "jpeg", 640, 480, paths, taken, "Canon", f"Model {i}")
    folders = sorted({p.rsplit("/", 1)[0] for p in paths})
    return IndexDocument(asset, dets, folders, text)


def build_library(testdata: Path) -> list[IndexDocument]:
    """Eight assets, partly from real Rekognition responses (see the test module for the facts)."""
    street_labels, _ = _rek(testdata, "DetectLabels", "awscli/detect-labels.json")
    street_text, street_resp = _rek(testdata, "DetectText", "awscli/detect-text.json")
    monday_text, monday_resp = _rek(testdata, "DetectText", "moto_canned/DetectText.json")
    phone_labels, _ = _rek(testdata, "DetectLabels", "moto_canned/DetectLabels.json")
    celebs, _ = _rek(testdata, "RecognizeCelebrities", "awscli/recognize-celebrities.json")
    people, _ = _rek(testdata, "DetectLabels", "botocore_examples/DetectLabels.json")
    redford, _ = _rek(testdata, "RecognizeCelebrities", "asyncaws_tests/RecognizeCelebrities.json")
    animal = ("Animal", "Pet", "Mammal")
    box = BoundingBox(0.1, 0.1, 0.3, 0.3)
    L = DetectionKind.LABEL
    return [
        _doc(1, ["/lib/city/street.jpg"], "2021-06-01T10:00:00", street_labels + street_text,
             "\n".join(detected_lines(street_resp))),
        _doc(2, ["/lib/cityscape/monday.png"], None, monday_text + phone_labels,
             "\n".join(detected_lines(monday_resp))),
        _doc(3, ["/lib/pets/dog.jpg", "/archive/dog copy.jpg"], "2020-01-02T03:04:05",
             [Detection(L, "Dog", 95.0, None, animal), Detection(L, "Dog", 40.0, box, animal),
              Detection(DetectionKind.TEXT, "Hello, Google!", 97.0, box, text_type="LINE")],
             "Hello, Google!"),
        _doc(4, ["/lib/pets/cat.jpg"], "2020-12-31T23:30:00",
             [Detection(L, "Cat", 60.0, None, animal), Detection(L, "Cat", 55.0, box, animal),
              Detection(L, "Dog", 30.0, box, animal)]),
        _doc(5, ["/lib/events/party.jpg"], "2019:07:04 18:00:00", celebs + people),
        _doc(6, ["/lib/events/redford.jpg"], "2022-03-01T12:00:00+02:00",
             redford + [Detection(L, "Person", 80.0)]),
        _doc(7, ["/lib/birds/bird.jpg"], None, [Detection(L, "Bird", 88.0, None, ("ANIMAL",))]),
        _doc(8, ["/lib/misc/IMG_0001.JPG"], None, []),
    ]


def open_backend(kind: str, request, workdir: Path):
    """A fresh, empty index of ``kind``; skips ``opensearch-real`` without ``OPENSEARCH_URL``."""
    if kind == "sqlite":
        from mediaapp.search.sqlite import SqliteIndex

        return SqliteIndex(workdir / f"index-{uuid.uuid4().hex[:8]}.sqlite")
    from mediaapp.search.opensearch import OpenSearchIndex

    name = f"mediaapp-test-{uuid.uuid4().hex[:10]}"
    if kind == "opensearch":
        return OpenSearchIndex(request.getfixturevalue("osmem_base").url, index=name, replicas=0)
    if not REAL_URL:
        pytest.skip(REAL_SKIP)
    return OpenSearchIndex(
        REAL_URL, index=name, replicas=0,
        username=os.environ.get("OPENSEARCH_USERNAME"), password=os.environ.get("OPENSEARCH_PASSWORD"),
        ca_certs=os.environ.get("OPENSEARCH_CA_CERTS") or None,
        verify_certs=os.environ.get("OPENSEARCH_VERIFY_CERTS", "1") not in ("0", "false", "no"),
        aws_region=os.environ.get("OPENSEARCH_AWS_REGION") or None,
        aws_service=os.environ.get("OPENSEARCH_AWS_SERVICE") or "es")


def indexed_backend(kind: str, request, workdir: Path, docs: list[IndexDocument]):
    """``open_backend(kind, ...)`` holding ``docs``, every one indexed (asserted); the caller disposes of it."""
    index = open_backend(kind, request, workdir)
    result = index.upsert(docs)
    assert result.failed == [] and result.indexed == len(docs)
    return index


def dispose(index) -> None:
    """Delete an OpenSearch test index; close any index."""
    if hasattr(index, "drop"):
        try:
            index.drop()
        except Exception:
            pass
    index.close()


# -- "more like this" ---------------------------------------------------------------

#: Cosine of each asset's embedding with the example's (asset 3, the dog), by construction (``like_library``);
#: assets 6 and 8 have no embedding, so "more like this" never finds them.
LIKE_COSINES = {4: 0.9, 7: 0.8, 5: 0.7, 1: 0.3, 2: 0.2}


def vector_at(example, cosine: float, rng):
    """A unit vector whose cosine with the unit vector ``example`` is ``cosine`` (the rest drawn from ``rng``)."""
    import numpy as np

    other = rng.standard_normal(len(example))
    other -= (other @ example) * example
    return cosine * example + (1 - cosine ** 2) ** 0.5 * other / np.linalg.norm(other)


def like_library(library: list[IndexDocument]):
    """The conformance library with unit embeddings at ``LIKE_COSINES`` from asset 3's; ``(docs, {i: vector})``."""
    import dataclasses

    import numpy as np

    from mediaapp.search.opensearch_mapping import EMBEDDING_DIMS

    rng = np.random.default_rng(10)
    example = rng.standard_normal(EMBEDDING_DIMS)
    example /= np.linalg.norm(example)
    vectors = {3: example}
    for i, cosine in LIKE_COSINES.items():
        vectors[i] = vector_at(example, cosine, rng)
    docs = [dataclasses.replace(d, embedding=tuple(float(x) for x in vectors[i])) if i in vectors else d
            for i, d in enumerate(library, start=1)]
    return docs, vectors
