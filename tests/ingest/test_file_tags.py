"""Reading what files already say: XMP sidecars (both naming conventions), embedded XMP and IPTC-IIM.

Sidecars and IPTC are written by exiftool itself (``metadata_support``), the
shared ``8_sidecars`` files were written by other tools, and exiftool's own
reading of each file is the yardstick for "nothing is lost".
"""

from __future__ import annotations

import os

import pytest
from metadata_support import exiftool, exiftool_json, make_photo, needs_exiftool, write_sidecar

from mediaapp.analysis.analysis_worker import analyse_image
from mediaapp.analysis.metadata import KEYWORD_CATEGORY, MetadataEngine, MetadataParams
from mediaapp.analysis.validate import validate_response
from mediaapp.core.analysis import AnalysisParams, ImageRef
from mediaapp.core.types import Api, Asset
from mediaapp.ingest.file_tags import EMBEDDED_IPTC, EMBEDDED_XMP, find_sidecars, read_file_tags
from mediaapp.ingest.xmp import MAX_XMP_BYTES, XmpError, parse_xmp

pytestmark = needs_exiftool

SIDECARS = "8_sidecars"
ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&c;</x:xmpmeta>')


def _tags(photo):
    return read_file_tags(str(photo), [s.path for s in find_sidecars([str(photo)])])


def _state(*paths):
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


@pytest.mark.parametrize("convention", ["NAME.xmp", "NAME.EXT.xmp"])
def test_every_field_of_a_sidecar_exiftool_wrote_is_read(tmp_path, convention):
    photo = make_photo(tmp_path / "river.jpg")
    sidecar = tmp_path / ("river.xmp" if convention == "NAME.xmp" else "river.jpg.xmp")
    write_sidecar(photo, sidecar)
    before = _state(photo, sidecar)
    tags = _tags(photo)
    assert tags.problems == [] and tags.sources == [str(sidecar)]
    # dc:subject, lr:hierarchicalSubject and digiKam:TagsList; the flat Budapest is kept, Chain Bridge too
    assert set(tags.keywords) == {("Budapest",), ("Chain Bridge",), ("Animal", "Mammal", "Dog"),
                                  ("Places", "Hungary", "Danube")}
    assert (tags.title, tags.description) == ("Evening on the river", "Lanterns along the embankment")
    assert (tags.rating, tags.label, tags.date_created) == (4, "Red", "2021-06-05T19:30:00+02:00")
    [alice] = tags.regions  # MWG centre (0.5, 0.5), 0.25 x 0.5 -> top-left corner (0.375, 0.25)
    assert alice.name == "Alice Example"
    assert (alice.left, alice.top, alice.width, alice.height) == pytest.approx((0.375, 0.25, 0.25, 0.5))
    assert _state(photo, sidecar) == before  # read-only: neither the photo nor its sidecar changed


def test_embedded_xmp_and_iptc_merge_and_sidecars_take_precedence(tmp_path):
    photo = make_photo(tmp_path / "bridge.jpg")
    exiftool("-overwrite_original", "-XMP-dc:Subject=Budapest", "-XMP-dc:Title=Embedded title",
             "-XMP-xmp:Rating=2", "-IPTC:Keywords=Ringstraße", "-IPTC:Keywords=Vienna",
             "-IPTC:ObjectName=IPTC title", "-IPTC:Caption-Abstract=IPTC caption", "-IPTC:DateCreated=2006:07:14",
             "-IPTC:TimeCreated=10:20:30+02:00", "-IPTC:CodedCharacterSet=UTF8", photo)
    embedded = _tags(photo)
    assert embedded.sources == [EMBEDDED_XMP, EMBEDDED_IPTC] and embedded.problems == []
    assert set(embedded.keywords) == {("Budapest",), ("Ringstraße",), ("Vienna",)}  # UTF-8 IPTC decoded
    assert embedded.title == "Embedded title"                    # XMP before IPTC
    assert embedded.description == "IPTC caption"                # what only IPTC says is still taken
    assert embedded.date_created == "2006-07-14T10:20:30+02:00" and embedded.rating == 2

    write_sidecar(photo, tmp_path / "bridge.xmp", "-XMP-dc:Title=Lightroom title", "-XMP-dc:Subject=Danube")
    write_sidecar(photo, tmp_path / "bridge.jpg.xmp", "-XMP-dc:Title=darktable title", "-XMP-xmp:Rating=5")
    merged = _tags(photo)
    assert merged.sources[:2] == [str(tmp_path / "bridge.jpg.xmp"), str(tmp_path / "bridge.xmp")]
    assert merged.title == "darktable title" and merged.rating == 5      # NAME.EXT.xmp, then NAME.xmp, then inside
    assert {("Danube",), ("Budapest",), ("Vienna",)} <= set(merged.keywords)  # every source's keywords


