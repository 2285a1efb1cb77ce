"""Ingest: folder scanning, content sniffing, hashing, metadata and thumbnails."""
