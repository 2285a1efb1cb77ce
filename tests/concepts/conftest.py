"""Fixtures for the concept-classifier tests: the converted classifier in a throw-away model folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory) -> Path:
    """A model folder holding the classifier converted from the installed wheel (a few seconds, once)."""
    from mediaapp.models.classifiers import ensure_classifier

    root = tmp_path_factory.mktemp("classifier-models")
    ensure_classifier(model_dir=root)
    return root


@pytest.fixture(scope="session")
def classifier(classifier_dir):
    """A loaded ``ConceptClassifier`` using ``classifier_dir``."""
    from mediaapp.analysis.local.classifier import ConceptClassifier

    model = ConceptClassifier(model_dir=classifier_dir, threads=1)
    model.load()
    return model


@pytest.fixture(scope="session")
def imagenet(testdata) -> dict[str, tuple[Path, int, str]]:
    """The shared ImageNet photos by WordNet id: ``{wnid: (path, class index, class name)}``."""
    out = {}
    for line in (testdata / "6_imagenet" / "labels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        index, wnid, name, file = line.split("\t")
        out[wnid] = (testdata / "6_imagenet" / file, int(index), name)
    return out
