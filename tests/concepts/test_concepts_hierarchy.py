"""The ImageNet classes as labels: WordNet Parents, Aliases, Categories (resources/concepts/imagenet1k.json)."""

from __future__ import annotations

import pytest

from mediaapp.analysis.local.classifier import ConceptData
from mediaapp.models.manifest import resources_dir


@pytest.fixture(scope="module")
def data() -> ConceptData:
    return ConceptData(resources_dir() / "concepts" / "imagenet1k.json", None)


def test_class_index_matches_the_imagenet_ids_of_the_shared_photos(data, imagenet):
    assert len(data.names) == 1000 and len(set(data.names)) == 1000
    assert data.wnids == sorted(data.wnids)
    for wnid, (_, index, _) in imagenet.items():
        assert data.wnids[index] == wnid


@pytest.mark.parametrize("name, parents", [
    ("Pug", ["Dog", "Canine", "Mammal", "Animal", "Pet"]),
    ("Seashore", ["Beach", "Shoreline", "Nature", "Outdoors"]),
    ("Loggerhead", ["Turtle", "Reptile", "Animal"]),
    ("Junco", ["Bird", "Animal"]),
    ("Convertible", ["Car", "Vehicle", "Transportation"]),
])
def test_parents_come_from_the_wordnet_hierarchy(data, name, parents):
    got = data.labels[name]["parents"]
    assert set(parents) <= set(got)
    assert got.index("Dog" if "Dog" in parents else parents[0]) < got.index("Animal" if "Animal" in got else
                                                                              parents[-1]) or len(parents) == 1


def test_parents_are_nearest_first(data):
    pug = data.labels["Pug"]["parents"]
    assert pug[0] == "Dog"
    husky = data.labels["Siberian Husky"]["parents"]
    assert husky.index("Working Dog") < husky.index("Dog") < husky.index("Animal")


def test_every_parent_is_a_label_and_every_class_has_its_names(data):
    for name, entry in data.labels.items():
        assert all(p in data.labels for p in entry["parents"]), name
        assert name not in entry["parents"]
    assert "Loggerhead Turtle" in data.labels["Loggerhead"]["aliases"]
    assert "Maltese Dog" in [data.names[153], *data.labels[data.names[153]]["aliases"]]


def test_same_word_different_meaning_gets_distinct_names(data):
    crane_bird = data.names[134]
    crane_machine = data.names[517]
    assert crane_bird != crane_machine
    assert "Bird" in data.labels[crane_bird]["parents"]
    assert "Bird" not in data.labels[crane_machine]["parents"]
    # A railway passenger car is not a Car (automobile).
    assert "Car" not in data.labels["Passenger Car"]["parents"]


def test_categories_where_honest(data):
    assert data.labels["Pug"]["categories"] == ["Animals and Pets"]
    assert data.labels["Seashore"]["categories"] == ["Nature and Outdoors"]
    assert data.labels["Pizza"]["categories"] == ["Food and Beverage"]


def test_ancestor_scores_sum_their_classes(data):
    import numpy as np

    probs = np.zeros(1000)
    terriers = [i for i, n in enumerate(data.names) if "Terrier" in data.labels[n]["parents"]][:3]
    probs[terriers] = 0.3
    probs[0] = 0.1
    scores = data.label_scores(probs)
    assert scores["Dog"] == pytest.approx(0.9)
    assert scores["Animal"] == pytest.approx(1.0)
    assert all(scores[data.names[i]] == pytest.approx(0.3) for i in terriers)