def test_a_hierarchical_keyword_is_a_label_with_its_parents_in_a_valid_response(tmp_path):
    photo = make_photo(tmp_path / "dog.jpg")
    write_sidecar(photo, tmp_path / "dog.jpg.xmp")
    engine = MetadataEngine()
    ref = engine.prepare_ref(ImageRef("a" * 64, str(photo)), Asset("a" * 64, 1, "JPEG", 64, 48, [str(photo)]))
    params = engine.image_params(MetadataEngine.request_params(AnalysisParams(), {}), ref)
    outcomes = {o.api: o for o in analyse_image("metadata", {}, ["DetectLabels", "RecognizeCelebrities"], ref, params)}
    labels = outcomes["DetectLabels"].response
    celebs = outcomes["RecognizeCelebrities"].response
    validate_response("DetectLabels", labels)          # botocore's model and the app's own rules
    validate_response("RecognizeCelebrities", celebs)
    dog = next(label for label in labels["Labels"] if label["Name"] == "Dog")
    assert dog["Parents"] == [{"Name": "Mammal"}, {"Name": "Animal"}] and dog["Confidence"] == 100
    assert dog["Instances"] == [] and dog["Categories"] == [{"Name": KEYWORD_CATEGORY}]
    assert {label["Name"] for label in labels["Labels"]} == {"Budapest", "Chain Bridge", "Dog", "Danube"}
    [alice] = celebs["CelebrityFaces"]
    assert alice["Name"] == "Alice Example" and alice["Face"]["BoundingBox"]["Left"] == pytest.approx(0.375)
    extras = (outcomes["RecognizeCelebrities"].extras or outcomes["DetectLabels"].extras)["Metadata"]
    assert extras["rating"] == 4 and extras["title"] == "Evening on the river" and extras["problems"] == []


def test_the_cache_key_follows_the_sidecars(tmp_path):
    photo = make_photo(tmp_path / "key.jpg")
    asset = Asset("b" * 64, 1, "JPEG", 64, 48, [str(photo)])
    engine = MetadataEngine()

    def key():
        ref = engine.prepare_ref(ImageRef(asset.sha256, str(photo)), asset)
        return engine.image_params(MetadataParams(), ref).key(Api.DETECT_LABELS)

    bare = key()
    write_sidecar(photo, tmp_path / "key.xmp", "-XMP-dc:Subject=One")
    one = key()
    exiftool("-overwrite_original", "-XMP-dc:Subject+=Two", tmp_path / "key.xmp")
    os.utime(tmp_path / "key.xmp", ns=(1, 1))  # a different modification time, whatever the clock says
    two = key()
    assert len({bare, one, two}) == 3 and key() == two  # a sidecar appearing or changing changes the key


def test_hostile_sidecars_are_one_clear_problem_each_and_the_rest_is_read(tmp_path):
    photo = make_photo(tmp_path / "hostile.jpg")
    exiftool("-overwrite_original", "-IPTC:Keywords=Kept", photo)
    (tmp_path / "hostile.jpg.xmp").write_text(ENTITY_BOMB)
    with open(tmp_path / "hostile.xmp", "wb") as big:  # a sidecar past the size limit: never parsed
        big.truncate(MAX_XMP_BYTES + 1)
    before = _state(photo, tmp_path / "hostile.jpg.xmp")
    tags = _tags(photo)
    assert tags.keywords == [("Kept",)]
    assert len(tags.problems) == 2
    assert "hostile.jpg.xmp: refused: the XMP declares a DTD or entities" in tags.problems[0]
    assert "hostile.xmp: larger than the 16 MiB read" in tags.problems[1]
    assert _state(photo, tmp_path / "hostile.jpg.xmp") == before
    for bad, reason in ((b"<x:xmpmeta", "not well-formed XML"), (b"<a/>", "no rdf:RDF")):
        with pytest.raises(XmpError, match=reason):
            parse_xmp(bad)


def test_the_shared_sidecars_of_other_tools_are_read_without_error_and_nothing_is_lost(testdata):
    folder = testdata / SIDECARS
    fields = ["-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject", "-XMP-digiKam:TagsList", "-XMP-dc:Title",
              "-XMP-dc:Description", "-XMP-xmp:Rating", "-XMP-xmp:Label", "-XMP-photoshop:DateCreated",
              "-XMP-mwg-rs:RegionName"]
    sidecars = sorted(folder.glob("*.xmp"))
    assert len(sidecars) == 2
    for sidecar in sidecars:
        facts = parse_xmp(sidecar.read_bytes())
        truth = exiftool_json(sidecar, *fields)  # exiftool's own reading of the same file
        assert truth.get("DateCreated"), sidecar  # both carry photoshop:DateCreated, nothing else of these
        assert facts.date_created.replace("-", ":").replace("T", " ") == truth["DateCreated"]
        for name, ours in (("Subject", facts.keywords), ("Title", facts.title), ("Description", facts.description),
                           ("Rating", facts.rating), ("Label", facts.label), ("RegionName", facts.regions),
                           ("HierarchicalSubject", None), ("TagsList", None)):
            assert (name in truth) == bool(ours), (sidecar.name, name)
    media = sorted(p for p in folder.iterdir() if p.suffix.lower() not in (".xmp", ".aae"))
    for path in media:  # each with its NAME.xmp sidecar when it has one; read in place, read-only
        tags = read_file_tags(str(path), [s.path for s in find_sidecars([str(path)])])
        assert tags.problems == [], (path.name, tags.problems)
        stem = path.with_suffix(".xmp")
        assert (str(stem) in tags.sources) == stem.exists()
        truth = exiftool_json(stem if stem.exists() else path, "-XMP-photoshop:DateCreated")
        if "DateCreated" in truth:
            assert tags.date_created.replace("-", ":").replace("T", " ") == truth["DateCreated"], path.name


def test_pillow_iptc_keywords_are_read(testdata):
    path = testdata / "5_formats/metadata/pillow_iptc.jpg"
    tags = read_file_tags(str(path))
    truth = exiftool_json(path, "-IPTC:Keywords")["Keywords"]
    assert [k for (k,) in tags.keywords] == [str(k) for k in truth] and "Budapest" in truth
    assert tags.sources == [EMBEDDED_IPTC] and tags.problems == []
