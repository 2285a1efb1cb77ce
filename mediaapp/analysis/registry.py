"""The registry of analysis engines: one ``EngineDescriptor`` per engine class, by name.

Adding an engine is one class (``EngineBase`` subclass with a ``descriptor``)
and one ``register`` line here. Dialogs, folder rules, cost estimates and
the CLI's choices read ``descriptors()``.

Engines are created from a name and a JSON-able config so that worker
processes can build their own copy (models load once per process and are
reused for every image that process analyses). The cache of a process is
emptied with ``clear_engines`` (``Library.close`` does it), which also
closes the engines (the ``rekognition`` engine's usage ledger and S3
transfer threads). A name of the form ``"module:Class"`` names an engine
class that is not registered (a plug-in, or a test's engine) so worker
processes can import it too.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading

from mediaapp.analysis.engine_base import EngineBase, EngineDescriptor, EngineUnavailableError
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.rekognition import RekognitionEngine
from mediaapp.core.types import Json

#: name -> engine class, in registration order (the order dialogs list them).
ENGINES: dict[str, type[EngineBase]] = {}

_cache: dict[tuple[str, str], EngineBase] = {}
_cache_lock = threading.Lock()
log = logging.getLogger(__name__)


def register(engine: type[EngineBase]) -> type[EngineBase]:
    """Register ``engine`` under ``engine.descriptor.name`` (replacing an engine of that name); returns it."""
    ENGINES[engine.descriptor.name] = engine
    return engine


register(LocalEngine)
register(RekognitionEngine)


def descriptors() -> list[EngineDescriptor]:
    """The registered engines' descriptors, in registration order."""
    return [engine.descriptor for engine in ENGINES.values()]


def engine_names() -> tuple[str, ...]:
    """The registered engines' names, in registration order."""
    return tuple(ENGINES)


def engine_class(name: str) -> type[EngineBase]:
    """The engine class registered as ``name``, or named by a ``"module:Class"`` target.

    Raises ``EngineUnavailableError`` for an unknown name or a target that
    cannot be imported or is not an ``EngineBase`` subclass.
    """
    engine = ENGINES.get(name)
    if engine is not None:
        return engine
    if ":" not in name:
        raise EngineUnavailableError(f"unknown analysis engine {name!r}; known: {', '.join(ENGINES)}")
    module_name, _, attr = name.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise EngineUnavailableError(f"analysis engine {name!r} cannot be loaded: {exc}") from exc
    if not (isinstance(found, type) and issubclass(found, EngineBase)):
        raise EngineUnavailableError(f"analysis engine {name!r} is not an EngineBase subclass")
    return found


def descriptor(name: str) -> EngineDescriptor:
    """The descriptor of the engine ``name`` (see ``engine_class`` for names and errors)."""
    return engine_class(name).descriptor


def create_engine(name: str, config: Json | None = None) -> EngineBase:
    """Build (or reuse, per process) the engine ``name`` configured by ``config``.

    Raises ``EngineUnavailableError`` for an unknown name, an engine whose
    module cannot be imported, or an engine that cannot run here.
    """
    key = (name, json.dumps(config or {}, sort_keys=True, default=str))
    with _cache_lock:
        engine = _cache.get(key)
    if engine is None:
        made = engine_class(name)(**(config or {}))
        with _cache_lock:
            engine = _cache.setdefault(key, made)  # two threads racing keep the first one made
        if engine is not made:
            made.close()
    return engine


def clear_engines() -> int:
    """Forget every engine this process made and close them.

    Returns how many engines were dropped. An engine still in use by a
    caller keeps working: ``close()`` of the built-in engines only releases
    files and threads, which are opened again on the next use. A failing
    ``close()`` is logged, never raised.
    """
    with _cache_lock:
        engines = list(_cache.values())
        _cache.clear()
    for engine in engines:
        try:
            engine.close()
        except Exception:
            log.exception("closing the %s engine failed", engine.name)
    return len(engines)
