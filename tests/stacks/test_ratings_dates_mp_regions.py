"""What files say of themselves, used further: sort and filter by xmp:Rating, photoshop:DateCreated or IPTC
Date Created as the capture date when EXIF has none, and Microsoft's MP:RegionInfo people regions.

Everything is written by exiftool itself, end to end through the CLI and a real library (no analysis engine:
the metadata engine reads every import anyway).
"""

from __future__ import annotations

import json

import pytest
from metadata_support import exiftool, make_photo, needs_exiftool, write_sidecar

from mediaapp.cli.main import main
from mediaapp.settings import save_settings

pytestmark = needs_exiftool


def _cli(root, capsys, *args) -> str:
    capsys.readouterr()
    assert main(["--library", str(root), *map(str, args)]) == 0
    return capsys.readouterr().out


def _library(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {"engines": [], "workers": 1})
    return root


def test_sort_by_rating_and_minimum_rating(tmp_path, capsys):
    photos = tmp_path / "photos"
    rated = {"five.jpg": "5", "two.jpg": "2", "none.jpg": None, "rejected.jpg": "-1", "zero.jpg": "0",
             "four.jpg": "4"}
    colours = iter([(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200), (200, 0, 200)])
    for name, rating in rated.items():
        photo = make_photo(photos / name, next(colours))
        if rating is not None:
            write_sidecar(photo, photo.with_suffix(".xmp"), f"-XMP-xmp:Rating={rating}")
    root = _library(tmp_path)
    assert "failed 0" in _cli(root, capsys, "import", "--quiet", photos)
    order = _cli(root, capsys, "search", "--sort", "rating", "--limit", "0").splitlines()
    names = [p.rsplit("/", 1)[1] for p in order]
    assert names[:4] == ["five.jpg", "four.jpg", "two.jpg", "rejected.jpg"]   # highest first, rejected after 1
    assert sorted(names[4:]) == ["none.jpg", "zero.jpg"]                        # unrated (0 is XMP's unrated) last
    found = _cli(root, capsys, "search", "--min-rating", "2", "--sort", "rating", "--limit", "0").splitlines()
    assert [p.rsplit("/", 1)[1] for p in found] == ["five.jpg", "four.jpg", "two.jpg"]
    with pytest.raises(SystemExit):
        main(["--library", str(root), "search", "--min-rating", "9"])
    assert "expected a rating from -1 to 5" in capsys.readouterr().err


def test_date_created_dates_a_photo_whose_exif_has_none(tmp_path, capsys):
    photos = tmp_path / "photos"
    xmp_dated = make_photo(photos / "xmp_dated.jpg", (10, 20, 30))
    write_sidecar(xmp_dated, photos / "xmp_dated.xmp", "-XMP-photoshop:DateCreated=2021:06:05 19:30:00+02:00")
    iptc_dated = make_photo(photos / "iptc_dated.jpg", (30, 20, 10))
    exiftool("-overwrite_original", "-IPTC:DateCreated=2019:03:04", "-IPTC:TimeCreated=08:15:00", iptc_dated)
    exif_dated = make_photo(photos / "exif_dated.jpg", (60, 20, 10))
    exiftool("-overwrite_original", "-EXIF:DateTimeOriginal=2015:01:02 03:04:05", exif_dated)
    write_sidecar(exif_dated, photos / "exif_dated.xmp", "-XMP-photoshop:DateCreated=2000:01:01")  # EXIF wins
    year_only = make_photo(photos / "year_only.jpg", (5, 5, 5))
    write_sidecar(year_only, photos / "year_only.xmp", "-XMP-photoshop:DateCreated=1999")
    undated = make_photo(photos / "undated.jpg", (90, 90, 90))
    root = _library(tmp_path)
    assert "failed 0" in _cli(root, capsys, "import", "--quiet", photos)

    def found(*args) -> list[str]:
        return [p.rsplit("/", 1)[1] for p in _cli(root, capsys, "search", "--limit", "0", *args).splitlines()]

    assert found("--after", "2021-06-01", "--before", "2021-06-30") == ["xmp_dated.jpg"]
    assert found("--after", "2019-03-04", "--before", "2019-03-04") == ["iptc_dated.jpg"]
    assert found("--after", "1999-01-01", "--before", "1999-12-31") == ["year_only.jpg"]
    assert found("--before", "2000-12-31") == ["year_only.jpg"]              # exif_dated is dated by EXIF, 2015
    assert found("--sort", "date") == ["xmp_dated.jpg", "iptc_dated.jpg", "exif_dated.jpg", "year_only.jpg",
                                       str(undated.name)]


def test_microsoft_people_regions_are_named_regions(tmp_path, capsys):
    photos = tmp_path / "photos"
    mp_only = make_photo(photos / "mp_only.jpg", (1, 2, 3), size=(80, 60))
    write_sidecar(mp_only, photos / "mp_only.xmp",
                  "-XMP-MP:RegionInfoMP={Regions=[{Rectangle=0.25|, 0.125|, 0.5|, 0.5,"
                  "PersonDisplayName=Bob Example}]}")
    both = make_photo(photos / "both.jpg", (3, 2, 1), size=(80, 60))   # the same face written both ways: one
    write_sidecar(both, photos / "both.xmp",
                  "-XMP-MP:RegionInfoMP={Regions=[{Rectangle=0.25|, 0.125|, 0.5|, 0.5,"
                  "PersonDisplayName=Carol Example}]}",
                  "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=80,H=60,Unit=pixel},RegionList=[{Area={X=0.5,"
                  "Y=0.375,W=0.5,H=0.5,Unit=normalized},Name=Carol Example,Type=Face}]}")
    root = _library(tmp_path)
    assert "failed 0" in _cli(root, capsys, "import", "--quiet", photos)
    assert _cli(root, capsys, "search", "--person", "Bob Example").split() == [str(mp_only)]
    shown = json.loads(_cli(root, capsys, "show", "--json", mp_only))
    (person,) = shown["metadata"]["people"]
    assert person["name"] == "Bob Example"
    box = person["box"]
    assert [round(box[k], 4) for k in ("Left", "Top", "Width", "Height")] == [0.25, 0.125, 0.5, 0.5]
    people = json.loads(_cli(root, capsys, "show", "--json", both))["metadata"]["people"]
    assert [p["name"] for p in people] == ["Carol Example"]
