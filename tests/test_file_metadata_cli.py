"""End to end through the CLI and a real Library: what files already say (XMP, sidecars, IPTC) becomes searchable.

Keywords exiftool wrote, and the IPTC keywords of the shared ``pillow_iptc.jpg``, are found by ``mediaapp
search``; ``show --json`` has the title, rating, label and date on the asset and the keywords apart from the
machine labels (here the replay engine's recorded Rekognition answer); editing a sidecar in "another program"
is read at the next import without asking the analysis engine again; a hostile sidecar is one error of its file.
"""

from __future__ import annotations

import json
import os
import shutil

import replay_engine
from metadata_support import exiftool, make_photo, needs_exiftool, write_sidecar
from support import REPLAY_ENGINE, REPLAY_PHOTOS

from mediaapp.cli.main import main
from mediaapp.settings import save_settings

pytestmark = needs_exiftool


def _cli(root, capsys, *args) -> str:
    capsys.readouterr()
    assert main(["--library", str(root), *map(str, args)]) == 0
    return capsys.readouterr().out


def _found(root, capsys, *args) -> set[str]:
    return set(_cli(root, capsys, "search", *args).splitlines())


def test_keywords_titles_ratings_and_regions_are_read_on_import_and_searchable(testdata, tmp_path, capsys):
    photos = tmp_path / "photos"
    river = make_photo(photos / "river.jpg")
    write_sidecar(river, photos / "river.xmp")                          # Lightroom's NAME.xmp
    iptc = photos / "pillow_iptc.jpg"
    shutil.copy(testdata / "5_formats/metadata/pillow_iptc.jpg", iptc)  # IPTC keywords HvK ... Hungary, Budapest
    plain = photos / "000004.jpg"
    shutil.copy(testdata / REPLAY_PHOTOS[0], plain)                      # nothing to say of itself
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {"engines": [REPLAY_ENGINE], "workers": 1,
                         "engine_config": {REPLAY_ENGINE: {"testdata": str(testdata)}}})
    replay_engine.CALLS.clear()

    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "imported 3" in out and "analysed 9" in out and "files' own metadata read 3" in out and "failed 0" in out
    assert _found(root, capsys, "Budapest") == {str(river), str(iptc)}   # a dc:subject keyword, an IPTC keyword
    assert _found(root, capsys, "holiday") == {str(iptc)}
    assert _found(root, capsys, "--label", "Animal") == {str(river)}    # Animal|Mammal|Dog: Dog with its parents
    assert _found(root, capsys, "--label", "Danube") == {str(river)}    # digiKam's Places/Hungary/Danube
    assert _found(root, capsys, "lanterns embankment") == {str(river)}  # description words
    assert _found(root, capsys, "--person", "Alice Example") == {str(river)}  # the named MWG face region
    assert _found(root, capsys, "--label", "Car") == {str(river), str(iptc), str(plain)}  # machine labels stay

    shown = json.loads(_cli(root, capsys, "show", "--json", river))
    asset = shown["asset"]
    assert (asset["title"], asset["description"]) == ("Evening on the river", "Lanterns along the embankment")
    assert (asset["rating"], asset["label"], asset["date_created"]) == (4, "Red", "2021-06-05T19:30:00+02:00")
    keywords = {k["name"]: k["parents"] for k in shown["metadata"]["keywords"]}
    assert keywords == {"Budapest": [], "Chain Bridge": [], "Dog": ["Mammal", "Animal"],
                        "Danube": ["Hungary", "Places"]}
    assert [p["name"] for p in shown["metadata"]["people"]] == ["Alice Example"]
    machine = {label["Name"] for label in shown["DetectLabels"]["Labels"]}  # apart: the replayed answer only
    assert "Car" in machine and not machine & set(keywords)

    # another program edits the sidecar: the next import reads it again, and only it
    replay_engine.CALLS.clear()
    exiftool("-overwrite_original", "-XMP-dc:Subject+=Gellért Hill", "-XMP-xmp:Rating=2", photos / "river.xmp")
    os.utime(photos / "river.xmp", ns=(1_000_000_000, 1_000_000_000))  # a new time, however coarse the clock
    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "unchanged 3" in out and "analysed 0" in out and "files' own metadata read 1" in out
    assert replay_engine.CALLS == []                                   # no machine analysis was asked again
    assert _found(root, capsys, "gellért") == {str(river)}
    assert json.loads(_cli(root, capsys, "show", "--json", river))["asset"]["rating"] == 2
    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "files' own metadata read" not in out                       # nothing changed: nothing read


def test_a_hostile_sidecar_is_one_error_of_its_file_and_the_rest_is_kept(tmp_path, capsys):
    photos = tmp_path / "photos"
    bad = make_photo(photos / "bad.jpg", (10, 20, 30))
    exiftool("-overwrite_original", "-IPTC:Keywords=Embedded keyword", bad)
    (photos / "bad.jpg.xmp").write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>')
    good = make_photo(photos / "good.jpg", (30, 20, 10))
    write_sidecar(good, photos / "good.jpg.xmp", "-XMP-dc:Subject=Fine")
    before = {p: p.read_bytes() for p in photos.iterdir()}
    root = tmp_path / "lib"

    capsys.readouterr()
    assert main(["--library", str(root), "import", "--quiet", "--no-analysis", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "imported 2" in out and "failed 1" in out
    assert f"FAILED {bad}: metadata: sidecar bad.jpg.xmp: refused: the XMP declares a DTD or entities" in out
    assert _found(root, capsys, "embedded keyword") == {str(bad)}   # what could be read was kept
    assert _found(root, capsys, "fine") == {str(good)}
    assert {p: p.read_bytes() for p in photos.iterdir()} == before     # originals and sidecars untouched

    (photos / "bad.jpg.xmp").write_bytes(b"")                          # fixed (emptied) in another program
    os.utime(photos / "bad.jpg.xmp", ns=(1_000_000_000, 1_000_000_000))
    out = _cli(root, capsys, "import", "--quiet", "--no-analysis", photos)
    shown = json.loads(_cli(root, capsys, "show", "--json", bad))
    assert [e["stage"] for e in shown["errors"]] == ["metadata"] and "not well-formed" in shown["errors"][0]["message"]


def test_the_shared_sidecar_files_import_without_metadata_errors(testdata, tmp_path, capsys):
    photos = tmp_path / "sidecars"
    shutil.copytree(testdata / "8_sidecars", photos)   # a copy: the shared folder is never imported in place
    root = tmp_path / "lib"
    capsys.readouterr()
    main(["--library", str(root), "import", "--quiet", "--no-analysis", str(photos)])
    out = capsys.readouterr().out
    assert ": metadata:" not in out, out
    shown = json.loads(_cli(root, capsys, "show", "--json", photos / "photoprism_iphone_7.heic"))
    assert shown["asset"]["date_created"] == "2018-09-10T12:16:13"    # from its sidecar photoprism_iphone_7.xmp
