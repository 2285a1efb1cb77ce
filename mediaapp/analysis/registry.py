"""The registry of analysis engines: one ``EngineDescriptor`` per engine class, by name.

Adding an engine is one class (``EngineBase`` subclass with a ``descriptor``)
and one ``ENGINES`` entry here (its ``"module:Class"``, imported on first use),
or a ``register`` call for a class already imported. Dialogs, folder rules, cost estimates and
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
from mediaapp.core.types import CLOUD_ENGINE, LOCAL_ENGINE, METADATA_ENGINE, Json

#: name -> engine class, or the ``"module:Class"`` target of a built-in engine not imported yet, in
#: registration order (the order dialogs list them). Built-ins load on first use: a command that
#: analyses nothing (``mediaapp search``) never imports onnxruntime, dlib or boto3.
ENGINES: dict[str, type[EngineBase] | str] = {
    LOCAL_ENGINE: "mediaapp.analysis.local.engine:LocalEngine",
    CLOUD_ENGINE: "mediaapp.analysis.rekognition:RekognitionEngine",
}

#: Engines every import runs on every image, whatever engines the run or a folder rule names, before them:
#: free on-device readers of what the files already say (the ``metadata`` engine: keywords, XMP sidecars,
#: IPTC). They are nobody's choice, so they are not in ``ENGINES`` (dialogs, ``--engine``, estimates), but
#: ``engine_class`` finds them by name (worker processes build them from it). Name -> ``"module:Class"``.
ALWAYS_RUN: dict[str, type[EngineBase] | str] = {
    METADATA_ENGINE: "mediaapp.analysis.metadata:MetadataEngine",
}

_cache: dict[tuple[str, str], EngineBase] = {}
_cache_lock = threading.Lock()
log = logging.getLogger(__name__)


def register(engine: type[EngineBase]) -> type[EngineBase]:
    """Register ``engine`` under ``engine.descriptor.name`` (replacing an engine of that name); returns it."""
    ENGINES[engine.descriptor.name] = engine
    return engine


def always_run() -> tuple[str, ...]:
    """The names of the engines every import runs on every image (``ALWAYS_RUN``), in order (imports nothing)."""
    return tuple(ALWAYS_RUN)


def descriptors() -> list[EngineDescriptor]:
    """The registered engines' descriptors, in registration order (imports every built-in engine)."""
    return [engine_class(name).descriptor for name in ENGINES]


def engine_names() -> tuple[str, ...]:
    """The registered engines' names, in registration order (imports nothing)."""
    return tuple(ENGINES)


def engine_class(name: str) -> type[EngineBase]:
    """The engine class registered as ``name``, or named by a ``"module:Class"`` target.

    Raises ``EngineUnavailableError`` for an unknown name or a target that
    cannot be imported or is not an ``EngineBase`` subclass.
    """
    table = ENGINES if name in ENGINES else ALWAYS_RUN
    registered = table.get(name)
    if isinstance(registered, type):
        return registered
    if registered is not None:  # a built-in, imported now
        found = _load(registered)
        table[name] = found
        return found
    if ":" not in name:
        raise EngineUnavailableError(f"unknown analysis engine {name!r}; known: {', '.join(ENGINES)}")
    return _load(name)


def _load(target: str) -> type[EngineBase]:
    """Import the engine class a ``"module:Class"`` target names (see ``engine_class`` for errors)."""
    name = target
    module_name, _, attr = target.partition(":")
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
