"""worker.process_file and thumbnails on every real test file: results, errors, thumbnails, originals."""

from __future__ import annotations

import os
import pickle
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ingest_cases import BROKEN, DISPLAY_SIZES
from PIL import Image

from mediaapp.ingest import media
from mediaapp.ingest.decode import open_rgb
from mediaapp.ingest.hashing import sha256_file
from mediaapp.ingest.ingest_worker import FileResult, process_file
from mediaapp.ingest.thumbnails import make_thumbnail, thumbnail_path


@pytest.fixture(scope="module")
def results(formats_dir, tmp_path_factory):
    """process_file over every file in 5_formats, keyed by relative path, plus the thumb dir."""
    thumbs = tmp_path_factory.mktemp("thumbs")
    before = {p: (sha256_file(p), os.stat(p).st_mtime_ns) for p in formats_dir.rglob("*") if p.is_file()}
    out = {str(p.relative_to(formats_dir)): process_file(str(p), str(thumbs)) for p in before}
    after = {p: (sha256_file(p), os.stat(p).st_mtime_ns) for p in before}
    return out, thumbs, before, after


def test_every_decodable_file_imports_with_display_size(results, manifest_sha256):
    out, thumbs, _, _ = results
    for rel, (width, height) in DISPLAY_SIZES.items():
        r = out[rel]
        assert r.error_stage is None and r.error is None, (rel, r.error)
        assert (r.width, r.height) == (width, height), rel
        assert r.sha256 == manifest_sha256[rel], rel
        assert r.size == os.path.getsize(r.path) and r.mtime_ns == os.stat(r.path).st_mtime_ns
        assert r.thumbnail == thumbnail_path(thumbs, r.sha256)
        assert r.thumbnail.startswith(os.path.join(str(thumbs), r.sha256[:2], ""))


def test_thumbnails_are_small_jpegs_with_the_display_aspect(results):
    out, _, _, _ = results
    for rel, (width, height) in DISPLAY_SIZES.items():
        with Image.open(out[rel].thumbnail) as thumb:
            assert (thumb.format, thumb.mode) == ("JPEG", "RGB"), rel
            tw, th = thumb.size
        assert max(tw, th) == min(320, max(width, height)), rel
        # Same orientation and aspect as the displayed image (1 px rounding).
        assert abs(tw * height / width - th) <= 1.0, (rel, thumb.size, (width, height))


def test_thumbnail_pixels_are_upright(results):
    """The eight vips_rotation files show one scene; once oriented they must all match #1."""
    out, _, _, _ = results

    def pixels(rel):
        with Image.open(out[rel].thumbnail) as thumb:
            return np.asarray(thumb.convert("RGB").resize((60, 80)), dtype=float)

    reference = pixels("orientation/vips_rotation_1.jpg")
    for n in range(2, 9):
        img = pixels(f"orientation/vips_rotation_{n}.jpg")
        same = np.abs(img - reference).mean()
        mirrored = np.abs(img[:, ::-1] - reference).mean()
        flipped = np.abs(img[::-1] - reference).mean()
        assert same < 8 and same * 4 < min(mirrored, flipped), (n, same, mirrored, flipped)


def test_broken_files_give_one_clear_error_each(results, formats_dir):
    out, _, _, _ = results
    broken = sorted(str(p.relative_to(formats_dir)) for p in (formats_dir / "broken").iterdir())
    # Every file of broken/ is either expected to fail or known to be decodable.
    assert set(broken) == set(BROKEN) | {r for r in DISPLAY_SIZES if r.startswith("broken/")}
    for rel, (stage, word) in BROKEN.items():
        r = out[rel]
        assert r.error_stage == stage, (rel, r)
        assert word in r.error.lower(), (rel, r.error)
        assert r.thumbnail is None, rel
    assert out["broken/photoprism_this-is-a-jpeg.png"].format == "JPEG"


def test_originals_are_never_written(results):
    _, _, before, after = results
    assert after == before


