"""The registry of analysis engines, by name.

Engines are created from a name and a JSON-able config so that worker
processes can build their own copy (models load once per process and are
reused for every image that process analyses). The cache of a process is
emptied with ``clear_engines`` (``Library.close`` does it), which also
closes the engines that hold files or connections (the ``rekognition``
engine's usage ledger and S3 transfer threads).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable

from mediaapp.analysis.base import AnalysisEngine, EngineUnavailableError

#: name -> "module:factory"; factories take the config dict and return an AnalysisEngine.
ENGINES: dict[str, str] = {
    "local": "mediaapp.analysis.local.engine:LocalEngine",
    "rekognition": "mediaapp.analysis.rekognition:RekognitionEngine",
}

_cache: dict[tuple[str, str], AnalysisEngine] = {}
_cache_lock = threading.Lock()
log = logging.getLogger(__name__)


def register_engine(name: str, target: str) -> None:
    """Register ``target`` (``"module:callable"``) as the engine ``name``."""
    ENGINES[name] = target


def create_engine(name: str, config: dict | None = None) -> AnalysisEngine:
    """Build (or reuse, per process) the engine ``name`` configured by ``config``.

    ``name`` is a registered engine name, or a ``"module:callable"`` target
    (how plug-in engines are named, so worker processes can import them too).

    Raises ``EngineUnavailableError`` for an unknown name or an engine whose
    module cannot be imported.
    """
    key = (name, json.dumps(config or {}, sort_keys=True, default=str))
    with _cache_lock:
        engine = _cache.get(key)
    if engine is None:
        target = ENGINES.get(name) or (name if ":" in name else None)
        if target is None:
            raise EngineUnavailableError(f"unknown analysis engine {name!r}; known: {', '.join(sorted(ENGINES))}")
        module_name, _, attr = target.partition(":")
        try:
            factory: Callable[..., AnalysisEngine] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise EngineUnavailableError(f"analysis engine {name!r} cannot be loaded: {exc}") from exc
        made = factory(**(config or {}))
        with _cache_lock:
            engine = _cache.setdefault(key, made)  # two threads racing keep the first one made
        if engine is not made and hasattr(made, "close"):
            made.close()
    return engine


def clear_engines() -> int:
    """Forget every engine this process made and close those with a ``close()`` method.

    Returns how many engines were dropped. An engine still in use by a
    caller keeps working: ``close()`` of the built-in engines only releases
    files and threads, which are opened again on the next use. A failing
    ``close()`` is logged, never raised.
    """
    with _cache_lock:
        engines = list(_cache.values())
        _cache.clear()
    for engine in engines:
        close = getattr(engine, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the %s engine failed", getattr(engine, "name", "?"))
    return len(engines)
