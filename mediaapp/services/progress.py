"""Progress reports of the library's long operations (imports, index rebuilds), for every front end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mediaapp.core.types import ImportReport

__all__ = ["ImportProgress", "ProgressCallback"]


@dataclass
class ImportProgress:
    """A progress report during ``ImportPipeline.import_paths``.

    ``stage`` is ``scan``, ``ingest``, ``metadata`` (reading what the files
    say about themselves: XMP, sidecars, IPTC), ``analyse`` or ``done``, or ``model
    download`` / ``model extract`` / ``model convert`` while an engine fetches
    a model on first use; ``done`` and ``total`` count files (ingest), images
    (metadata, analyse), bytes (model download; total 0 when unknown) or steps;
    ``report`` holds the running counts.
    """

    stage: str
    done: int
    total: int
    path: str | None = None
    report: ImportReport = field(default_factory=ImportReport)


ProgressCallback = Callable[[ImportProgress], None]