def test_non_image_empty_and_missing(tmp_path, testdata):
    notes = process_file(str(testdata / "MANIFEST.md"), str(tmp_path))
    assert (notes.error_stage, notes.error) == ("sniff", "not an image or video (unrecognised content)")
    assert notes.size == os.path.getsize(testdata / "MANIFEST.md")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    r = process_file(str(empty), str(tmp_path))
    assert (r.error_stage, r.error) == ("sniff", "empty file (0 bytes)")
    r = process_file(str(tmp_path / "absent.jpg"), str(tmp_path))
    assert r.error_stage == "read" and "No such file" in r.error
    r = process_file(str(tmp_path), str(tmp_path))
    assert (r.error_stage, r.error) == ("read", "not a regular file")


def test_thumbnail_dir_unwritable_is_a_thumbnail_error(formats_dir, tmp_path):
    blocker = tmp_path / "thumbs"
    blocker.write_bytes(b"a file where the thumbnail folder should be")
    r = process_file(str(formats_dir / "metadata" / "pillow_iptc.jpg"), str(blocker))
    assert r.error_stage == "thumbnail" and "cannot write thumbnail" in r.error
    assert r.sha256 and r.width == 640       # earlier stages still reported


def test_file_changing_during_import_is_reported(formats_dir, tmp_path, monkeypatch):
    copy = tmp_path / "photo.jpg"
    shutil.copyfile(formats_dir / "metadata" / "pillow_iptc.jpg", copy)
    real_save = media.save_thumbnail

    def save_and_touch(*args, **kwargs):
        os.utime(copy, ns=(0, 1))               # a copy tool rewriting the file meanwhile
        return real_save(*args, **kwargs)

    monkeypatch.setattr(media, "save_thumbnail", save_and_touch)
    r = process_file(str(copy), str(tmp_path / "thumbs"))
    assert r.error_stage == "read" and "changed" in r.error


def test_existing_thumbnail_is_reused(formats_dir, tmp_path):
    src = formats_dir / "orientation" / "vips_rotation_6.jpg"
    first = process_file(str(src), str(tmp_path))
    stamp = os.stat(first.thumbnail).st_mtime_ns
    again = process_file(str(src), str(tmp_path))
    assert again == first and os.stat(first.thumbnail).st_mtime_ns == stamp
    assert make_thumbnail(src, tmp_path, first.sha256) == first.thumbnail
    assert [p.name for p in Path(first.thumbnail).parent.iterdir()] == [Path(first.thumbnail).name]


def test_make_thumbnail_standalone(formats_dir, tmp_path):
    src = formats_dir / "containers" / "photoprism_animated.gif"
    sha = sha256_file(src)
    path = make_thumbnail(src, tmp_path, sha, max_side=100)
    with Image.open(path) as thumb:
        assert thumb.size == (100, 80) and thumb.format == "JPEG"
    with pytest.raises(ValueError):
        make_thumbnail(src, tmp_path, "../../etc/passwd")


def test_wide_gamut_thumbnail_is_converted_to_srgb(results, formats_dir):
    """Display P3 pixels reinterpreted as sRGB look dull; the thumbnail must differ from them."""
    out, _, _, _ = results
    rel = "color_depth/photoprism_Iceland-P3.jpg"
    raw = np.asarray(open_rgb(formats_dir / rel, 320), dtype=float)
    with Image.open(out[rel].thumbnail) as thumb:
        assert "icc_profile" not in thumb.info
        converted = np.asarray(thumb.convert("RGB"), dtype=float)
    assert np.abs(converted - raw).mean() > 2.0
    # sRGB is the smaller gamut: converted colours are at least as saturated.
    assert (converted.max(-1) - converted.min(-1)).mean() >= (raw.max(-1) - raw.min(-1)).mean()


def test_results_pickle_and_run_in_a_process_pool(formats_dir, tmp_path):
    files = [str(formats_dir / "metadata" / "pillow_iptc.jpg"),
             str(formats_dir / "broken" / "vips_truncated.jpg")]
    with ProcessPoolExecutor(2) as pool:
        got = list(pool.map(process_file, files, [str(tmp_path)] * len(files)))
    assert [r.error_stage for r in got] == [None, "decode"]
    assert got[0].camera_make == "Nokia" and got[0].taken_at == "2006-07-08T21:14:45"
    assert pickle.loads(pickle.dumps(got[0])) == got[0]
    assert isinstance(got[1], FileResult) and not got[1].ok
