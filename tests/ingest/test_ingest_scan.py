"""scan.iter_files walks folders robustly; media.sniff_format recognises images by content."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

import mediaapp.ingest.decode  # noqa: F401  (registers the HEIF/AVIF openers with Pillow)
from mediaapp.ingest import scan
from mediaapp.ingest.media import sniff_format
from mediaapp.ingest.scan import FileEntry, iter_files, sniff_bytes


def _collect(roots):
    errors: list[tuple[str, str]] = []
    entries = list(iter_files(roots, lambda path, reason: errors.append((path, reason))))
    return entries, errors


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "a").mkdir(parents=True)
    (root / "b" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a" / "one.jpg").write_bytes(b"x" * 10)
    (root / "b" / "deep" / "two.png").write_bytes(b"y" * 20)
    (root / "top.txt").write_bytes(b"")
    (root / ".git" / "HEAD").write_bytes(b"ref")
    (root / "a" / "._one.jpg").write_bytes(b"appledouble")
    return root


def test_walk_yields_regular_files_with_stat_and_skips_hidden(tmp_path):
    root = _tree(tmp_path)
    entries, errors = _collect([root])
    assert errors == []
    assert [e.path for e in entries] == [
        str(root / "top.txt"), str(root / "a" / "one.jpg"), str(root / "b" / "deep" / "two.png")]
    for entry in entries:
        st = os.stat(entry.path)
        assert entry == FileEntry(entry.path, st.st_size, st.st_mtime_ns)
        assert os.path.isabs(entry.path)


def test_walk_survives_symlink_loops_and_skips_special_files(tmp_path):
    root = _tree(tmp_path)
    os.symlink(root, root / "b" / "deep" / "loop")          # loop back to the root
    os.symlink(root / "a" / "one.jpg", root / "link.jpg")    # link to a file
    os.symlink(root / "missing", root / "dangling")          # dangling link
    os.mkfifo(root / "pipe")                                 # reading it would block
    entries, errors = _collect([root, root / "a"])           # overlapping roots too
    assert errors == []
    paths = [e.path for e in entries]
    assert sorted(paths) == sorted([
        str(root / "link.jpg"), str(root / "top.txt"), str(root / "a" / "one.jpg"),
        str(root / "b" / "deep" / "two.png")])


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    monkeypatch.chdir(root.parent)
    entries, _ = _collect(["photos"])
    assert {e.path for e in entries} == {str(root / "top.txt"), str(root / "a" / "one.jpg"),
                                        str(root / "b" / "deep" / "two.png")}


def test_unreadable_folder_is_reported_and_walk_continues(tmp_path, monkeypatch):
    # Running as root bypasses chmod 000, so the refusal is simulated at the
    # os.scandir level, exactly where a real permission error surfaces.
    root = _tree(tmp_path)
    locked = root / "a"
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(scan.os, "scandir", scandir)
    entries, errors = _collect([root, tmp_path / "nowhere"])
    assert errors == [(str(locked), "Permission denied"),
                      (str(tmp_path / "nowhere"), "No such file or directory")]
    assert [e.path for e in entries] == [str(root / "top.txt"), str(root / "b" / "deep" / "two.png")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unreadable_folder_real_permissions(tmp_path):
    root = _tree(tmp_path)
    (root / "a").chmod(0)
    try:
        entries, errors = _collect([root])
    finally:
        (root / "a").chmod(0o755)
    assert errors == [(str(root / "a"), "Permission denied")]
    assert str(root / "b" / "deep" / "two.png") in [e.path for e in entries]


def test_file_root_and_real_testdata_tree(formats_dir):
    entries, errors = _collect([formats_dir, formats_dir / "metadata" / "pillow_iptc.jpg"])
    assert errors == []
    expected = sorted(str(Path(d) / f) for d, _, files in os.walk(formats_dir) for f in files
                      if not f.startswith("."))
    paths = [e.path for e in entries]
    assert sorted(paths[:-1]) == expected
    assert paths[-1] == str(formats_dir / "metadata" / "pillow_iptc.jpg")


def _pillow_format(path: Path) -> str | None:
    try:
        with Image.open(path) as img:
            return {"MPO": "JPEG"}.get(img.format, img.format)
    except Exception:
        return None


def test_sniff_agrees_with_pillow_on_every_decodable_test_file(formats_dir):
    from ingest_cases import DISPLAY_SIZES

    for rel in DISPLAY_SIZES:
        path = formats_dir / rel
        assert sniff_format(path) == _pillow_format(path), rel


@pytest.mark.parametrize("rel, expected", [
    ("broken/photoprism_this-is-a-jpeg.png", "JPEG"),   # JPEG content, .png name
    ("containers/pillow_frozenpond.mpo", "JPEG"),       # MPO is a JPEG
    ("containers/photoprism_iphone_7.heic", "HEIF"),
    ("containers/photoprism_star.avifs", "AVIF"),
    ("orientation/photoprism_rotate_6.tiff", "TIFF"),
    ("broken/pillow_broken.png", "PNG"),                # valid signature, broken body
    ("broken/vips_17000x17000.avif", "AVIF"),
])
def test_sniff_named_cases(formats_dir, rel, expected):
    assert sniff_format(formats_dir / rel) == expected


def test_sniff_ignores_extension(formats_dir, tmp_path):
    fake = tmp_path / "holiday.txt"
    shutil.copyfile(formats_dir / "containers" / "photoprism_norway-kjetil-moe.webp", fake)
    assert sniff_format(fake) == "WEBP"
    png_as_jpg = tmp_path / "scan.jpg"
    shutil.copyfile(formats_dir / "orientation" / "photoprism_rotate_6.png", png_as_jpg)
    assert sniff_format(png_as_jpg) == "PNG"


def test_sniff_rejects_non_images(testdata, tmp_path):
    assert sniff_format(testdata / "MANIFEST.md") is None
    assert sniff_format(testdata / "manifest.json") is None
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert sniff_format(empty) is None
    assert sniff_bytes(b"BMW service notes: oil changed 2019\n") is None   # "BM" but no DIB header
    assert sniff_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") is None  # MP4 video
    assert sniff_bytes(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf") == "AVIF"
    assert sniff_bytes(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf") == "HEIF"
    with pytest.raises(FileNotFoundError):
        sniff_format(tmp_path / "absent.jpg")
