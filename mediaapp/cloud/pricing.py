"""What cloud analysis costs: the price table, the usage ledger and budgets.

The price table is ``resources/prices.json`` (US dollars, with its date and
source; user-editable, or replaced by the file named in the cloud setting
``prices_path``). Rekognition bills every API run on one image as one image,
in monthly volume tiers per API group; this module prices each call at the
tier reached by this month's usage recorded in the ledger. Estimates before
a run are ``mediaapp.services.costs``.

The ledger is a small SQLite file in the library folder
(``cloud_usage.sqlite``, separate from the catalog) recording what the cloud
engine did: one row per billed call (the month budget sums them), the S3
objects it wrote (so exports name the key that really holds an image), and
paid responses that failed validation (kept, so they are never bought
again by accident). ``Budget`` is shared by the engine's threads:
each call first *reserves* its price (raising ``AnalysisError`` with code
``BudgetExceeded`` when the run or month limit would be passed), then
*commits* it after the call succeeded or *releases* it when the call failed.
Rekognition Video is billed per minute of video, not per image: its jobs
reserve a price computed by the caller (``Budget.reserve_usd``, with
``video_usd``) and are committed with their ``JobId``, which the ledger keeps
unique, so a job Rekognition hands back again for the same
``ClientRequestToken`` is never counted twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from mediaapp.core.analysis import CLOUD_ENGINE, FACE_COLLECTION, AnalysisError, AnalysisParams
from mediaapp.core.types import Api
from mediaapp.fsio import create_private_file

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
    def load(cls, path: str | Path | None = None) -> PriceTable:
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
    if name == Api.RECOGNIZE_CELEBRITIES.value and params is not None and params.extra.get(FACE_COLLECTION):
        out.append("IndexFaces")  # one per image; each face found then costs a SearchFaces, billed as it is made
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
    return datetime.now(UTC).strftime("%Y-%m")


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
            if "job_id" not in {row[1] for row in conn.execute("PRAGMA table_info(calls)")}:
                conn.execute("ALTER TABLE calls ADD COLUMN job_id TEXT")  # ledgers written before video jobs
            conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS calls_job ON calls(job_id) WHERE job_id IS NOT NULL")
            conn.execute("CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key TEXT NOT NULL,"
                         " sha256 TEXT NOT NULL, at TEXT NOT NULL, deleted_at TEXT, PRIMARY KEY (bucket, key))")
            conn.execute("CREATE INDEX IF NOT EXISTS objects_sha ON objects(sha256)")
            conn.execute("CREATE TABLE IF NOT EXISTS quarantine (sha256 TEXT NOT NULL, api TEXT NOT NULL,"
                         " engine TEXT NOT NULL, params TEXT NOT NULL, engine_version TEXT NOT NULL,"
                         " at TEXT NOT NULL, reason TEXT NOT NULL, response TEXT NOT NULL,"
                         " PRIMARY KEY (sha256, api, engine, params))")
            conn.execute("CREATE TABLE IF NOT EXISTS video_attempts (sha256 TEXT NOT NULL, api TEXT NOT NULL,"
                         " attempt INTEGER NOT NULL, failed INTEGER NOT NULL, PRIMARY KEY (sha256, api))")
            self._conn = conn
        return self._conn

    def record(self, api: str, usd: float, sha256: str | None = None, engine: str = CLOUD_ENGINE,
               month: str | None = None, job_id: str | None = None) -> bool:
        """Add one billed call (``usd`` dollars) of price-table entry ``api``; returns True when added.

        ``job_id``: the Rekognition Video ``JobId`` billed (unique in the
        ledger): a job already recorded is not added again (False).
        """
        now = datetime.now(UTC)
        with self._lock:
            cur = self._db().execute("INSERT OR IGNORE INTO calls (at, month, api, engine, sha256, usd, job_id)"
                                     " VALUES (?,?,?,?,?,?,?)",
                                     (now.isoformat(timespec="seconds"), month or now.strftime("%Y-%m"), api,
                                      engine, sha256, float(usd), job_id))
            return cur.rowcount > 0

    def video_attempt(self, sha256: str, api: str, *, again: bool = False) -> int:
        """The attempt number (0, 1...) of the next Rekognition Video job of ``api`` on video ``sha256``.

        It is part of the job's ``ClientRequestToken`` (``video_jobs.request_token``):
        unchanged on a plain re-run (the running or finished job is found again,
        never paid twice); one more after the last job FAILED
        (``video_job_failed``) or when ``again`` (a deliberate re-analysis), so
        Rekognition starts a new job instead of answering with the failed one.
        """
        with self._lock:
            conn = self._db()
            row = conn.execute("SELECT attempt, failed FROM video_attempts WHERE sha256 = ? AND api = ?",
                               (sha256, api)).fetchone()
            attempt = 0 if row is None else int(row[0]) + (1 if (row[1] or again) else 0)
            conn.execute("INSERT OR REPLACE INTO video_attempts (sha256, api, attempt, failed) VALUES (?,?,?,0)",
                         (sha256, api, attempt))
            return attempt

    def video_job_failed(self, sha256: str, api: str) -> None:
        """Note that the last job of ``api`` on video ``sha256`` FAILED: the next ``video_attempt`` is a new one."""
        with self._lock:
            self._db().execute("UPDATE video_attempts SET failed = 1 WHERE sha256 = ? AND api = ?", (sha256, api))

    def has_job(self, job_id: str) -> bool:
        """True when the Rekognition Video job ``job_id`` is already recorded as billed."""
        with self._lock:
            return self._db().execute("SELECT 1 FROM calls WHERE job_id = ?", (job_id,)).fetchone() is not None

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
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db().execute("INSERT INTO objects (bucket, key, sha256, at, deleted_at) VALUES (?,?,?,?,NULL)"
                               " ON CONFLICT(bucket, key) DO UPDATE SET sha256 = excluded.sha256, at = excluded.at,"
                               " deleted_at = NULL", (bucket, key, sha256, now))

    def record_deleted(self, bucket: str, key: str) -> None:
        """``s3://bucket/key`` was deleted (no-op when it was never recorded)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
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
                   engine: str = CLOUD_ENGINE, engine_version: str = "") -> None:
        """Keep a paid ``response`` of ``api`` that failed validation (``reason``), replacing an older one."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db().execute("INSERT OR REPLACE INTO quarantine (sha256, api, engine, params, engine_version, at,"
                               " reason, response) VALUES (?,?,?,?,?,?,?,?)",
                               (sha256, api, engine, params, engine_version, now, reason,
                                json.dumps(response, default=str)))

    def quarantined(self, sha256: str, api: str, params: str, engine: str = CLOUD_ENGINE) -> dict | None:
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
            return self._reserve(entries, sum(self.prices.price(e, self._used(e)) for e in entries))

    def reserve_usd(self, entries: list[str], usd: float) -> float:
        """Reserve ``usd`` dollars for one call billed as ``entries`` whose price the caller computed (a
        Rekognition Video job: ``video_usd``); returns ``usd``. ``commit`` and ``release`` as for ``reserve``.

        Raises ``AnalysisError(code="BudgetExceeded")`` when the run or the month limit would be passed.
        """
        with self._lock:
            return self._reserve(entries, float(usd))

    def _reserve(self, entries: list[str], usd: float) -> float:
        """Check the limits and hold ``usd`` for ``entries``. Call with ``_lock`` held."""
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

    def commit(self, entries: list[str], usd: float, sha256: str | None = None, job_id: str | None = None) -> bool:
        """The reserved call was made (and billed): record it in the ledger; returns True when counted.

        ``job_id``: a Rekognition Video job's ``JobId``. A job the ledger
        already holds (Rekognition answered a repeated ``ClientRequestToken``
        with it: billed once, by an earlier run) is not counted again: the
        reservation is released instead and False is returned.
        """
        if job_id is not None and self.ledger is not None and self.ledger.has_job(job_id):
            self.release(entries, usd)
            return False
        with self._lock:
            self.reserved -= usd
            self.run_spent += usd
            self.run_calls += 1
            for e in entries:
                self._pending_calls[e] -= 1
            if self.ledger:
                # each entry at its own price, so the month spend sums to the call's price
                share = usd / len(entries)
                for i, e in enumerate(entries):
                    self.ledger.record(e, share, sha256, job_id=job_id if i == 0 else None)
        return True

    def release(self, entries: list[str], usd: float) -> None:
        """The reserved call failed (not billed): give the reservation back."""
        with self._lock:
            self.reserved -= usd
            for e in entries:
                self._pending_calls[e] -= 1


def params_for_config(params: AnalysisParams, config) -> AnalysisParams:
    """``params`` plus the cloud config's request options that change the answer (IMAGE_PROPERTIES, the face
    collection RecognizeCelebrities names faces from: ``FACE_COLLECTION``)."""
    extra = dict(params.extra)
    if config.image_properties:
        extra["Features"] = "GENERAL_LABELS,IMAGE_PROPERTIES"
    if config.face_collection:
        extra[FACE_COLLECTION] = config.face_collection
    if extra == params.extra:
        return params
    return AnalysisParams(params.max_labels, params.min_confidence, extra)


def video_usd(prices: PriceTable, api: str, duration_ms: int | float) -> float:
    """Dollars Rekognition Video charges for one ``api`` job (a ``Get*`` name) on a video of ``duration_ms``:
    the billed minutes (``video_jobs.billed_minutes``: rounded up, at least 1) times the per-minute price of the
    table's ``rekognition.video`` section (no volume tiers). Raises ``ValueError`` for an unpriced API or a
    negative or non-finite duration."""
    from mediaapp.cloud.video_jobs import billed_minutes, video_price_per_minute

    return billed_minutes(float(duration_ms) / 1000.0) * video_price_per_minute(prices, api)
