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

Export writes every engine's responses unless asked for one engine's; each
entry names its ``Engine``.

Import (``ResultsExchange.import_``) reads files or folders of ``.json`` files, each
holding one record or a list of records (read as a stream, one record at a
time: ``mediaapp.services.result_files``), in any of these forms:

1. this app's export (above);
2. a flat record from another pipeline: an image id plus responses keyed by
   operation name: ``{"s3_key": "...", "DetectLabels": {...}, "DetectText": {...}}``;
3. a bare Rekognition response (``aws rekognition detect-labels ... > <sha256>.json``):
   the operation is recognised by its top-level keys, the image by a SHA-256
   in the file name.

The image is identified by ``sha256``, or by an S3 key (``s3_key``,
``S3Object.Name`` or ``Image.S3Object.Name``) that names its SHA-256, as the
keys this app uploads do (``prefix/ab/<sha256>.jpg``). Every response is
checked with ``mediaapp.analysis.validate.validate_response`` and
``check_maxima`` before it is stored, and is stored as the engine its entry
names (``Engine``; the caller's engine when it names none). Responses
without ``Params`` are stored under the library's current parameters for
the engine (the importer vouches they match), so the next
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
from mediaapp.core.types import METADATA_ENGINE, Api
from mediaapp.fsio import atomic_write
from mediaapp.settings import Settings

#: Mode of exported files (rw-------): an export holds every engine's answers, the on-device names of
#: People (biometric data) among them, and the images' paths, so it is as private as the library;
#: share it by changing the mode or copying it.
EXPORT_FILE_MODE = 0o600

#: The ``format`` tag of exported files.
EXPORT_FORMAT = "mediaapp.rekognition-results/1"

_SHA = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@dataclass
class ExportReport:
    """``images`` files written to ``directory``, holding ``responses`` responses in all.

    ``engines`` maps each engine name to the number of its responses written.
    """

    directory: str
    images: int = 0
    responses: int = 0
    engines: dict[str, int] = field(default_factory=dict)


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
    """The sha256 a record is about: its ``sha256``, an S3 key naming one, or the file name.

    Pass ``file_name`` "" for a record inside a list (a file name names one
    image, not each of many). Raises ``BadRecordError`` for a ``sha256``
    member that is not 64 hexadecimal digits (the record is not guessed
    to be about another image).
    """
    from mediaapp.storage.s3 import sha256_from_key

    sha = record.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA.fullmatch(sha.lower())):
        raise BadRecordError(f"sha256 must be 64 hexadecimal digits, not {_kind(sha)} {str(sha)[:80]!r}")
    if isinstance(sha, str):
        return sha.lower()
    s3_object = record.get("S3Object")
    image = record.get("Image")
    image_object = image.get("S3Object") if isinstance(image, dict) else None
    keys = [record.get("s3_key"), *(obj.get("Name") for obj in (s3_object, image_object) if isinstance(obj, dict))]
    for key in keys:
        if isinstance(key, str) and sha256_from_key(key):
            return sha256_from_key(key)
    found = _SHA.findall(file_name.lower())
    return found[0] if found else None


class BadRecordError(ValueError):
    """A record whose structure is not one of the accepted forms; the message says where and why."""


