"""Nearest-reference distances by matrix products (``ReferenceIndex``, ``_distances``) on the real face
embeddings of testdata/3_faces: the same distances and names as comparing every pair directly."""

from __future__ import annotations

import numpy as np
import pytest

from mediaapp.analysis.local.recognition import distance_to_similarity
from mediaapp.services.face_matching import ReferenceIndex, _distances, assign_faces, assign_nearest

pytestmark = pytest.mark.slow


@pytest.fixture
def real_faces(faces_library):
    """(embeddings (23, 128), image of each, cluster of each) of the imported 3_faces photos."""
    people = faces_library.library.people
    groups = people.groups()
    cluster = {fid: g.group_id for g in groups for fid in g.face_ids}
    faces = people.store.faces()
    return (people.store.embeddings([f.id for f in faces]), [f.sha256 for f in faces],
            np.array([cluster[f.id] for f in faces]))


def test_distances_match_the_direct_norms_and_are_zero_for_the_same_face(real_faces):
    vecs, _photos, _clusters = real_faces
    direct = np.linalg.norm(vecs[:, None, :] - vecs[None, :, :], axis=2)
    product = _distances(vecs, vecs)
    assert product.shape == (23, 23) and np.all(np.isfinite(product)) and np.all(product >= 0)
    assert np.abs(product - direct).max() < 1e-6
    assert np.abs(np.diag(product)).max() < 1e-7  # clamped at 0 before the square root: never NaN


def test_nearest_reference_per_person_matches_every_pair(real_faces):
    vecs, _photos, clusters = real_faces
    # references: every face, its person being its cluster (7 people, 1-8 faces each), in shuffled order
    order = np.random.default_rng(0).permutation(len(vecs))
    index = ReferenceIndex(vecs[order], clusters[order].tolist())
    assert index.persons == tuple(sorted(set(clusters.tolist()))) and len(index) == 23
    nearest = index.nearest(vecs)
    direct = np.linalg.norm(vecs[:, None, :] - vecs[None, :, :], axis=2)
    for j, person in enumerate(index.persons):
        assert np.abs(nearest[:, j] - direct[:, clusters == person].min(axis=1)).max() < 1e-6
    # the nearest person of every face is its own cluster, at distance ~0 (it is a reference itself)
    assert [index.persons[j] for j in nearest.argmin(axis=1)] == clusters.tolist()
    assert nearest.min(axis=1).max() < 1e-7


def test_one_named_face_per_cluster_names_every_face_as_the_direct_comparison_does(real_faces):
    vecs, photos, clusters = real_faces
    persons = sorted(set(clusters.tolist()))
    first = [int(np.flatnonzero(clusters == p)[0]) for p in persons]
    named = assign_faces(vecs, photos, vecs[first], persons)
    assert [person for person, _ in named] == clusters.tolist()
    # similarities are those of the direct distances
    direct = np.linalg.norm(vecs[:, None, :] - vecs[first][None, :, :], axis=2)
    expected = distance_to_similarity(direct.min(axis=1))
    assert np.abs(np.array([sim for _, sim in named]) - expected).max() < 1e-6
    # a prebuilt index answers the same; at threshold 100 nobody is named (similarity stays below 100)
    index = ReferenceIndex(vecs[first], persons)
    assert assign_nearest(vecs, photos, index) == named
    assert assign_nearest(vecs, photos, index, 100.0) == [(None, None)] * len(vecs)
    with pytest.raises(ValueError):
        ReferenceIndex(vecs[first], persons[:-1])
