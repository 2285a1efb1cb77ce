"""Issue 10, existing libraries: photos an older label model labelled are counted, estimated and offered once.

Real photos (``6_imagenet``) are imported without analysis into a fresh
library; their local DetectLabels answers are then stored as an older model
(the pre-classifier version string: detector + faces only) or as the current
one, as an import would store them. The CLI is run through ``cli.main.main``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import OLD_LABEL_VERSION as OLD_VERSION
from support import RELABEL_PHOTOS as PHOTOS
from support import relabel_library

from mediaapp.services.relabel import SECONDS_PER_IMAGE, Relabel, label_model, local_label_version
from mediaapp.settings import Settings, read_settings


@pytest.fixture
def library(testdata, tmp_path):
    """A library of three ImageNet photos: two labelled by the old model, one by the current one."""
    lib, photos = relabel_library(testdata, tmp_path)
    yield lib, photos
    lib.close()


def test_label_model_leaves_out_the_face_part():
    assert label_model("det/cal-1+clf/cal-3+dlib-20.0.1/hog") == "det/cal-1+clf/cal-3"
    assert label_model("det/cal-1+clf/cal-3+nofaces") == label_model("det/cal-1+clf/cal-3+dlib-20.0.1/hog")
    assert label_model("plain") == "plain"


def test_counts_only_photos_of_an_older_label_model(library):
    lib, photos = library
    offer = lib.relabel.offer()
    assert offer is not None and offer.count == 2
    assert offer.paths == tuple(sorted(str(photos / n) for n in PHOTOS[:2]))
    assert offer.seconds == pytest.approx(2 * SECONDS_PER_IMAGE)
    assert offer.minutes == 1
    assert offer.cli_line() == ("mediaapp: 2 photos were labelled by an older model; 'mediaapp import --reanalyse "
                                "--engine local --apis labels PATH' relabels them (about 1 min)")
    # turning faces off changes the engine version's last part only: not a new label model
    no_faces = Relabel(lib.catalog, lib.root, lambda: Settings(faces_enabled=False))
    assert no_faces.offer() is not None and no_faces.offer().count == 2


def test_nothing_to_offer_when_all_are_current(library):
    lib, _photos = library
    everything_old = Relabel(lib.catalog, lib.root, lib._settings, lambda s: OLD_VERSION)
    only = everything_old.offer()
    assert only is not None and only.count == 1  # now the current-model photo is the "older" one
    assert Relabel(lib.catalog, lib.root, lib._settings, lambda s: "x+y").offer().count == 3
    # 100 photos take more than a minute: the minutes are rounded up
    assert lib.relabel.offer(seconds_per_image=61).minutes == 3


def test_notice_is_said_once_per_front_end_and_model(library):
    lib, _photos = library
    offer = lib.relabel.notice("cli")
    assert offer is not None
    lib.relabel.mark_shown("cli", offer)
    assert lib.relabel.notice("cli") is None
    assert read_settings(lib.root).relabel_notice == {"cli": offer.model}
    assert lib.relabel.notice("gui") is not None  # the window has not said it yet
    newer = Relabel(lib.catalog, lib.root, lib._settings, lambda s: "another-model+faces")
    assert newer.notice("cli") is not None  # a newer model is news again
    with pytest.raises(ValueError, match="unknown front end"):
        lib.relabel.notice("web")


def test_cli_prints_the_line_once_on_search_and_import(library, capsys):
    from mediaapp.cli.main import main

    lib, photos = library
    root = str(lib.root)
    lib.close()
    assert main(["--library", root, "search", "--label", "Animal"]) == 0
    first = capsys.readouterr()
    assert first.err.count("labelled by an older model") == 1
    assert "2 photos were labelled by an older model" in first.err
    assert len(first.out.splitlines()) == 3  # the search itself answers as before
    assert main(["--library", root, "search", "--label", "Animal"]) == 0
    assert "older model" not in capsys.readouterr().err
    stored = json.loads((Path(root) / "settings.json").read_text())
    assert stored["relabel_notice"]["cli"] == label_model(local_label_version(Settings()))
    # import says it too, once: a fresh notice state, an import that analyses nothing
    stored["relabel_notice"] = {}
    (Path(root) / "settings.json").write_text(json.dumps(stored))
    assert main(["--library", root, "import", "--no-analysis", "--quiet", str(photos)]) == 0
    assert capsys.readouterr().err.count("labelled by an older model") == 1
    assert main(["--library", root, "import", "--no-analysis", "--quiet", str(photos)]) == 0
    assert "older model" not in capsys.readouterr().err