def _kind(value: object) -> str:
    """The JSON name of ``value``'s type, for messages (``an array``, ``a string``...)."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _entry(where: str, entry: object) -> dict:
    """One stored-response entry: ``{"Response": {...}}`` plus optional string Engine/EngineVersion/Params.

    A bare response (an object without ``Response``) is wrapped. Raises
    ``BadRecordError`` when the entry or its members have the wrong JSON type.
    """
    if not isinstance(entry, dict):
        raise BadRecordError(f"{where} must be an object, not {_kind(entry)}")
    if "Response" not in entry:
        return {"Response": entry}
    if not isinstance(entry["Response"], dict):
        raise BadRecordError(f"{where}.Response must be an object, not {_kind(entry['Response'])}")
    for key in ("Engine", "EngineVersion", "Params", "CreatedAt"):
        if key in entry and not isinstance(entry[key], str):
            raise BadRecordError(f"{where}.{key} must be a string, not {_kind(entry[key])}")
    if "Current" in entry and not isinstance(entry["Current"], bool):
        raise BadRecordError(f"{where}.Current must be true or false, not {_kind(entry['Current'])}")
    return entry


def _entries(record: dict) -> list[tuple[str, str, dict]]:
    """(operation, where in the record, entry) of a record's responses.

    An entry has ``Response`` and optionally Engine/EngineVersion/Params/
    CreatedAt/Current. Raises ``BadRecordError`` for a record of the wrong
    structure (the whole record is then refused, so none of it is stored).
    """
    out: list[tuple[str, str, dict]] = []
    if "responses" in record:
        responses = record["responses"]
        if not isinstance(responses, dict):
            raise BadRecordError(f'"responses" must be an object keyed by operation, not {_kind(responses)}')
        for api, entries in responses.items():
            items = entries if isinstance(entries, list) else [entries]
            for i, entry in enumerate(items):
                where = f"responses.{api}[{i}]"
                out.append((api, where, _entry(where, entry)))
        return out
    for api in Api:
        if api.value in record:
            if not isinstance(record[api.value], dict):
                raise BadRecordError(f"{api.value} must be a response object, not {_kind(record[api.value])}")
            out.append((api.value, api.value, {"Response": record[api.value]}))
    if out:
        return out
    op = _operation_of(record)
    return [(op, "the response", {"Response": record})] if op else []


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

    def export(self, directory: str | Path, engine: str | None = None) -> ExportReport:
        """Write every image's stored responses to ``directory`` as ``<sha256>.json``.

        ``engine``: only that engine's responses; None (the default) exports
        every analysis engine's, each entry naming its ``Engine``, and the
        report counts responses per engine. The ``metadata`` engine's answers
        are left out: they restate what the files say and are read again
        for free wherever the files go. One image is read and written at a time,
        so memory does not grow with the library. Files are written atomically
        with ``mediaapp.fsio.atomic_write`` (a new ``O_EXCL`` temporary file,
        then a rename), so a symbolic link planted in ``directory`` under any
        name is never written through. Raises ``OSError``.
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
                responses = {api: [e for e in entries if e["Engine"] == engine
                                   or (engine is None and e["Engine"] != METADATA_ENGINE)]
                             for api, entries in stored.items()}
                responses = {api: entries for api, entries in responses.items() if entries}
                if not responses:
                    continue
                record = {"format": EXPORT_FORMAT, "sha256": sha, "paths": asset.paths, "responses": responses}
                if sha in keys and config is not None:
                    record["s3_bucket"] = config.bucket
                    record["s3_key"] = keys[sha]
                # a fresh O_EXCL temporary name, then a rename: a link planted in the folder is never followed
                atomic_write(out / f"{sha}.json", json.dumps(record, indent=1, sort_keys=True).encode("utf-8"),
                             mode=EXPORT_FILE_MODE)
                report.images += 1
                for entries in responses.values():
                    report.responses += len(entries)
                    for e in entries:
                        report.engines[e["Engine"]] = report.engines.get(e["Engine"], 0) + 1
        return report

    def import_(self, paths: Iterable[str | Path], engine: str = CLOUD_ENGINE) -> ImportResultsReport:
        """Store the responses found in ``paths`` (JSON files, or folders of them).

        Each response is stored as the engine its entry names (``Engine``, as
        export writes it), so one engine's result never stands in for
        another's; ``engine`` is for responses that name none (bare
        Rekognition responses, other pipelines' records). An entry naming an
        engine this library does not know (not registered, not configured,
        not ``engine``) is refused: engine names are never imported as code.

        Files are read as a stream of records (``result_files.read_records``),
        so a file of any size costs the memory of one record. Every record is
        checked before anything of it is stored: its structure, then each
        response with ``validate_response`` and ``check_maxima`` (no more
        items than Rekognition returns). A bad record, response or file gives
        one (place, reason) entry in ``problems`` and the rest carries on.
        Returns what was stored; the indexes are updated for images in the
        library. Raises ``OSError`` only for an unreadable folder.
        """
        from mediaapp.fsio import open_regular
        from mediaapp.services.result_files import NotJsonError, RefusedRecord, read_records

        report = ImportResultsReport()
        files: list[Path] = []
        for p in paths:
            p = Path(p).expanduser()
            files += sorted(p.rglob("*.json")) if p.is_dir() else [p]
        touched: set[str] = set()
        store = _Storer(self, engine, report, touched)
        for path in files:
            try:
                with open_regular(path) as stream:
                    for item in read_records(stream):
                        where = item.where(str(path))
                        if isinstance(item.value, RefusedRecord):
                            report.problems.append((where, f"record refused: {item.value.reason}"))
                        elif not isinstance(item.value, dict):
                            report.problems.append((where, f"a record must be a JSON object, not {_kind(item.value)}"))
                        else:
                            store.record(item.value, "" if item.in_list else path.name, where)
            except OSError as exc:
                report.problems.append((str(path), f"cannot read: {exc.strerror or exc}"))
            except NotJsonError as exc:
                report.problems.append((str(path), f"not valid JSON: {exc}"))
        report.images = len(touched)
        self.changed()
        return report


