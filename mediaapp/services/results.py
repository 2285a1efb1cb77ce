"""Stored Rekognition responses out of and into the library, so no one pays twice.

Export (``ResultsExchange.export``) writes one JSON file per image, ``<sha256>.json``
(``s3_bucket``/``s3_key`` only when the usage ledger records an object of
the image in the configured bucket that was not deleted since: the key that
really holds it, original ``.jpg``/``.png`` or ``-p<side>.jpg`` proxy)::

    {"format": "mediaapp.rekognition-results/1", "sha256": "<64 hex>",
     "paths": ["/photos/a.jpg"], "s3_key": "mediaapp/ab/<sha256>.jpg",
     "responses": {"DetectLabels": [{"Engine": "rekognition", "EngineVersion": "rekognition/3.0",
                                     "Params": "MaxLabels=None;MinConfidence=50",
                                     "CreatedAt": "...", "Response": {...}}], ...}}

Import (``ResultsExchange.import_``) reads files or folders of ``.json`` files, each
holding one record or a list of records, in any of these forms:

1. this app's export (above);
2. a flat record from another pipeline: an image id plus responses keyed by
   operation name: ``{"s3_key": "...", "DetectLabels": {...}, "DetectText": {...}}``;
3. a bare Rekognition response (``aws rekognition detect-labels ... > <sha256>.json``):
   the operation is recognised by its top-level keys, the image by a SHA-256
   in the file name.

The image is identified by ``sha256``, or by an S3 key (``s3_key``,
``S3Object.Name`` or ``Image.S3Object.Name``) that names its SHA-256, as the
keys this app uploads do (``prefix/ab/<sha256>.jpg``). Every response is
checked with ``mediaapp.analysis.validate.validate_response`` before it is
stored. Responses without ``Params`` are stored under the library's current
parameters for the engine (the importer vouches they match), so the next
import finds them cached. Images not yet in the library may be imported too:
their responses wait in the catalog for the files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mediaapp.analysis.engine_base import AnalysisParams
from mediaapp.catalog.db import Catalog
from mediaapp.core.analysis import CLOUD_ENGINE
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api
from mediaapp.fsio import atomic_write
from mediaapp.settings import Settings

#: Mode of exported files (rw-r--r--): exports are made to be read by other tools and people.
EXPORT_FILE_MODE = 0o644

#: The ``format`` tag of exported files.
EXPORT_FORMAT = "mediaapp.rekognition-results/1"

_SHA = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@dataclass
class ExportReport:
    """``images`` files written to ``directory``, holding ``responses`` responses in all."""

    directory: str
    images: int = 0
    responses: int = 0


@dataclass
class ImportResultsReport:
    """What ``ResultsExchange.import_`` did.

    ``stored``: responses stored; ``already``: identical ones already there;
    ``images``: distinct images touched; ``problems``: (file, reason) for
    records that were not stored (invalid response, unknown image...).
    """

    stored: int = 0
    already: int = 0
    images: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def _operation_of(response: dict) -> str | None:
    if "Labels" in response:
        return Api.DETECT_LABELS.value
    if "TextDetections" in response:
        return Api.DETECT_TEXT.value
    if "CelebrityFaces" in response or "UnrecognizedFaces" in response:
        return Api.RECOGNIZE_CELEBRITIES.value
    return None


def _identify(record: dict, file_name: str) -> str | None:
    """The sha256 a record is about: its ``sha256``, an S3 key naming one, or the file name."""
    from mediaapp.storage.s3 import sha256_from_key

    sha = record.get("sha256")
    if isinstance(sha, str) and _SHA.fullmatch(sha.lower()):
        return sha.lower()
    keys = [record.get("s3_key"), (record.get("S3Object") or {}).get("Name"),
            ((record.get("Image") or {}).get("S3Object") or {}).get("Name")]
    for key in keys:
        if isinstance(key, str) and sha256_from_key(key):
            return sha256_from_key(key)
    found = _SHA.findall(file_name.lower())
    return found[0] if found else None


def _entries(record: dict) -> list[tuple[str, dict]]:
    """(operation, entry) pairs of a record; an entry has ``Response`` and optionally Params/EngineVersion."""
    out: list[tuple[str, dict]] = []
    if isinstance(record.get("responses"), dict):
        for api, entries in record["responses"].items():
            for entry in entries if isinstance(entries, list) else [entries]:
                out.append((api, entry if "Response" in entry else {"Response": entry}))
        return out
    named = [(api.value, record[api.value]) for api in Api if isinstance(record.get(api.value), dict)]
    if named:
        return [(api, {"Response": resp}) for api, resp in named]
    op = _operation_of(record)
    return [(op, {"Response": record})] if op else []


def _records(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


class ResultsExchange:
    """Exports and imports one library's stored responses; built by the composition root.

    ``catalog``: where responses are stored; ``root``: the library folder
    (its usage ledger names the S3 keys); ``settings``: returns the current
    settings mapping; ``params_for``: the request parameters of an engine
    (``CostEstimator.analysis_params``), the cache key of imported responses
    without their own; ``changed``: called after an import stored responses
    (they marked the change feed), so search sync indexes them.
    """

    def __init__(self, catalog: Catalog, root: Path, settings: Callable[[], Settings],
                 params_for: Callable[[str], AnalysisParams], changed: Callable[[], object]):
        self.catalog = catalog
        self.root = Path(root)
        self.settings = settings
        self.params_for = params_for
        self.changed = changed

    def export(self, directory: str | Path, engine: str = CLOUD_ENGINE) -> ExportReport:
        """Write every image's stored ``engine`` responses to ``directory`` as ``<sha256>.json``.

        Files are written atomically with ``mediaapp.fsio.atomic_write`` (a new
        ``O_EXCL`` temporary file, then a rename), so a symbolic link planted
        in ``directory`` under any name is never written through. Raises ``OSError``.
        """
        from mediaapp.cloud.config import load_config
        from mediaapp.cloud.pricing import LEDGER_FILE, Ledger

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        try:
            config = load_config(self.settings())
        except ValueError:
            config = None
        report = ExportReport(str(out))
        keys: dict[str, str] = {}
        if config is not None and config.bucket:
            ledger = Ledger(self.root / LEDGER_FILE)
            try:
                keys = ledger.object_keys(config.bucket)
            finally:
                ledger.close()
        shas = self.catalog.all_sha256s()
        for i in range(0, len(shas), 500):
            assets = self.catalog.assets(shas[i:i + 500])
            for sha, asset in assets.items():
                stored = self.catalog.responses(sha)
                responses = {api: [e for e in entries if e["Engine"] == engine] for api, entries in stored.items()}
                responses = {api: entries for api, entries in responses.items() if entries}
                if not responses:
                    continue
                record = {"format": EXPORT_FORMAT, "sha256": sha, "paths": asset.paths, "responses": responses}
                if sha in keys:
                    record["s3_bucket"] = config.bucket
                    record["s3_key"] = keys[sha]
                # a fresh O_EXCL temporary name, then a rename: a link planted in the folder is never followed
                atomic_write(out / f"{sha}.json", json.dumps(record, indent=1, sort_keys=True).encode("utf-8"),
                             mode=EXPORT_FILE_MODE)
                report.images += 1
                report.responses += sum(len(v) for v in responses.values())
        return report

    def import_(self, paths: Iterable[str | Path], engine: str = CLOUD_ENGINE) -> ImportResultsReport:
        """Store the responses found in ``paths`` (JSON files, or folders of them) as ``engine`` analyses.

        Returns what was stored and a (file, reason) list of what was not; the
        indexes are updated for images in the library. Raises ``OSError`` only
        for an unreadable folder; unreadable or invalid files are reported.
        """
        from mediaapp.analysis.validate import ResponseValidationError, validate_response

        params = self.params_for(engine)
        report = ImportResultsReport()
        files: list[Path] = []
        for p in paths:
            p = Path(p).expanduser()
            files += sorted(p.rglob("*.json")) if p.is_dir() else [p]
        touched: set[str] = set()
        for path in files:
            try:
                records = _records(path)
            except (OSError, ValueError) as exc:
                report.problems.append((str(path), f"not readable JSON: {exc}"))
                continue
            for record in records:
                if not isinstance(record, dict):
                    report.problems.append((str(path), "a record is not a JSON object"))
                    continue
                sha = _identify(record, path.name)
                if sha is None:
                    report.problems.append((str(path), "no sha256, and no S3 key or file name naming one"))
                    continue
                entries = _entries(record)
                if not entries:
                    report.problems.append((str(path), "no DetectLabels, DetectText or RecognizeCelebrities response"))
                    continue
                for op, entry in entries:
                    try:
                        api = Api(op)
                    except ValueError:
                        report.problems.append((str(path), f"unsupported operation {op!r}"))
                        continue
                    response = {k: v for k, v in entry["Response"].items() if k != "ResponseMetadata"}
                    try:
                        validate_response(api.value, response)
                    except ResponseValidationError as exc:
                        report.problems.append((str(path), f"invalid {api.value} response: {exc}"))
                        continue
                    key = entry.get("Params", params.key(api))
                    model = response.get("LabelModelVersion") or response.get("TextModelVersion")
                    version = entry.get("EngineVersion") or (f"{engine}/{model}" if model else f"{engine}/imported")
                    if self.catalog.cached_analysis(sha, api.value, engine, key, version) is not None:
                        report.already += 1
                        continue
                    self.catalog.store_analysis(sha256=sha, api=api.value, engine=engine, engine_version=version,
                                                   params=key, response=response,
                                                   detections=flatten(api, response, engine))
                    report.stored += 1
                    touched.add(sha)
        report.images = len(touched)
        self.changed()
        return report
