"""The registry of analysis engines, by name.

Engines are created from a name and a JSON-able config so that worker
processes can build their own copy (models load once per process and are
reused for every image that process analyses).
"""

from __future__ import annotations

import importlib
import json
from typing import Callable

from mediaapp.analysis.base import AnalysisEngine, EngineUnavailableError

#: name -> "module:factory"; factories take the config dict and return an AnalysisEngine.
ENGINES: dict[str, str] = {
    "local": "mediaapp.analysis.local.engine:LocalEngine",
    "rekognition": "mediaapp.analysis.rekognition:RekognitionEngine",
}

_cache: dict[tuple[str, str], AnalysisEngine] = {}


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
        engine = factory(**(config or {}))
        _cache[key] = engine
    return engine
