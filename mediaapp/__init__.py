"""mediaapp: a searchable media library.

Layers (each a sub-package): ``core`` (pure domain types), ``catalog`` (SQLite
catalog), ``ingest`` (scan, hash, metadata, thumbnails), ``analysis`` (engines
answering in Amazon Rekognition's response schema), ``storage`` (local and S3
media stores), ``search`` (embedded SQLite FTS5 and OpenSearch backends),
``ui`` (PySide6) and ``cli``. ``mediaapp.library`` wires them together.
"""

__version__ = "0.1.0"
