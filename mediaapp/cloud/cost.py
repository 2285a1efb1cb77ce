"""What cloud analysis costs, before spending: the price table, estimates, the usage ledger and budgets.

The price table is ``resources/prices.json`` (US dollars, with its date and
source; user-editable, or replaced by the file named in the cloud setting
``prices_path``). Rekognition bills every API run on one image as one image,
in monthly volume tiers per API group; this module prices each call at the
tier reached by this month's usage recorded in the ledger.

The ledger is a small SQLite file in the library folder
(``cloud_usage.sqlite``, separate from the catalog) recording what the cloud
engine did: one row per billed call (the month budget sums them), the S3
objects it wrote (so exports name the key that really holds an image), and
paid responses that failed validation (kept, so they are never bought
again by accident). ``Budget`` is shared by the engine's threads:
each call first *reserves* its price (raising ``AnalysisError`` with code
``BudgetExceeded`` when the run or month limit would be passed), then
*commits* it after the call succeeded or *releases* it when the call failed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mediaapp.analysis.base import AnalysisError, AnalysisParams
from mediaapp.core.types import Api
from mediaapp.fsio import create_private_file
from mediaapp.paths import is_below

#: The bundled price table (repository ``resources/prices.json``).
DEFAULT_PRICES = Path(__file__).resolve().parents[2] / "resources" / "prices.json"
#: The ledger file name inside a library folder.
LEDGER_FILE = "cloud_usage.sqlite"
#: The ledger's pseudo-API for DetectLabels' priced IMAGE_PROPERTIES feature.
IMAGE_PROPERTIES = "DetectLabels:IMAGE_PROPERTIES"


class PriceTable:
    """Per-image prices by API and monthly tier, read from a JSON price table.

    ``data`` is the parsed file (see ``resources/prices.json``). Raises
    ``ValueError`` when an API has no price.
    """

    def __init__(self, data: dict, path: str | None = None):
        self.data = data
        self.path = path
        self.date = data.get("date", "?")
        self.source = data.get("source", "?")
        self.currency = data.get("currency", "USD")
        self._groups: dict[str, tuple[str, list[dict]]] = {}
        self._sources: dict[str, dict] = {}
        for gname, group in data.get("rekognition", {}).get("groups", {}).items():
            for api in group.get("apis", []):
                self._groups[api] = (gname, group.get("tiers", []))
                self._sources[api] = self._source(group)
        s3 = data.get("s3", {})
        self.s3_source = self._source(s3)
        self.s3_put = float(s3.get("put_usd_per_1000", 0)) / 1000
        self.s3_head = float(s3.get("head_usd_per_1000", 0)) / 1000
        self.s3_storage_gb_month = float(s3.get("storage_usd_per_gb_month", 0))

    def _source(self, section: dict) -> dict:
        """``{"date", "source", "verified"}`` of one section (the table's own date and source when it has none)."""
        return {"date": section.get("date", self.date), "source": section.get("source", self.source),
                "verified": section.get("verified", "not stated")}

    def source_of(self, api: str) -> dict:
        """Where the price of ``api`` comes from: ``{"date": "YYYY-MM-DD", "source": URL and notes,
        "verified": what was checked}``. Raises ``ValueError`` when unpriced."""
        self.group(api)
        return dict(self._sources[api])

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PriceTable":
        """Read the table at ``path`` (default: the bundled one). Raises ``OSError``/``ValueError``."""
        path = Path(path) if path else DEFAULT_PRICES
        return cls(json.loads(path.read_text(encoding="utf-8")), str(path))

    def group(self, api: str) -> str:
        """The billing group of ``api`` (``group2``...). Raises ``ValueError`` when unpriced."""
        if api not in self._groups:
            raise ValueError(f"the price table {self.path} has no price for {api}")
        return self._groups[api][0]

    def group_entries(self, api: str) -> list[str]:
        """Every price-table entry billed in the same group as ``api`` (tiers count them together)."""
        group = self.group(api)
        return [a for a, (g, _) in self._groups.items() if g == group]

    def price(self, api: str, used_this_month: int = 0) -> float:
        """Dollars for one more image of ``api`` after ``used_this_month`` images of its group this month."""
        self.group(api)
        for tier in self._groups[api][1]:
            limit = tier.get("up_to_images")
            if limit is None or used_this_month < int(limit):
                return float(tier["usd_per_image"])
        raise ValueError(f"the price table {self.path} has no open-ended tier for {api}")

    def cost(self, api: str, count: int, used_this_month: int = 0) -> float:
        """Dollars for ``count`` images of ``api`` after ``used_this_month`` (walks the tiers)."""
        self.group(api)
        total, used, left = 0.0, used_this_month, count
        for tier in self._groups[api][1]:
            limit = tier.get("up_to_images")
            room = left if limit is None else max(0, int(limit) - used)
            take = min(room, left)
            total += take * float(tier["usd_per_image"])
            used += take
            left -= take
            if not left:
                break
        return total


def priced_calls(api: Api | str, params: AnalysisParams | None = None) -> list[str]:
    """The price-table entries one call of ``api`` with ``params`` is billed as (IMAGE_PROPERTIES is extra)."""
    name = Api(api).value
    out = [name]
    if name == Api.DETECT_LABELS.value and params is not None and "IMAGE_PROPERTIES" in str(
            params.extra.get("Features", "")):
        out.append(IMAGE_PROPERTIES)
    return out


def fmt_usd(amount: float) -> str:
    """Dollars as text: cents from $1 up (``$1,234.50``); below, at least four decimals and up to six, so
    per-image prices show whole (``$0.0015``, ``$0.00375``, ``$0.0000``)."""
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    text = f"{amount:.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"${whole}.{decimals.ljust(4, '0')}"


def this_month() -> str:
    """The current UTC month as ``YYYY-MM``."""
    return datetime.now(timezone.utc).strftime("%Y-%m")


class Ledger:
    """What the cloud engine did, kept in ``path`` (SQLite; thread-safe). Three tables:

    - ``calls``: one row per billed call: when, month (``YYYY-MM``, UTC),
      API (price-table entry), engine, sha256 and dollars.
    - ``objects``: S3 objects holding an image (bucket, key, sha256), when
      they were written or found, and when they were deleted (``delete_after``).
    - ``quarantine``: paid responses that failed validation, with their
      payload, keyed by (sha256, api, engine, params), so the engine does not
      buy them again.

    ``close()`` releases the file; a later call opens it again (engines are
    shared by threads and may outlive a ``close``). Raises ``sqlite3.Error``
    when the file cannot be written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._db()

    def _db(self) -> sqlite3.Connection:
        """The open connection (opened, and the tables made, on first use). Call with ``_lock`` held."""
        if self._conn is None:
            create_private_file(self.path)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
                         " month TEXT NOT NULL, api TEXT NOT NULL, engine TEXT NOT NULL, sha256 TEXT,"
                         " usd REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS calls_month ON calls(month, api)")
            conn.execute("CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key TEXT NOT NULL,"
                         " sha256 TEXT NOT NULL, at TEXT NOT NULL, deleted_at TEXT, PRIMARY KEY (bucket, key))")
            conn.execute("CREATE INDEX IF NOT EXISTS objects_sha ON objects(sha256)")
            conn.execute("CREATE TABLE IF NOT EXISTS quarantine (sha256 TEXT NOT NULL, api TEXT NOT NULL,"
                         " engine TEXT NOT NULL, params TEXT NOT NULL, engine_version TEXT NOT NULL,"
                         " at TEXT NOT NULL, reason TEXT NOT NULL, response TEXT NOT NULL,"
                         " PRIMARY KEY (sha256, api, engine, params))")
            self._conn = conn
        return self._conn

    def record(self, api: str, usd: float, sha256: str | None = None, engine: str = "rekognition",
               month: str | None = None) -> None:
        """Add one billed call (``usd`` dollars) of price-table entry ``api``."""
        now = datetime.now(timezone.utc)
        with self._lock:
            self._db().execute("INSERT INTO calls (at, month, api, engine, sha256, usd) VALUES (?,?,?,?,?,?)",
                               (now.isoformat(timespec="seconds"), month or now.strftime("%Y-%m"), api, engine,
                                sha256, float(usd)))

    def month_spend(self, month: str | None = None) -> float:
        """Dollars recorded in ``month`` (``YYYY-MM``; default: this month)."""
        with self._lock:
            row = self._db().execute("SELECT COALESCE(SUM(usd), 0) FROM calls WHERE month = ?",
                                     (month or this_month(),)).fetchone()
        return float(row[0])

    def month_calls(self, apis: list[str], month: str | None = None) -> int:
        """Calls of these price-table entries recorded in ``month`` (default: this month)."""
        if not apis:
            return 0
        with self._lock:
            row = self._db().execute(f"SELECT COUNT(*) FROM calls WHERE month = ? AND api IN "
                                     f"({','.join('?' * len(apis))})", (month or this_month(), *apis)).fetchone()
        return int(row[0])

    # -- S3 objects ----------------------------------------------------------------------------
    def record_object(self, bucket: str, key: str, sha256: str) -> None:
        """``s3://bucket/key`` holds the image ``sha256`` (written now, or found there)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._db().execute("INSERT INTO objects (bucket, key, sha256, at, deleted_at) VALUES (?,?,?,?,NULL)"
                               " ON CONFLICT(bucket, key) DO UPDATE SET sha256 = excluded.sha256, at = excluded.at,"
                               " deleted_at = NULL", (bucket, key, sha256, now))

    def record_deleted(self, bucket: str, key: str) -> None:
        """``s3://bucket/key`` was deleted (no-op when it was never recorded)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._db().execute("UPDATE objects SET deleted_at = ? WHERE bucket = ? AND key = ?", (now, bucket, key))

    def object_keys(self, bucket: str) -> dict[str, str]:
        """sha256 -> the key most recently written or found in ``bucket`` and not deleted since."""
        with self._lock:
            rows = self._db().execute("SELECT sha256, key FROM objects WHERE bucket = ? AND deleted_at IS NULL"
                                      " ORDER BY at, rowid", (bucket,)).fetchall()
        return {sha: key for sha, key in rows}  # later rows win

    # -- quarantine ----------------------------------------------------------------------------
    def quarantine(self, sha256: str, api: str, params: str, response: dict, reason: str,
                   engine: str = "rekognition", engine_version: str = "") -> None:
        """Keep a paid ``response`` of ``api`` that failed validation (``reason``), replacing an older one."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._db().execute("INSERT OR REPLACE INTO quarantine (sha256, api, engine, params, engine_version, at,"
                               " reason, response) VALUES (?,?,?,?,?,?,?,?)",
                               (sha256, api, engine, params, engine_version, now, reason,
                                json.dumps(response, default=str)))

    def quarantined(self, sha256: str, api: str, params: str, engine: str = "rekognition") -> dict | None:
        """The quarantined entry for this key: ``{"at", "reason", "engine_version", "response"}``, or None."""
        with self._lock:
            row = self._db().execute("SELECT at, reason, engine_version, response FROM quarantine WHERE sha256 = ?"
                                     " AND api = ? AND engine = ? AND params = ?",
                                     (sha256, api, engine, params)).fetchone()
        if row is None:
            return None
        return {"at": row[0], "reason": row[1], "engine_version": row[2], "response": json.loads(row[3])}

    def quarantine_count(self) -> int:
        """Number of quarantined responses."""
        with self._lock:
            return int(self._db().execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])

    def close(self) -> None:
        """Close the file (a later call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Budget:
    """Run and month spending limits shared by the engine's threads.

    ``per_run``/``per_month`` are dollars (None: no limit); ``ledger`` (or
    None) holds this month's spend. ``begin_run()`` starts a new run.
    """

    def __init__(self, prices: PriceTable, ledger: Ledger | None = None, per_run: float | None = None,
                 per_month: float | None = None):
        self.prices = prices
        self.ledger = ledger
        self.per_run = per_run
        self.per_month = per_month
        self._lock = threading.Lock()
        self.run_spent = 0.0
        self.reserved = 0.0
        self.run_calls = 0
        self._pending_calls: dict[str, int] = {}

    def begin_run(self) -> None:
        """Reset the per-run spend (the month spend lives in the ledger)."""
        with self._lock:
            self.run_spent = 0.0
            self.reserved = 0.0
            self.run_calls = 0
            self._pending_calls.clear()

    def _used(self, entry: str) -> int:
        same = self.prices.group_entries(entry)
        done = self.ledger.month_calls(same) if self.ledger else 0
        return done + sum(n for a, n in self._pending_calls.items() if a in same)

    def reserve(self, entries: list[str]) -> float:
        """Reserve the price of one call billed as ``entries``; returns the dollars reserved.

        Raises ``AnalysisError(code="BudgetExceeded")`` when the run or the
        month limit would be passed, and ``ValueError`` when unpriced.
        """
        with self._lock:
            usd = sum(self.prices.price(e, self._used(e)) for e in entries)
            if self.per_run is not None and self.run_spent + self.reserved + usd > self.per_run + 1e-12:
                raise AnalysisError(f"the run budget of {fmt_usd(self.per_run)} is reached "
                                    f"({fmt_usd(self.run_spent)} spent in this run)", "BudgetExceeded")
            if self.per_month is not None:
                month = (self.ledger.month_spend() if self.ledger else self.run_spent) + self.reserved
                if month + usd > self.per_month + 1e-12:
                    raise AnalysisError(f"the monthly budget of {fmt_usd(self.per_month)} is reached "
                                        f"({fmt_usd(month)} spent this month)", "BudgetExceeded")
            self.reserved += usd
            for e in entries:
                self._pending_calls[e] = self._pending_calls.get(e, 0) + 1
            return usd

    def commit(self, entries: list[str], usd: float, sha256: str | None = None) -> None:
        """The reserved call was made (and billed): record it in the ledger."""
        with self._lock:
            self.reserved -= usd
            self.run_spent += usd
            self.run_calls += 1
            for e in entries:
                self._pending_calls[e] -= 1
            if self.ledger:
                # each entry at its own price, so the month spend sums to the call's price
                share = usd / len(entries)
                for e in entries:
                    self.ledger.record(e, share, sha256)

    def release(self, entries: list[str], usd: float) -> None:
        """The reserved call failed (not billed): give the reservation back."""
        with self._lock:
            self.reserved -= usd
            for e in entries:
                self._pending_calls[e] -= 1


@dataclass
class Estimate:
    """The cost of analysing some files before a run.

    ``images``: distinct images (by sha256) found; ``apis``: the operations
    asked for; ``calls``: API calls that would be made (``images`` x
    ``len(apis)`` minus ``cached``); ``cached``: (image, API) pairs already
    stored (free; 0 when re-analysing); ``by_api``: API -> calls;
    ``usd_by_entry``: price-table entry -> Rekognition dollars (monthly tiers
    applied after this month's recorded usage); ``usd``: their sum;
    ``s3_usd``: upload requests (PUT + HEAD) plus one month of storage of the
    uploaded bytes when they are kept (``upload_bytes``: originals at their
    size, proxies counted at most 1 MiB each); ``month_spent``: dollars
    already in the ledger this month; ``budget_per_run``/``budget_per_month``:
    the configured limits (None: none); ``price_date``/``price_source``: the
    price table's; ``price_sources``: entry -> ``PriceTable.source_of``;
    ``unreadable``: paths that could not be read.
    """

    images: int = 0
    apis: list[str] = field(default_factory=list)
    calls: int = 0
    cached: int = 0
    by_api: dict[str, int] = field(default_factory=dict)
    usd_by_entry: dict[str, float] = field(default_factory=dict)
    usd: float = 0.0
    s3_usd: float = 0.0
    upload_bytes: int = 0
    month_spent: float = 0.0
    budget_per_run: float | None = None
    budget_per_month: float | None = None
    price_date: str = ""
    price_source: str = ""
    price_sources: dict[str, dict] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        """Rekognition plus S3 dollars."""
        return self.usd + self.s3_usd

    @property
    def exceeds_run_budget(self) -> bool:
        """True when the run would be stopped by the per-run budget."""
        return self.budget_per_run is not None and self.usd > self.budget_per_run

    @property
    def exceeds_month_budget(self) -> bool:
        """True when the run would be stopped by the monthly budget."""
        return self.budget_per_month is not None and self.month_spent + self.usd > self.budget_per_month

    def to_dict(self) -> dict:
        """JSON-able form (``mediaapp estimate --json``)."""
        out = dict(vars(self))
        out.update(total_usd=self.total_usd, exceeds_run_budget=self.exceeds_run_budget,
                   exceeds_month_budget=self.exceeds_month_budget)
        return out


def describe_estimate(est: Estimate) -> list[str]:
    """The estimate in lines for people (CLI, settings dialog, the GUI's confirmation before an import).

    First the arithmetic (images x analyses, minus what is stored), then the
    dollars per API, the total, each budget and whether the run would hit
    it, and where the prices come from.
    """
    lines = [f"{est.images} images x {len(est.apis)} analyses ({', '.join(est.apis) or 'none'}) = "
             f"{est.images * len(est.apis)} calls, minus {est.cached} already stored (free) = "
             f"{est.calls} calls to buy"]
    for entry, usd in est.usd_by_entry.items():
        n = est.by_api.get(entry, est.by_api.get(entry.split(":")[0], 0))
        lines.append(f"  {entry}: {n} x {fmt_usd(usd / n) if n else '-'} = {fmt_usd(usd)}")
    lines.append(f"Rekognition {fmt_usd(est.usd)} + S3 {fmt_usd(est.s3_usd)} = {fmt_usd(est.total_usd)}")
    if est.budget_per_run is not None:
        lines.append(f"Budget per run {fmt_usd(est.budget_per_run)}: " + (
            "THE RUN WOULD STOP EARLY (the budget stops it before it is passed)" if est.exceeds_run_budget
            else "fits"))
    else:
        lines.append("Budget per run: none")
    if est.budget_per_month is not None:
        lines.append(f"Budget per month {fmt_usd(est.budget_per_month)}, {fmt_usd(est.month_spent)} spent so far: " + (
            "THE RUN WOULD STOP EARLY" if est.exceeds_month_budget else "fits"))
    else:
        lines.append(f"Budget per month: none ({fmt_usd(est.month_spent)} spent so far)")
    sources = {(v["date"], v["source"], str(v["verified"])) for v in est.price_sources.values()}
    for date, source, verified in sorted(sources) or [(est.price_date, est.price_source, "")]:
        lines.append(f"Prices of {date} from {source}" + (f" (verified: {verified})" if verified else ""))
    for path in est.unreadable:
        lines.append(f"  UNREADABLE {path}")
    return lines


def analysis_params(library, engine_name: str) -> AnalysisParams:
    """The request parameters (cache key) ``library`` uses for ``engine_name``."""
    from mediaapp.analysis.registry import create_engine

    params = _base_params(library)
    if engine_name == "rekognition":
        from mediaapp.cloud.config import load_config
        return params_for_config(params, load_config(library.settings))
    engine = create_engine(engine_name, library.engine_config(engine_name))
    adjust = getattr(engine, "analysis_params", None)
    return adjust(params) if adjust else params


def _base_params(library) -> AnalysisParams:
    """The library-wide request parameters (``max_labels``, ``min_confidence`` settings), before engine options."""
    return AnalysisParams(library.settings.get("max_labels"), float(library.settings.get("min_confidence", 50.0)))


def params_for_config(params: AnalysisParams, config) -> AnalysisParams:
    """``params`` plus the cloud config's request options that change the answer (IMAGE_PROPERTIES)."""
    if not config.image_properties:
        return params
    return AnalysisParams(params.max_labels, params.min_confidence,
                          {**params.extra, "Features": "GENERAL_LABELS,IMAGE_PROPERTIES"})


def _iter_paths(paths) -> list[str]:
    from mediaapp.ingest.scan import iter_files

    out: list[str] = []
    for p in paths:
        p = os.path.abspath(os.path.expanduser(str(p)))
        if os.path.isdir(p):
            out += [e.path for e in iter_files([p], lambda path, msg: None)]
        else:
            out.append(p)
    return out


def estimate(library, paths, apis: list[str] | None = None, engine_name: str = "rekognition",
             progress=None, *, config=None, reanalyse: bool = False) -> Estimate:
    """Price analysing ``paths`` (files and folders) with ``engine_name`` before doing it.

    Images already catalogued reuse their sha256 when size and mtime match;
    other files are sniffed (not images are skipped) and hashed
    (``mediaapp.ingest.hashing.sha256_file``). Each (image, API) pair with a
    stored response for the library's current parameters costs nothing,
    unless ``reanalyse`` (everything is bought again). ``config`` is a
    ``CloudConfig`` to price with instead of the saved one (the settings
    dialog's unsaved values). ``progress(done, total)`` is called per file.
    Raises ``ValueError`` for an unknown or unpriced API or invalid saved
    settings, ``OSError`` for an unreadable price table.
    """
    return _estimate_files(library, _iter_paths(paths), apis, engine_name, progress, config, reanalyse)


def needs_cloud(settings: dict) -> bool:
    """True when an import with ``settings`` may use the ``rekognition`` engine (by default or by a folder rule)."""
    from mediaapp.cloud.config import folder_rules

    return "rekognition" in settings.get("engines", []) or any(
        "rekognition" in engines for engines in folder_rules(settings).values())


def estimate_import(library, paths, *, reanalyse: bool = False, progress=None) -> Estimate | None:
    """What importing ``paths`` with the library's saved settings would cost in Rekognition calls.

    Mirrors what ``Library.import_paths(paths)`` (no ``engines`` named) will
    do: the same files are found (``mediaapp.ingest.scan.iter_files``), the
    same ones are ingested (new or changed, image by content, not a failure
    recorded for the same size and mtime) or kept (catalogued with the same
    size and mtime), catalogued paths below ``paths`` that are gone are
    forgotten, and each image (sha256) then gets the engines the import gives
    it: ``mediaapp.settings.engines_for_paths`` over **all** the paths the
    catalog will hold for it (its catalogued paths plus the new ones), i.e.
    the deepest ``folder_engines`` rule holding any of them, else
    ``settings["engines"]``. So a new copy of a catalogued image counts as a
    Rekognition image when another copy lies under a ``rekognition`` rule,
    and not when a deeper rule on another copy says otherwise.

    Only the files that may matter are hashed
    (``mediaapp.ingest.hashing.sha256_file``): those whose own folder rule
    names ``rekognition``, and those whose size equals another catalogued or
    incoming file's (identical bytes have identical sizes; a file of a unique
    size is alone with its sha256, so its own path decides). ``progress(done,
    total)`` is called per file found. A file the import will fail to read
    or decode cannot be told apart beforehand and is counted. Returns None
    when no image would go to Rekognition (and no such file was
    unreadable); stored answers are subtracted as in ``estimate``. Raises
    like ``estimate``.
    """
    from mediaapp.ingest.hashing import sha256_file
    from mediaapp.ingest.scan import sniff_format
    from mediaapp.settings import engines_for_paths

    if not needs_cloud(library.settings):
        return None
    rules = library.settings.get("folder_engines") or {}   # as Library.engines_for reads them
    default = list(library.settings.get("engines", []))

    def cloud(where: list[str]) -> bool:
        return "rekognition" in engines_for_paths(where, rules, default)

    roots, entries, unreadable_dirs, missing = _scan_like_import(paths)
    known = library.catalog.known_files()
    failed_state = library.catalog.failed_files()
    seen = {path for path, _size, _mtime in entries}
    # the catalog after the import: path -> sha256 (gone paths forgotten, changed files re-assigned below)
    final = {path: state[2] for path, state in known.items()
             if not (is_below(path, roots) and path not in seen and not is_below(path, unreadable_dirs))}
    changing = [(path, size) for path, size, mtime in entries
                if known.get(path, (None, None))[:2] != (size, mtime) and failed_state.get(path) != (size, mtime)]
    sizes = Counter(known[path][0] for path in final)
    sizes.update(size for _path, size in changing)
    touched: dict[str, int] = {}   # sha256 -> size: the images the import analyses
    unreadable: list[str] = [p for p in missing if cloud([p])]
    changing_paths = {path for path, _size in changing}
    for i, (path, size, mtime) in enumerate(entries):
        state = known.get(path)
        if state and state[:2] == (size, mtime):
            touched.setdefault(state[2], size)
        elif path in changing_paths:
            try:
                if sniff_format(path) is not None:
                    # the file's own catalogued row (if any) counts once more when its size did not change
                    own = 1 + (state is not None and state[0] == size)
                    if cloud([path]) or sizes[size] > own:
                        sha = sha256_file(path)
                        final[path] = sha
                        touched.setdefault(sha, size)
                    else:
                        final.pop(path, None)   # alone with its bytes: its own path decides, not Rekognition
            except OSError:
                if cloud([path]):
                    unreadable.append(path)
        if progress:
            progress(i + 1, len(entries))
    paths_of: dict[str, list[str]] = {sha: [] for sha in touched}
    for path, sha in final.items():
        if sha in paths_of:
            paths_of[sha].append(path)
    billed = {sha: size for sha, size in touched.items() if cloud(paths_of[sha])}
    if not billed and not unreadable:
        return None
    est = _price(library, billed, None, "rekognition", None, reanalyse)
    est.unreadable = unreadable
    return est


def _scan_like_import(paths) -> tuple[list[str], list[tuple[str, int, int]], list[str], list[str]]:
    """The files ``Library.import_paths(paths)`` finds: ``(roots, [(path, size, mtime_ns)], unreadable folders,
    missing roots)``, where roots are ``paths`` made absolute (``~`` expanded)."""
    from mediaapp.ingest.scan import iter_files

    roots = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
    entries: list[tuple[str, int, int]] = []
    unreadable_dirs: list[str] = []
    missing: list[str] = []

    def scan_error(path: str, _message: str) -> None:
        if os.path.isdir(path):
            unreadable_dirs.append(path)

    for root in roots:
        try:
            if os.path.isfile(root):
                st = os.stat(root)
                entries.append((root, st.st_size, st.st_mtime_ns))
            elif os.path.isdir(root):
                entries += [(e.path, e.size, e.mtime_ns) for e in iter_files([root], scan_error)]
            else:
                missing.append(root)
        except OSError:
            missing.append(root)
    return roots, entries, unreadable_dirs, missing


def _estimate_files(library, files: list[str], apis, engine_name: str, progress, config,
                    reanalyse: bool) -> Estimate:
    """``estimate`` of these files: catalogued ones (same size and mtime) by their sha256, others hashed."""
    from mediaapp.ingest.hashing import sha256_file
    from mediaapp.ingest.scan import sniff_format

    known = library.catalog.known_files()
    shas: dict[str, int] = {}
    unreadable: list[str] = []
    for i, path in enumerate(files):
        try:
            st = os.stat(path)
            state = known.get(path)
            if state and state[0] == st.st_size and state[1] == st.st_mtime_ns:
                shas.setdefault(state[2], st.st_size)
            elif sniff_format(path) is not None:
                shas.setdefault(sha256_file(path), st.st_size)
        except OSError:
            unreadable.append(path)
        if progress:
            progress(i + 1, len(files))
    est = _price(library, shas, apis, engine_name, config, reanalyse)
    est.unreadable = unreadable
    return est


def _price(library, shas: dict[str, int], apis, engine_name: str, config, reanalyse: bool) -> Estimate:
    """The ``Estimate`` of analysing the images ``shas`` (sha256 -> file size in bytes) with ``engine_name``."""
    from mediaapp.cloud.config import load_config

    config = config or load_config(library.settings)
    prices = PriceTable.load(config.prices_path)
    wanted = [Api.parse(a) for a in (apis or library.settings["apis"])]
    params = params_for_config(_base_params(library), config) if engine_name == "rekognition" \
        else analysis_params(library, engine_name)
    est = Estimate(apis=[a.value for a in wanted], budget_per_run=config.budget_per_run,
                   budget_per_month=config.budget_per_month, price_date=prices.date, price_source=prices.source)
    est.images = len(shas)
    ledger = Ledger(Path(library.root) / LEDGER_FILE)
    try:
        est.month_spent = ledger.month_spend()
        per_entry: dict[str, int] = {}
        uploads = 0
        for sha, size in shas.items():
            missing = False
            for api in wanted:
                if not reanalyse and library.catalog.cached_analysis(sha, api.value, engine_name,
                                                                     params.key(api)) is not None:
                    est.cached += 1
                    continue
                missing = True
                est.calls += 1
                est.by_api[api.value] = est.by_api.get(api.value, 0) + 1
                for entry in priced_calls(api, params):
                    per_entry[entry] = per_entry.get(entry, 0) + 1
            if missing and config.uses_s3:
                uploads += 1
                est.upload_bytes += size if config.upload == "original" else min(size, 1 << 20)
        for group in sorted({prices.group(e) for e in per_entry}):  # tiers count a group's images together
            used = ledger.month_calls(prices.group_entries(next(e for e in per_entry if prices.group(e) == group)))
            for entry in [e for e in per_entry if prices.group(e) == group]:
                usd = prices.cost(entry, per_entry[entry], used)
                est.usd_by_entry[entry] = usd
                est.price_sources[entry] = prices.source_of(entry)
                est.usd += usd
                used += per_entry[entry]
    finally:
        ledger.close()
    if engine_name == "rekognition" and config.uses_s3:
        est.s3_usd = uploads * (prices.s3_put + prices.s3_head)
        if not config.delete_after:
            est.s3_usd += est.upload_bytes / 1e9 * prices.s3_storage_gb_month
        if uploads:
            est.price_sources["S3"] = dict(prices.s3_source)
    if engine_name != "rekognition":  # on-device engines cost nothing
        est.usd = est.s3_usd = 0.0
        est.usd_by_entry = {e: 0.0 for e in est.usd_by_entry}
    return est
