"""The XMP packet writer on its own: merging into sidecars other programs wrote (the shared ``8_sidecars`` and ones
exiftool writes here), read back by exiftool; the reader leaving out what mediaapp wrote; sidecar names; settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from metadata_support import exiftool, exiftool_json, make_photo, needs_exiftool, write_sidecar

from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind
from mediaapp.ingest.file_tags import read_file_tags
from mediaapp.ingest.xmp import parse_xmp
from mediaapp.ingest.xmp_write import FaceArea, Owned, SidecarContent, XmpError, merge_sidecar
from mediaapp.ingest.xmp_write import write_sidecar as write_ours
from mediaapp.services.sidecars import sidecar_content, sidecar_paths
from mediaapp.settings import Settings, SettingsError

CONTENT = SidecarContent(subject=("Dog", "Beach"), hierarchical=("Animal|Mammal|Dog", "Beach"),
                         tags_list=("Animal/Mammal/Dog", "Beach"),
                         regions=(FaceArea("Ann Example", 0.25, 0.5, 0.5, 0.25),), dimensions=(64, 48),
                         confidences=(("Dog", 97.5), ("Beach", 88.0)))
OURS = {"Subject", "HierarchicalSubject", "TagsList", "RegionInfo", "OwnedSubject", "OwnedHierarchicalSubject",
        "OwnedTagsList", "OwnedRegionNames", "LabelConfidences"}


@needs_exiftool
@pytest.mark.parametrize("name", ["photoprism_canon_eos_6d.xmp", "photoprism_iphone_7.xmp"])
def test_other_programs_sidecars_lose_nothing_and_gain_our_entries(testdata, tmp_path, name):
    sidecar = tmp_path / name
    shutil.copy(testdata / "8_sidecars" / name, sidecar)
    before = exiftool_json(sidecar, "-XMP:all")
    assert len(before) > 5 and not OURS & set(before)

    result = write_ours(str(sidecar), CONTENT)
    assert result.written and result.owned == Owned(CONTENT.subject, CONTENT.hierarchical, CONTENT.tags_list,
                                                    ("Ann Example",))
    after = exiftool_json(sidecar, "-XMP:all")
    assert {k: v for k, v in after.items() if k not in OURS} == before | {"SourceFile": str(sidecar)}
    assert after["OwnedSubject"] == ["Dog", "Beach"] and after["OwnedRegionNames"] == ["Ann Example"]
    assert after["LabelConfidences"] == [{"Name": "Dog", "Confidence": 97.5}, {"Name": "Beach", "Confidence": 88}]
    assert after["Subject"] == ["Dog", "Beach"] and after["HierarchicalSubject"] == ["Animal|Mammal|Dog", "Beach"]
    assert after["TagsList"] == ["Animal/Mammal/Dog", "Beach"]
    assert after["RegionInfo"] == {"AppliedToDimensions": {"W": 64, "H": 48, "Unit": "pixel"},
                                   "RegionList": [{"Area": {"X": 0.5, "Y": 0.625, "W": 0.5, "H": 0.25,
                                                            "Unit": "normalized"},
                                                   "Name": "Ann Example", "Type": "Face"}]}
    assert write_ours(str(sidecar), CONTENT, result.owned).written is False   # already as wanted: untouched
    removed = write_ours(str(sidecar), SidecarContent(), result.owned)        # nothing of ours left to say
    assert removed.written and removed.owned == Owned()
    assert exiftool_json(sidecar, "-XMP:all") == before | {"SourceFile": str(sidecar)}


@needs_exiftool
def test_the_reader_leaves_out_what_mediaapp_wrote_and_keeps_the_rest(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    sidecar = write_sidecar(photo, tmp_path / "p.jpg.xmp", "-XMP-dc:Subject=Dog",  # theirs, and ours too: stays
                            "-XMP-dc:Subject=Harbour", "-XMP-lr:HierarchicalSubject=Places|Harbour")
    result = write_ours(str(sidecar), CONTENT)
    assert result.owned.subject == ("Beach",)          # Dog was theirs: not duplicated, not ours
    assert exiftool_json(sidecar, "-XMP-dc:Subject")["Subject"] == ["Dog", "Harbour", "Beach"]
    facts = parse_xmp(sidecar.read_bytes())
    assert facts.keywords == [("Dog",), ("Harbour",), ("Places", "Harbour")] and facts.regions == []
    tags = read_file_tags(str(photo), [str(sidecar)])
    assert sorted(tags.keywords) == [("Dog",), ("Places", "Harbour")]
    # what another program does not know it keeps: its own edit of our list is still read as ours
    exiftool("-overwrite_original", "-XMP-dc:Subject+=Sunset", sidecar)
    assert ("Sunset",) in parse_xmp(sidecar.read_bytes()).keywords


def test_a_sidecar_that_is_not_xmp_is_left_alone(tmp_path):
    sidecar = tmp_path / "p.jpg.xmp"
    sidecar.write_bytes(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>')
    with pytest.raises(XmpError, match="DTD or entities"):
        write_ours(str(sidecar), CONTENT)
    sidecar.write_bytes(b"<not xml")
    with pytest.raises(XmpError, match="not well-formed"):
        write_ours(str(sidecar), CONTENT)
    assert sidecar.read_bytes() == b"<not xml" and [p.name for p in tmp_path.iterdir()] == ["p.jpg.xmp"]
    with pytest.raises(ValueError, match="originals are never written"):
        write_ours(str(tmp_path / "p.jpg"), CONTENT)
    assert merge_sidecar(None, SidecarContent()).data is None                      # nothing to say: no file


def test_a_deeply_nested_sidecar_is_one_xmp_error_and_left_alone(tmp_path):
    """A crafted sidecar nesting 20,000 elements raised RecursionError, which ended a whole ``xmp write`` run."""
    sidecar = tmp_path / "p.jpg.xmp"
    deep = 20000
    data = ("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            "<rdf:Description rdf:about='' xmlns:a='urn:a'>" + "<a:n>" * deep + "v" + "</a:n>" * deep
            + "</rdf:Description></rdf:RDF></x:xmpmeta>").encode()
    sidecar.write_bytes(data)
    with pytest.raises(XmpError, match="nested deeper"):
        write_ours(str(sidecar), CONTENT)
    assert sidecar.read_bytes() == data and [p.name for p in tmp_path.iterdir()] == ["p.jpg.xmp"]


def test_content_takes_machine_labels_above_the_minimum_and_named_people_only():
    asset = Asset("a" * 64, 1, "JPEG", 640, 480, ["/x/p.jpg"])
    dets = [Detection(DetectionKind.LABEL, "Car", 99.0, None, ("Vehicle", "Transportation"), "rekognition"),
            Detection(DetectionKind.LABEL, "Car", 95.0, BoundingBox(0, 0, .5, .5), ("Vehicle", "Transportation"),
                      "rekognition"),
            Detection(DetectionKind.LABEL, "Vehicle", 99.0, None, ("Transportation",), "rekognition"),
            Detection(DetectionKind.LABEL, "Transportation", 99.0, None, (), "rekognition"),
            Detection(DetectionKind.LABEL, "Parking", 70.0, None, ("Transportation", "Car", "Vehicle"), "rekognition"),
            Detection(DetectionKind.LABEL, "Holiday", 100.0, None, (), "metadata"),           # the file's own
            Detection(DetectionKind.PERSON, "Ann", 90.0, BoundingBox(0.1, 0.2, 0.2, 0.4), (), "local"),
            Detection(DetectionKind.PERSON, "Bob", 100.0, BoundingBox(0.5, 0.5, 0.1, 0.1), (), "metadata"),
            Detection(DetectionKind.FACE, "Unknown", 99.0, BoundingBox(0.6, 0.6, 0.1, 0.1), (), "local")]
    content = sidecar_content(asset, dets, 80.0, confidences=True)
    assert content.subject == ("Car", "Vehicle", "Transportation")
    assert content.hierarchical == ("Transportation|Vehicle|Car", "Transportation|Vehicle", "Transportation")
    assert content.tags_list == ("Transportation/Vehicle/Car", "Transportation/Vehicle", "Transportation")
    [region] = content.regions
    assert (region.name, region.left, region.top) == ("Ann", 0.1, 0.2) and content.dimensions == (640, 480)
    assert (region.width, region.height) == pytest.approx((0.2, 0.4))
    assert content.confidences == (("Car", 99.0), ("Vehicle", 99.0), ("Transportation", 99.0))
    assert sidecar_content(asset, dets, 60.0).subject[-1] == "Parking"
    assert sidecar_content(asset, dets, 60.0).hierarchical[-1] == "Transportation|Vehicle|Car|Parking"


def test_name_xmp_belongs_to_the_raw_of_a_raw_jpeg_pair(tmp_path):
    for name in ("pair.dng", "pair.jpg", "solo.jpg", "twin.jpg", "twin.png", "low.jpg", "low.XMP"):
        (tmp_path / name).write_bytes(b"x")
    options = {**Settings().sidecars, "enabled": True, "naming": "name.xmp"}

    def targets(name: str) -> list[str]:
        asset = Asset("a" * 64, 1, "JPEG", 1, 1, [str(tmp_path / name)])
        return [Path(t).name for _, t in sidecar_paths(asset, options)]

    assert targets("pair.dng") == ["pair.xmp"]
    assert targets("pair.jpg") == []                                # the RAW's NAME.xmp covers it
    assert targets("solo.jpg") == ["solo.xmp"]
    assert targets("twin.jpg") == ["twin.jpg.xmp"] and targets("twin.png") == ["twin.png.xmp"]  # no fight
    assert targets("low.jpg") == ["low.XMP"]                        # the spelling already there
    options["naming"] = "name.ext.xmp"
    assert targets("pair.jpg") == ["pair.jpg.xmp"] and targets("pair.dng") == ["pair.dng.xmp"]
    assert sidecar_paths(Asset("a" * 64, 1, "JPEG", 1, 1, [str(tmp_path / "solo.jpg")]), Settings().sidecars) == []


def test_sidecar_settings_are_off_by_default_and_checked():
    assert Settings().sidecars == {"enabled": False, "folders": {}, "naming": "name.ext.xmp",
                                   "min_confidence": 80.0, "confidences": False}
    settings = Settings.from_mapping({"sidecars": {"enabled": "yes", "folders": {"~/Pictures": True}}})
    assert settings.sidecars["enabled"] is True and list(settings.sidecars["folders"]) == [
        str(Path("~/Pictures").expanduser())]
    assert Settings.from_mapping(settings.to_dict()) == settings
    with pytest.raises(SettingsError, match=r"sidecars\.naming"):
        Settings.from_mapping({"sidecars": {"naming": "photo.xmp"}})
    with pytest.raises(SettingsError, match=r"sidecars\.min_confidence"):
        Settings.from_mapping({"sidecars": {"min_confidence": 101}})
