"""Result files read as a stream of records, each bounded in depth and size.

A result file holds one JSON object (one record) or a JSON list of records
(see ``mediaapp.services.results``). Files from other pipelines can be
hundreds of megabytes, and hostile ones can nest thousands of levels deep, so
``read_records`` never loads a whole file: it reads parse events with
``ijson.basic_parse`` (the yajl C backend, constant memory) and builds one
record at a time. A record deeper than ``MAX_DEPTH`` or larger than
``MAX_RECORD_VALUES`` is not built: it comes out as a ``RefusedRecord``
saying why, and the records after it are read as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

#: Deepest nesting of arrays and objects in one record. A Rekognition image
#: response nests at most 7 levels (``TextDetections[].Geometry.Polygon[].X``)
#: and an export record wraps it in 4 more (``responses.DetectText[].Response``);
#: 32 leaves room for other pipelines' wrappers and stops a hostile file
#: long before the nesting costs memory or recursion.
MAX_DEPTH = 32

#: Most JSON values (scalars, arrays, objects and keys) in one record. The
#: largest response Rekognition returns, 1,000 labels each with instances,
#: parents, aliases and categories, is under 200,000; 2,000,000 leaves room
#: for an export record holding several responses of several engines.
MAX_RECORD_VALUES = 2_000_000

_OPEN = {"start_map": dict, "start_array": list}
_CLOSE = frozenset({"end_map", "end_array"})


@dataclass(frozen=True)
class RefusedRecord:
    """A record that was not built: ``reason`` says why (too deep or too large)."""

    reason: str


@dataclass(frozen=True)
class FileRecord:
    """One record of a file: ``value`` (any JSON value, or ``RefusedRecord``) and where it is.

    ``index`` counts records from 0; ``in_list`` is True when the file is a
    JSON list of records (so a message names the record), False when the
    file is one record.
    """

    index: int
    value: Any
    in_list: bool

    def where(self, path: str) -> str:
        """``path``, followed by `` (record N)`` (counted from 1) for a record inside a list."""
        return f"{path} (record {self.index + 1})" if self.in_list else path


class NotJsonError(ValueError):
    """The bytes are not a JSON document (or it is empty or cut short); the message is one line."""


def read_records(stream: BinaryIO) -> Iterator[FileRecord]:
    """Yield the records of the JSON document read from the binary ``stream``, one at a time.

    A top-level list yields each of its items; any other top-level value is
    one record. Numbers with a fraction are ``float``. Raises
    ``NotJsonError`` when the bytes are not JSON (after yielding the records
    before the fault), are cut short, or are empty.
    """
    events = _events(stream)
    first = next(events, None)
    if first is None:
        raise NotJsonError("empty file")
    if first[0] != "start_array":
        value = _build(first, events)
        for _ in events:  # yajl reads on to the end: trailing bytes that are not JSON raise here
            raise NotJsonError("more than one JSON value in the file")
        yield FileRecord(0, value, in_list=False)
        return
    index = 0
    for event in events:
        if event[0] == "end_array":
            for _ in events:  # yajl reads on to the end: trailing bytes that are not JSON raise here
                raise NotJsonError("more than one JSON value in the file")
            return
        yield FileRecord(index, _build(event, events), in_list=True)
        index += 1


def _events(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """``ijson.basic_parse`` events of ``stream``, its errors raised as a one-line ``NotJsonError``."""
    import ijson

    started = False
    try:
        for event in ijson.basic_parse(stream, use_float=True):
            started = True
            yield event
    except ijson.JSONError as exc:  # yajl's C backend raises IncompleteJSONError for every parse error
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        reason = (text.strip().splitlines() or [type(exc).__name__])[0].strip()
        if not started and "premature EOF" in reason:
            raise NotJsonError("empty file") from exc
        if "premature EOF" in reason:
            raise NotJsonError("the file ends in the middle of the JSON document") from exc
        raise NotJsonError(reason) from exc


def _build(first: tuple[str, Any], events: Iterable[tuple[str, Any]]) -> Any:
    """Build one JSON value starting at the event ``first``, consuming its events from ``events``.

    Returns the value, or a ``RefusedRecord`` when it nests deeper than
    ``MAX_DEPTH`` or holds more than ``MAX_RECORD_VALUES`` values; a refused
    value's remaining events are still consumed, so the next record starts
    at the right place.
    """
    kind, value = first
    if kind not in _OPEN:
        return value
    root = _OPEN[kind]()
    stack: list[Any] = [root]
    keys: list[Any] = [None]
    depth, count = 1, 1
    refused: str | None = None
    for kind, value in events:
        count += 1
        if refused is None and count > MAX_RECORD_VALUES:
            refused = f"more than {MAX_RECORD_VALUES:,} JSON values in one record"
        if kind in _OPEN:
            depth += 1
            if refused is None and depth > MAX_DEPTH:
                refused = f"nested more than {MAX_DEPTH} levels deep"
            if refused is None:
                child = _OPEN[kind]()
                _put(stack[-1], keys[-1], child)
                stack.append(child)
                keys.append(None)
        elif kind in _CLOSE:
            depth -= 1
            if depth == 0:
                return RefusedRecord(refused) if refused is not None else root
            if refused is None:
                stack.pop()
                keys.pop()
        elif refused is not None:
            continue
        elif kind == "map_key":
            keys[-1] = value
        else:
            _put(stack[-1], keys[-1], value)
    raise NotJsonError("the JSON document ends inside a record")


def _put(container: Any, key: Any, value: Any) -> None:
    """Add ``value`` to ``container``: under ``key`` for an object, at the end for an array."""
    if isinstance(container, dict):
        container[key] = value
    else:
        container.append(value)
