"""The analysis APIs as data: one ``ApiSpec`` per Rekognition operation every engine may answer.

An entry gives the operation (the ``Api`` member, whose value is the
operation name: the catalog's key, ``mediaapp show --json``'s key and the
price table's entry), its short ``--apis`` name, its title in dialogs,
whether a library analyses it by default, the detection kinds it adds to the
search projection, and the function that flattens its response into
``Detection`` rows. Adding an API is one ``Api`` member, one entry here with
its flatten function, and its price in ``resources/prices.json``;
``tests/core/test_flatten.py`` checks that every member has an entry.

Pure data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mediaapp.core.responses import flatten_celebrities, flatten_labels, flatten_text
from mediaapp.core.types import LOCAL_ENGINE, Api, Detection, DetectionKind, Json

__all__ = ["API_SPECS", "ApiSpec", "default_apis", "flatten", "on_by_default", "parse_api", "short_names", "spec"]


@dataclass(frozen=True)
class ApiSpec:
    """One analysis API: see the module docstring for what each field drives."""

    api: Api
    short: str
    title: str
    kinds: tuple[DetectionKind, ...]
    flatten: Callable[[Json, str], list[Detection]]
    default: bool = True


#: Every API, in the order dialogs and ``--apis`` list them.
API_SPECS: dict[Api, ApiSpec] = {s.api: s for s in (
    ApiSpec(Api.DETECT_LABELS, "labels", "Labels and objects", (DetectionKind.LABEL,), flatten_labels),
    ApiSpec(Api.DETECT_TEXT, "text", "Text (OCR)", (DetectionKind.TEXT,), flatten_text),
    ApiSpec(Api.RECOGNIZE_CELEBRITIES, "celebrities", "Faces and people",
            (DetectionKind.PERSON, DetectionKind.FACE), flatten_celebrities),
)}


def spec(api: Api | str) -> ApiSpec:
    """The entry of ``api`` (a member or an operation name); ``ValueError`` for an unknown one."""
    return API_SPECS[Api(api)]


def parse_api(name: str) -> Api:
    """The ``Api`` for an operation name (``DetectLabels``) or a short ``--apis`` name (``labels``, any case).

    Raises ``ValueError`` naming the accepted names otherwise.
    """
    key = name.strip()
    for entry in API_SPECS.values():
        if key == entry.api.value or key.lower() == entry.short:
            return entry.api
    names = ", ".join(f"{s.short} ({s.api.value})" for s in API_SPECS.values())
    raise ValueError(f"unknown analysis {name!r}; expected one of {names}")


def short_names() -> str:
    """The short ``--apis`` names, comma-separated in registry order (``labels,text,celebrities``)."""
    return ",".join(s.short for s in API_SPECS.values())


def on_by_default(apis: tuple[Api, ...]) -> tuple[Api, ...]:
    """Those of ``apis`` (an engine's) that run by default (``ApiSpec.default``): an engine descriptor's defaults."""
    return tuple(a for a in apis if API_SPECS[a].default)


def default_apis() -> tuple[str, ...]:
    """The operation names a library analyses by default (``ApiSpec.default``), in order."""
    return tuple(s.api.value for s in API_SPECS.values() if s.default)


def flatten(api: Api | str, response: Json, source: str = LOCAL_ENGINE) -> list[Detection]:
    """Flatten one ``api`` response into detections with the API's own function (``ApiSpec.flatten``).

    ``source`` is the engine name stored with each row. Raises ``ValueError``
    for an unknown API; malformed entries raise ``KeyError``/``TypeError``
    (responses are validated before they get here).
    """
    return spec(api).flatten(response, source)
