"""hashing.sha256_file matches the published checksums of the test files."""

from __future__ import annotations

import pytest

from mediaapp.ingest.hashing import sha256_file


def test_matches_manifest_for_every_format_file(formats_dir, manifest_sha256):
    assert len(manifest_sha256) > 40
    for rel, expected in manifest_sha256.items():
        assert sha256_file(formats_dir / rel) == expected, rel


def test_chunk_size_does_not_change_digest(formats_dir, manifest_sha256):
    rel = "containers/photoprism_animated.gif"   # 1.7 MB: many chunks
    for chunk in (1, 7, 4096, 1 << 20, 1 << 24):
        if chunk == 1:
            rel_small = "broken/pillow_broken.png"  # 80 bytes: byte-by-byte is fine
            assert sha256_file(formats_dir / rel_small, chunk) == manifest_sha256[rel_small]
        else:
            assert sha256_file(formats_dir / rel, chunk) == manifest_sha256[rel]


def test_empty_file_and_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    # SHA-256 of the empty message (FIPS 180-4 test vector).
    assert sha256_file(empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    with pytest.raises(ValueError):
        sha256_file(empty, 0)
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "absent")
    with pytest.raises(IsADirectoryError):
        sha256_file(tmp_path)