class _Storer:
    """Checks and stores the records of one ``ResultsExchange.import_`` run (see there)."""

    def __init__(self, exchange: ResultsExchange, default_engine: str, report: ImportResultsReport,
                 touched: set[str]):
        from mediaapp.analysis.registry import engine_names

        self.exchange = exchange
        self.default_engine = default_engine
        self.report = report
        self.touched = touched
        self.known = {*engine_names(), *exchange.settings().engines, default_engine}
        self.params: dict[str, AnalysisParams] = {}

    def record(self, record: dict, file_name: str, where: str) -> None:
        """Check one record, then store its valid responses; problems go to the report under ``where``.

        ``file_name``: the file's name when the file is this one record ("" in
        a list). A record of the wrong structure is refused whole; an entry
        whose response is invalid (or of an unknown engine) is named and
        skipped, the record's other entries are stored. Entries of one (API,
        engine) are stored oldest first and the one marked ``Current`` last,
        so the answer current where it was exported is current here too.
        """
        from mediaapp.analysis.validate import ResponseValidationError, check_maxima, validate_response

        problems = self.report.problems
        try:
            sha = _identify(record, file_name)
            entries = _entries(record) if sha is not None else []
        except BadRecordError as exc:
            problems.append((where, f"record refused: {exc}"))
            return
        if sha is None:
            problems.append((where, "no sha256, and no S3 key or file name naming one"))
            return
        if not entries:
            problems.append((where, "no " + ", ".join(api.value for api in Api) + " response"))
            return
        checked: list[tuple[bool, str, Api, str, str, str, dict]] = []
        for op, label, entry in entries:
            try:
                api = Api(op)
            except ValueError:
                problems.append((where, f"{label}: unsupported operation {op!r}"))
                continue
            engine = entry.get("Engine", self.default_engine)
            if engine not in self.known:
                problems.append((where, f"{label}: results of unknown engine {engine!r} (known: "
                                        f"{', '.join(sorted(self.known))})"))
                continue
            response = {k: v for k, v in entry["Response"].items() if k != "ResponseMetadata"}
            try:
                check_maxima(api.value, response)  # first: a response of a million labels is refused cheaply
                validate_response(api.value, response)
            except ResponseValidationError as exc:
                problems.append((where, f"{label}: invalid {api.value} response: {exc}"))
                continue
            params = self._params(engine)
            if params is None:
                problems.append((where, f"{label}: engine {engine!r} cannot be configured with this library's "
                                        "settings"))
                continue
            key = entry.get("Params", params.key(api))
            model = response.get("LabelModelVersion") or response.get("TextModelVersion")
            version = entry.get("EngineVersion") or (f"{engine}/{model}" if model else f"{engine}/imported")
            checked.append((bool(entry.get("Current", False)), entry.get("CreatedAt", ""), api, engine, key, version,
                            response))
        catalog = self.exchange.catalog
        for current, _created, api, engine, key, version, response in sorted(checked, key=lambda c: (c[0], c[1])):
            already = catalog.cached_analysis(sha, api.value, engine, key, version) is not None
            if already:
                self.report.already += 1
                if not current:
                    continue
            # stored (again, for a current answer already there, so that it is the current one)
            catalog.store_analysis(sha256=sha, api=api.value, engine=engine, engine_version=version,
                                   params=key, response=response, detections=flatten(api, response, engine))
            if not already:
                self.report.stored += 1
            self.touched.add(sha)

    def _params(self, engine: str) -> AnalysisParams | None:
        """The library's request parameters for ``engine`` (cached), or None when it cannot be configured."""
        from mediaapp.core.analysis import EngineUnavailableError

        if engine not in self.params:
            try:
                self.params[engine] = self.exchange.params_for(engine)
            except EngineUnavailableError:
                return None
        return self.params[engine]
