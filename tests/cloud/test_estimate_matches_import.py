"""The cost estimate before an import bills exactly the images the import sends to Rekognition.

The import (``Library.engines_for``) gives an image the engines of the deepest
folder rule holding *any* of its catalogued paths; the estimate
(``mediaapp.services.costs.estimate_import``) must decide the same way before the
new paths are catalogued. Every test compares the estimate with what the
import then really decides (it imports with ``engines=[]``, so nothing is
analysed, and asks ``Library.engines_for`` about each image it touched).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from mediaapp.library import Library
from mediaapp.settings import engines_for_paths

REK = "rekognition"


def _library(tmp_path: Path, engines=("local",)) -> Library:
    return Library(tmp_path / "lib", settings={"workers": 1, "engines": list(engines), "apis": ["DetectText"]})


def _estimated_images(lib: Library, paths) -> int:
    est = lib.costs.estimate_import(paths)
    return 0 if est is None else est.images


def _billed_by_import(lib: Library, paths) -> set[str]:
    """Import ``paths`` (no analysis) and return the sha256s the import gives to Rekognition by its rules."""
    lib.import_paths(paths, engines=[])
    roots = [os.path.abspath(str(p)) for p in paths]
    known = lib.catalog.known_files()
    shas = {sha for path, (_size, _mtime, sha) in known.items()
            if os.path.exists(path) and any(path == r or path.startswith(r + os.sep) for r in roots)}
    return {sha for sha, asset in lib.catalog.assets(shas).items() if REK in lib.engines_for(asset)}


def _bmp(path: Path, colour: tuple[int, int, int], side: int = 16) -> Path:
    """A small BMP: every ``side`` x ``side`` BMP has the same size in bytes, whatever its colour."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (side, side), colour).save(path, format="BMP")
    return path


