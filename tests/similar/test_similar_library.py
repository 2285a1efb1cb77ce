"""Similar photos end to end: real photos and their near-copies imported with the local engine (slow: one import)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mediaapp.catalog.similarity import SimilarityStore
from mediaapp.cli.main import main
from mediaapp.core.types import Query

#: The near-copies the ``photos`` fixture makes of dog.jpg (``conftest.make_copies``).
COPIES = ("dog_small.jpg", "dog_q40.jpg", "dog_crop.jpg", "dog_bright.jpg")


def _names(paths) -> list[str]:
    return [Path(p).name for p in paths]


def _sha(library, path: Path) -> str:
    sha = library.catalog.sha_for_path(str(path))
    assert sha is not None
    return sha


def test_each_image_has_an_embedding_and_hashes(library, photos):
    store = SimilarityStore(library.catalog)
    shas = library.catalog.all_sha256s()
    hashes = store.hashes(shas)
    assert set(hashes) == set(shas)
    for sha in shas:
        version, vector = store.embedding(sha)
        assert version.startswith("efficientnet-lite0") and vector.shape == (1280,)
        assert abs(float(np.linalg.norm(vector)) - 1) < 1e-2
    small = hashes[_sha(library, photos / "a" / "dog_small.jpg")]
    q40 = hashes[_sha(library, photos / "a" / "dog_q40.jpg")]
    castle = hashes[_sha(library, photos / "c" / "castle.jpg")]
    assert bin(small.phash ^ q40.phash).count("1") <= 6 < bin(small.phash ^ castle.phash).count("1")


def test_more_like_this_ranks_the_near_copies_first(library, photos):
    example = library.like(photos / "a" / "dog.jpg")
    page = library.search(Query(like=example, limit=None))
    names = _names(h.path for h in page.hits)
    assert sorted(names[:4]) == sorted(COPIES) and "dog.jpg" not in names
    assert page.hits[3].score > page.hits[4].score
    assert [h.score for h in page.hits] == sorted((h.score for h in page.hits), reverse=True)


def test_more_like_this_combines_with_a_folder_filter(library, photos):
    example = library.like(photos / "a" / "dog.jpg")
    page = library.search(Query(like=example, folder=str(photos / "b"), limit=None))
    assert sorted(_names(h.path for h in page.hits)) == ["dog_bright.jpg", "dog_crop.jpg"]
    first = library.search(Query(like=example, limit=2))   # paging by cursor carries on after the first page
    rest = library.search(Query(like=example, limit=None, after=first.cursor))
    every = library.search(Query(like=example, limit=None))
    assert [h.sha256 for h in first.hits + rest.hits] == [h.sha256 for h in every.hits]


def test_search_like_on_the_command_line(library, photos, capsys):
    code = main(["--library", str(library.root), "search", "--like", str(photos / "a" / "dog.jpg"), "--json"])
    hits = json.loads(capsys.readouterr().out)
    assert code == 0 and sorted(_names(h["path"] for h in hits[:4])) == sorted(COPIES)


def test_a_bad_like_argument_is_refused_before_any_work(library, photos, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "lib"
    code = main(["--library", str(missing), "search", "--like", str(tmp_path / "no.jpg")])
    err = capsys.readouterr().err
    assert code == 2 and "no such file" in err and not missing.exists()   # the library was never opened
    stranger = tmp_path / "stranger.jpg"
    stranger.write_bytes((photos / "c" / "shark.jpg").read_bytes()[:-10] + b"0123456789")
    code = main(["--library", str(library.root), "search", "--like", str(stranger)])
    err = capsys.readouterr().err
    assert code == 2 and "not an imported file" in err


def test_duplicates_groups_the_copies_and_leaves_unrelated_photos_out(library, photos, capsys):
    groups = library.duplicates()
    assert len(groups) == 1
    members = groups[0].members
    assert sorted(_names(m.path for m in members)) == sorted(["dog.jpg", *COPIES])
    pixels = [(m.width or 0) * (m.height or 0) for m in members]
    assert pixels[0] == max(pixels) and not members[0].path.endswith("dog_small.jpg")  # keeper: the most pixels
    assert all(m.sharpness is not None and m.sharpness > 0 for m in members)
    code = main(["--library", str(library.root), "duplicates", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert code == 0 and [sorted(_names(m["path"] for m in g)) for g in listed] == [
        sorted(["dog.jpg", *COPIES])]


def test_hidden_near_duplicates_leave_the_results_until_shown_again(library, photos):
    keeper = _sha(library, photos / "a" / "dog.jpg")
    others = [_sha(library, p) for p in (photos / "a" / "dog_small.jpg", photos / "a" / "dog_q40.jpg")]
    everything = {h.sha256 for h in library.search(Query(limit=None)).hits}
    assert set(others) <= everything
    try:
        assert sorted(library.hide_assets([keeper, *others], keeper=keeper)) == sorted(others)
        shown = {h.sha256 for h in library.search(Query(limit=None)).hits}
        assert shown == everything - set(others) and keeper in shown
        assert not set(others) & {h.sha256 for h in library.search(Query(like=keeper, limit=None)).hits}
        assert {m.sha256 for g in library.duplicates() for m in g.members if m.hidden} == set(others)
    finally:
        library.unhide_assets(others)
    assert {h.sha256 for h in library.search(Query(limit=None)).hits} == everything


def test_moving_a_near_duplicate_keeps_its_bytes_and_follows_it_in_the_catalog(library, photos, tmp_path):
    src = photos / "b" / "dog_crop.jpg"
    data = src.read_bytes()
    sha = _sha(library, src)
    target = tmp_path / "set aside"
    moves, problems = library.move_files([src], target)
    assert problems == [] and moves == [(str(src), str(target / "dog_crop.jpg"))]
    assert not src.exists() and (target / "dog_crop.jpg").read_bytes() == data
    assert library.catalog.sha_for_path(str(target / "dog_crop.jpg")) == sha
    hit = next(h for h in library.search(Query(limit=None)).hits if h.sha256 == sha)
    assert hit.path == str(target / "dog_crop.jpg")
    os.replace(target / "dog_crop.jpg", src)   # put it back for the other tests
    library.catalog.move_paths([(str(target / "dog_crop.jpg"), str(src))])
    library.sync_index()


def test_duplicates_hide_others_and_unhide_on_the_command_line(library, capsys):
    everything = {h.sha256 for h in library.search(Query(limit=None)).hits}
    try:
        assert main(["--library", str(library.root), "duplicates", "--hide-others"]) == 0
        out = capsys.readouterr()
        assert "hid 4 near-duplicates" in out.err and out.out.count(" hidden") == 4
        assert len({h.sha256 for h in library.search(Query(limit=None)).hits}) == len(everything) - 4
    finally:
        assert main(["--library", str(library.root), "duplicates", "--unhide"]) == 0
    assert "4 near-duplicates shown" in capsys.readouterr().err
    assert {h.sha256 for h in library.search(Query(limit=None)).hits} == everything
