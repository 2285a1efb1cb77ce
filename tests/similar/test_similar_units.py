"""The parts of similar photos that need no model: hashes' storage form, the rule, grouping, the vector store."""

from __future__ import annotations

import numpy as np
import pytest

from mediaapp.catalog.similarity import AssetHashes, from_signed64, to_signed64
from mediaapp.core.query import normalize_query
from mediaapp.core.types import Query
from mediaapp.search.vectors import PCA_MIN_ASSETS, VectorStore
from mediaapp.services.similar import (
    COSINE_ALONE,
    COSINE_WITH_HASH,
    HAMMING_WITH_COSINE,
    group_pairs,
    is_near_duplicate,
)


@pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xF0F0F0F0F0F0F0F0])
def test_a_64_bit_hash_survives_its_signed_storage_form(value):
    stored = to_signed64(value)
    assert -(1 << 63) <= stored < (1 << 63)
    assert from_signed64(stored) == value


def test_the_rule_needs_a_close_embedding_and_trusts_a_hash_only_with_one():
    same = AssetHashes("a", 0xFFFF0000FFFF0000, 0x1234, None)
    near = AssetHashes("b", 0xFFFF0000FFFF0001, 0x1234 ^ 0xFFFFFFFF, None)   # pHash 1 bit apart
    far = AssetHashes("c", 0x0000FFFF0000FFFF, 0x1234 ^ 0xFFFFFFFFFFFF, None)
    assert is_near_duplicate(COSINE_ALONE, far, far)            # the embedding alone is enough
    assert not is_near_duplicate(COSINE_WITH_HASH - 0.01, same, near)  # hashes agree but the content differs
    assert is_near_duplicate(COSINE_WITH_HASH, same, near)      # both agree
    assert not is_near_duplicate(COSINE_ALONE - 0.01, same, far)
    assert not is_near_duplicate(COSINE_ALONE - 0.01, same, None)
    assert HAMMING_WITH_COSINE < 32


def test_groups_are_connected_components():
    groups = group_pairs(list("abcdef"), [(0, 1), (1, 2), (4, 5)])
    assert sorted(map(sorted, groups)) == [["a", "b", "c"], ["e", "f"]]
    assert group_pairs(list("ab"), []) == []


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("count", [50, PCA_MIN_ASSETS])  # full vectors, and the PCA-reduced copy
def test_the_vector_store_ranks_by_cosine_within_the_allowed(tmp_path, count):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((count, 64)).astype(np.float32)
    base[1] = base[0] + 0.05 * rng.standard_normal(64)   # 1 is very close to 0, 2 close
    base[2] = base[0] + 0.5 * rng.standard_normal(64)
    vectors = _unit(base)
    shas = [f"{i:064x}" for i in range(count)]
    store = VectorStore(tmp_path / "v")
    rows = store.write("m@1", [count, "t"], [(shas, vectors)], count, vectors if count >= PCA_MIN_ASSETS else None)
    assert rows == count and store.meta()["projected"] is (count >= PCA_MIN_ASSETS)
    ranked = store.nearest(shas[0], None, 5)
    assert [s for s, _ in ranked[:2]] == [shas[1], shas[2]] and shas[0] not in {s for s, _ in ranked}
    assert len(ranked) == 5 and ranked[0][1] > 0.95
    assert [s for s, _ in store.nearest(shas[0], {shas[2], shas[7]}, 5)] == [shas[2], shas[7]]
    assert store.nearest("f" * 64, None, 5) == []
    store.write("m@1", [2, "u"], [(shas[:2], vectors[:2])], 2)   # a new copy replaces the old one for readers
    assert [s for s, _ in store.nearest(shas[0], None, 5)] == [shas[1]]


def test_like_must_be_a_sha256():
    assert normalize_query(Query(like="A" * 64)).like == "a" * 64
    with pytest.raises(ValueError):
        normalize_query(Query(like="not-a-sha"))


def test_hashes_from_the_reduced_grey_image_match_the_full_size_ones(testdata):
    """The local engine hashes the 512-pixel grey image it measures sharpness on (``similarity_extras``); on real
    photos at the analysis size (2048 px) that stays within 2 bits of hashing the full-size grey image, far inside
    the near-duplicate rule's 10 bits, and the sharpness is the same number as measured alone."""
    from PIL import Image

    from mediaapp.analysis.local.similarity import perceptual_hashes, sharpness, similarity_extras
    from mediaapp.ingest.decode import open_rgb

    photos = sorted((testdata / "6_imagenet").glob("*.JPEG"))[:12]
    worst = 0
    for path in photos:
        image = open_rgb(path)
        image = image.resize((2048, round(2048 * image.height / image.width)), Image.Resampling.BICUBIC)
        extras = similarity_extras(image, np.ones(8, np.float32), "test@1")
        full = perceptual_hashes(image.convert("L"))
        worst = max(worst, bin(extras["PHash"] ^ full[0]).count("1"), bin(extras["DHash"] ^ full[1]).count("1"))
        assert extras["Sharpness"] == sharpness(image)
    assert worst <= 2
