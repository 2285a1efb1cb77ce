"""What cloud analysis costs, before spending: the price table, estimates, the usage ledger and budgets.

The price table is ``resources/prices.json`` (US dollars, with its date and
source; user-editable, or replaced by the file named in the cloud setting
``prices_path``). Rekognition bills every API run on one image as one image,
in monthly volume tiers per API group; this module prices each call at the
tier reached by this month's usage recorded in the ledger.

The ledger is a small SQLite file in the library folder
(``cloud_usage.sqlite``, separate from the catalog) with one row per billed
call: the month budget sums it. ``Budget`` is shared by the engine's threads:
each call first *reserves* its price (raising ``AnalysisError`` with code
``BudgetExceeded`` when the run or month limit would be passed), then
*commits* it after the call succeeded or *releases* it when the call failed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mediaapp.analysis.base import AnalysisError, AnalysisParams
from mediaapp.core.types import Api

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
        for gname, group in data.get("rekognition", {}).get("groups", {}).items():
            for api in group.get("apis", []):
                self._groups[api] = (gname, group.get("tiers", []))
        s3 = data.get("s3", {})
        self.s3_put = float(s3.get("put_usd_per_1000", 0)) / 1000
        self.s3_head = float(s3.get("head_usd_per_1000", 0)) / 1000
        self.s3_storage_gb_month = float(s3.get("storage_usd_per_gb_month", 0))

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
    """Dollars as text: cents from $1 up, else four decimals (``$0.0015``)."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def this_month() -> str:
    """The current UTC month as ``YYYY-MM``."""
    return datetime.now(timezone.utc).strftime("%Y-%m")


class Ledger:
    """The record of billed cloud calls in ``path`` (SQLite; thread-safe).

    One row per billed call: when, month (``YYYY-MM``, UTC), API (price-table
    entry), engine, sha256 and dollars. Raises ``sqlite3.Error`` when the file
    cannot be written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
                           " month TEXT NOT NULL, api TEXT NOT NULL, engine TEXT NOT NULL, sha256 TEXT,"
                           " usd REAL NOT NULL)")
        self._conn.execute("CREATE INDEX IF NOT EXISTS calls_month ON calls(month, api)")

    def record(self, api: str, usd: float, sha256: str | None = None, engine: str = "rekognition",
               month: str | None = None) -> None:
        """Add one billed call."""
        now = datetime.now(timezone.utc)
        with self._lock:
            self._conn.execute("INSERT INTO calls (at, month, api, engine, sha256, usd) VALUES (?,?,?,?,?,?)",
                               (now.isoformat(timespec="seconds"), month or now.strftime("%Y-%m"), api, engine,
                                sha256, float(usd)))

    def month_spend(self, month: str | None = None) -> float:
        """Dollars recorded in ``month`` (default: this month)."""
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(SUM(usd), 0) FROM calls WHERE month = ?",
                                     (month or this_month(),)).fetchone()
        return float(row[0])

    def month_calls(self, apis: list[str], month: str | None = None) -> int:
        """Calls of these price-table entries recorded in ``month`` (default: this month)."""
        if not apis:
            return 0
        with self._lock:
            row = self._conn.execute(f"SELECT COUNT(*) FROM calls WHERE month = ? AND api IN "
                                     f"({','.join('?' * len(apis))})", (month or this_month(), *apis)).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()


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

    ``images``: distinct images (by sha256) found; ``calls``: API calls that
    would be made (not cached); ``cached``: (image, API) pairs already stored
    (free); ``by_api``: API -> calls; ``usd``: Rekognition dollars;
    ``s3_usd``: upload requests (PUT + HEAD) plus one month of storage of
    the uploaded bytes when they are kept (``upload_bytes``: originals at
    their size, proxies counted at most 1 MiB each); ``month_spent``: dollars already
    in the ledger this month; ``unreadable``: paths that could not be hashed.
    """

    images: int = 0
    calls: int = 0
    cached: int = 0
    by_api: dict[str, int] = field(default_factory=dict)
    usd: float = 0.0
    s3_usd: float = 0.0
    upload_bytes: int = 0
    month_spent: float = 0.0
    budget_per_run: float | None = None
    budget_per_month: float | None = None
    price_date: str = ""
    price_source: str = ""
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


def analysis_params(library, engine_name: str) -> AnalysisParams:
    """The request parameters (cache key) ``library`` uses for ``engine_name``."""
    from mediaapp.analysis.registry import create_engine

    params = AnalysisParams(library.settings.get("max_labels"), float(library.settings.get("min_confidence", 50.0)))
    if engine_name == "rekognition":
        from mediaapp.cloud.config import load_config
        return params_for_config(params, load_config(library.settings))
    engine = create_engine(engine_name, library.engine_config(engine_name))
    adjust = getattr(engine, "analysis_params", None)
    return adjust(params) if adjust else params


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
             progress=None) -> Estimate:
    """Price analysing ``paths`` (files and folders) with ``engine_name`` before doing it.

    Images already catalogued reuse their sha256 when size and mtime match;
    other files are hashed (``mediaapp.ingest.hashing.sha256_file``). Each
    (image, API) pair with a stored response for the library's current
    parameters costs nothing. ``progress(done, total)`` is called while
    hashing. Raises ``ValueError`` for an unknown API or an unpriced one.
    """
    from mediaapp.cloud.config import load_config
    from mediaapp.ingest.hashing import sha256_file

    config = load_config(library.settings)
    prices = PriceTable.load(config.prices_path)
    wanted = [Api.parse(a) for a in (apis or library.settings["apis"])]
    params = analysis_params(library, engine_name)
    files = _iter_paths(paths)
    known = library.catalog.known_files()
    shas: dict[str, int] = {}
    est = Estimate(budget_per_run=config.budget_per_run, budget_per_month=config.budget_per_month,
                   price_date=prices.date, price_source=prices.source)
    for i, path in enumerate(files):
        try:
            st = os.stat(path)
            state = known.get(path)
            sha = state[2] if state and state[0] == st.st_size and state[1] == st.st_mtime_ns else sha256_file(path)
            shas.setdefault(sha, st.st_size)
        except OSError:
            est.unreadable.append(path)
        if progress:
            progress(i + 1, len(files))
    est.images = len(shas)
    ledger = Ledger(Path(library.root) / LEDGER_FILE)
    try:
        est.month_spent = ledger.month_spend()
        per_entry: dict[str, int] = {}
        uploads = 0
        for sha, size in shas.items():
            missing = False
            for api in wanted:
                if library.catalog.cached_analysis(sha, api.value, engine_name, params.key(api)) is not None:
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
        for group in {prices.group(e) for e in per_entry}:  # tiers count a group's images together
            used = ledger.month_calls(prices.group_entries(next(e for e in per_entry if prices.group(e) == group)))
            for entry in [e for e in per_entry if prices.group(e) == group]:
                est.usd += prices.cost(entry, per_entry[entry], used)
                used += per_entry[entry]
    finally:
        ledger.close()
    if engine_name == "rekognition" and config.uses_s3:
        est.s3_usd = uploads * (prices.s3_put + prices.s3_head)
        if not config.delete_after:
            est.s3_usd += est.upload_bytes / 1e9 * prices.s3_storage_gb_month
    if engine_name != "rekognition":  # on-device engines cost nothing
        est.usd = est.s3_usd = 0.0
    return est