def _copy(src: Path, dest: Path) -> Path:
    """Copy ``src`` to ``dest`` (bytes and mtime), making its folder."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(src, dest))


def test_the_review_scenario_a_new_copy_of_an_image_catalogued_under_a_rekognition_rule(tmp_path, testdata):
    face = testdata / "3_faces/face_recognition/obama.jpg"
    cloud, phone = tmp_path / "cloud", tmp_path / "phone"
    cloud.mkdir()
    phone.mkdir()
    shutil.copy2(face, cloud)
    shutil.copy2(face, phone / "IMG_0001.jpg")
    lib = _library(tmp_path)
    try:
        lib.import_paths([cloud], engines=[])  # catalogued before the rule was added
        lib.update_settings(folder_engines={str(cloud): [REK]})
        est = lib.costs.estimate_import([phone])
        assert est is not None and (est.images, est.calls) == (1, 1)
        assert est.usd == pytest.approx(0.001)  # one DetectText image at the bundled first-tier price
        assert len(_billed_by_import(lib, [phone])) == 1  # and the import does send it
        asset = lib.catalog.asset(lib.catalog.sha_for_path(str(phone / "IMG_0001.jpg")))
        assert lib.engines_for(asset) == [REK]
    finally:
        lib.close()


def test_a_deeper_rule_on_the_catalogued_copy_keeps_a_new_copy_out_of_rekognition(tmp_path):
    photos = tmp_path / "photos"
    _bmp(photos / "private" / "x.bmp", (200, 10, 10))
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos / "private"], engines=[])
        _copy(photos / "private" / "x.bmp", photos / "copy.bmp")  # under the rekognition rule itself
        lib.update_settings(folder_engines={str(photos): [REK], str(photos / "private"): ["local"]})
        assert lib.costs.estimate_import([photos / "copy.bmp"]) is None
        assert _billed_by_import(lib, [photos / "copy.bmp"]) == set()
    finally:
        lib.close()


def test_copies_arriving_in_the_same_import_are_decided_together(tmp_path):
    photos = tmp_path / "photos"
    _bmp(photos / "cloud" / "a.bmp", (10, 200, 10))
    _copy(photos / "cloud" / "a.bmp", photos / "cloud" / "keep-local" / "a.bmp")
    _bmp(photos / "cloud" / "b.bmp", (10, 10, 200))
    lib = _library(tmp_path)
    try:
        lib.update_settings(folder_engines={str(photos / "cloud"): [REK],
                                            str(photos / "cloud" / "keep-local"): ["local"]})
        # a.bmp's copy lies under the deeper "local" rule: only b.bmp is billed
        assert _estimated_images(lib, [photos]) == 1
        assert len(_billed_by_import(lib, [photos])) == 1
    finally:
        lib.close()


def test_a_moved_file_counts_with_the_paths_the_catalog_will_still_hold(tmp_path):
    photos = tmp_path / "photos"
    _bmp(photos / "cloud" / "x.bmp", (90, 90, 90))
    for whole_root in (True, False):
        lib = Library(tmp_path / f"lib-{whole_root}", settings={"workers": 1, "engines": ["local"],
                                                                 "apis": ["DetectText"]})
        try:
            lib.import_paths([photos], engines=[])
            lib.update_settings(folder_engines={str(photos / "cloud"): [REK]})
            (photos / "phone").mkdir(exist_ok=True)
            os.replace(photos / "cloud" / "x.bmp", photos / "phone" / "x.bmp")
            # Importing the whole folder forgets the vanished cloud/x.bmp: the image is then only in phone/.
            # Importing phone/ alone leaves the stale cloud/ path catalogued, and the import bills it.
            target = [photos] if whole_root else [photos / "phone"]
            expected = 0 if whole_root else 1
            assert _estimated_images(lib, target) == expected
            assert len(_billed_by_import(lib, target)) == expected
        finally:
            lib.close()
            os.replace(photos / "phone" / "x.bmp", photos / "cloud" / "x.bmp")


def test_only_files_that_may_be_billed_are_hashed(tmp_path, monkeypatch):
    import mediaapp.ingest.hashing as hashing

    photos = tmp_path / "photos"
    catalogued = _bmp(tmp_path / "elsewhere" / "known.bmp", (1, 2, 3))           # 16 x 16: 822 bytes
    same_size = _bmp(photos / "local" / "same-size.bmp", (4, 5, 6))             # other bytes, same size
    unique = _bmp(photos / "local" / "unique-size.bmp", (7, 8, 9), side=20)     # a size nobody else has
    cloud = _bmp(photos / "cloud" / "c.bmp", (10, 11, 12), side=24)
    touched = _bmp(photos / "local" / "touched.bmp", (13, 14, 15), side=28)  # catalogued, then only its mtime
    assert catalogued.stat().st_size == same_size.stat().st_size != unique.stat().st_size
    lib = _library(tmp_path)
    try:
        lib.import_paths([catalogued.parent, touched], engines=[])
        st = touched.stat()
        os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        lib.update_settings(folder_engines={str(catalogued.parent): [REK], str(photos / "cloud"): [REK]})
        hashed: list[str] = []
        real = hashing.sha256_file

        def counting(path, *args, **kwargs):
            hashed.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(hashing, "sha256_file", counting)
        est = lib.costs.estimate_import([photos])
        # cloud/c.bmp: billed by its own rule; same-size.bmp: might be a copy of known.bmp (it is not);
        # unique-size.bmp: alone with its bytes, and its own folder has no Rekognition rule; touched.bmp:
        # its size is only its own catalogued size, so whatever its bytes now, no other path shares them
        assert sorted(hashed) == sorted([str(cloud), str(same_size)])
        assert est is not None and est.images == 1
        monkeypatch.setattr(hashing, "sha256_file", real)
        assert len(_billed_by_import(lib, [photos])) == 1
    finally:
        lib.close()


def test_a_file_changed_in_place_leaves_its_old_image(tmp_path):
    photos = tmp_path / "photos"
    a = _bmp(photos / "phone" / "a.bmp", (50, 60, 70))
    _copy(a, photos / "cloud" / "a.bmp")
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos], engines=[])
        lib.update_settings(folder_engines={str(photos / "cloud"): [REK]})
        _bmp(photos / "cloud" / "a.bmp", (70, 60, 50))  # new bytes, same size, under the rule
        st = (photos / "cloud" / "a.bmp").stat()
        os.utime(photos / "cloud" / "a.bmp", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        # the phone copy keeps the old image (and loses its cloud path); the changed file is a new image
        assert _estimated_images(lib, [photos]) == 1
        billed = _billed_by_import(lib, [photos])
        assert billed == {lib.catalog.sha_for_path(str(photos / "cloud" / "a.bmp"))}
    finally:
        lib.close()


def test_a_copy_edited_in_place_no_longer_holds_its_old_image_back(tmp_path):
    photos = tmp_path / "photos"
    _bmp(photos / "x.bmp", (20, 30, 40))
    _copy(photos / "x.bmp", photos / "private" / "x.bmp")
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos], engines=[])
        lib.update_settings(folder_engines={str(photos): [REK], str(photos / "private"): ["local"]})
        assert lib.costs.estimate_import([photos]) is None  # the deeper "local" rule holds both copies back
        edited = _bmp(photos / "private" / "x.bmp", (40, 30, 20), side=20)  # new bytes of a new size
        st = edited.stat()
        os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        # after the import the old image is only at photos/x.bmp (billed); the edited file stays local
        assert _estimated_images(lib, [photos]) == 1
        assert _billed_by_import(lib, [photos]) == {lib.catalog.sha_for_path(str(photos / "x.bmp"))}
    finally:
        lib.close()


def test_a_file_whose_last_import_failed_unchanged_is_not_counted(tmp_path):
    photos = tmp_path / "photos"
    bad = _bmp(photos / "cloud" / "bad.bmp", (1, 1, 1))
    good = _bmp(photos / "cloud" / "good.bmp", (2, 2, 2))
    lib = _library(tmp_path)
    try:
        lib.update_settings(folder_engines={str(photos / "cloud"): [REK]})
        st = bad.stat()
        # as the import records a file it could not decode; it skips it until the file changes
        lib.catalog.record_error(str(bad), "decode", "cannot decode", size=st.st_size, mtime_ns=st.st_mtime_ns)
        assert _estimated_images(lib, [photos]) == 1
        assert _billed_by_import(lib, [photos]) == {lib.catalog.sha_for_path(str(good))}
        assert lib.catalog.sha_for_path(str(bad)) is None
    finally:
        lib.close()


@pytest.mark.parametrize("seed", range(40))
def test_random_libraries_estimate_what_the_import_bills(tmp_path, seed):
    """Differential: random catalogues, moves, copies, edits, rules and targets; estimate == import."""
    rnd = random.Random(seed)
    root = tmp_path / "photos"
    folders = ["a", "a/deep", "b", "c"]
    contents = [((200, 0, 0), 16), ((0, 200, 0), 16), ((0, 0, 200), 16), ((9, 9, 9), 20)]

    def place(folder: str) -> Path:
        colour, side = rnd.choice(contents)
        return _bmp(root / folder / f"f{rnd.randrange(10**6)}.bmp", colour, side)

    files = [place(rnd.choice(folders)) for _ in range(rnd.randint(2, 6))]
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engines": rnd.choice([["local"], [REK]]),
                                              "apis": ["DetectText"]})
    try:
        lib.import_paths([root], engines=[])
        for path in list(files):
            action = rnd.choice(["keep", "keep", "delete", "move", "edit"])
            if action == "delete":
                path.unlink()
                files.remove(path)
            elif action == "move":
                dest = root / rnd.choice(folders) / f"m{rnd.randrange(10**6)}.bmp"
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)
                files[files.index(path)] = dest
            elif action == "edit":
                colour, side = rnd.choice(contents)
                _bmp(path, colour, side)
                st = path.stat()
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        files += [place(rnd.choice(folders)) for _ in range(rnd.randint(0, 4))]
        rules = {str(root / f): rnd.choice([[REK], ["local"], [REK, "local"]])
                 for f in folders if rnd.random() < 0.6}
        lib.update_settings(folder_engines=rules)
        target = rnd.choice([[root], [root / "a"], [root / "b", root / "c"], [root / "a" / "deep"]])
        target = [t for t in target if t.exists()] or [root]
        estimated = _estimated_images(lib, target)
        billed = _billed_by_import(lib, target)
        assert estimated == len(billed), (seed, rules, target)
    finally:
        lib.close()


def test_engines_for_paths_takes_the_deepest_rule_holding_any_path():
    rules = {"/p": [REK], "/p/q/": ["local"], "/p/qq": [REK, "local"], "/x": []}
    assert engines_for_paths(["/p/a.jpg"], rules, ["d"]) == [REK]
    assert engines_for_paths(["/p/a.jpg", "/p/q/b.jpg"], rules, ["d"]) == ["local"]   # deeper wins
    assert engines_for_paths(["/p/qq/b.jpg"], rules, ["d"]) == [REK, "local"]           # /p/q is not /p/qq
    assert engines_for_paths(["/p/q"], rules, ["d"]) == ["local"]                       # the folder itself
    assert engines_for_paths(["/pq/a.jpg", "/o/a.jpg"], rules, ["d"]) == ["d"]          # no rule: the default
    assert engines_for_paths(["/x/a.jpg"], rules, ["d"]) == []                          # an empty rule: none
    assert engines_for_paths([], rules, ["d"]) == ["d"]
    home = os.path.expanduser("~")
    assert engines_for_paths([os.path.join(home, "pics", "a.jpg")], {"~/pics": ["local"]}, [REK]) == ["local"]
    out = engines_for_paths(["/p/a.jpg"], rules, ["d"])
    out.append("changed")
    assert rules["/p"] == [REK]  # a new list, never the rule's own


def test_engines_for_paths_agrees_with_the_library(tmp_path):
    photos = tmp_path / "photos"
    _bmp(photos / "a" / "deep" / "x.bmp", (3, 3, 3))
    _copy(photos / "a" / "deep" / "x.bmp", photos / "b" / "x.bmp")
    _bmp(photos / "c" / "y.bmp", (4, 4, 4))
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos], engines=[])
        for rules in ({str(photos / "a"): [REK]}, {str(photos / "a"): [REK], str(photos / "b"): ["local"]},
                      {str(photos / "a"): [REK], str(photos / "a" / "deep"): ["local"]}, {}):
            lib.update_settings(folder_engines=rules)
            for asset in lib.catalog.assets(lib.catalog.all_sha256s()).values():
                assert lib.engines_for(asset) == engines_for_paths(asset.paths, rules, ["local"])
    finally:
        lib.close()
