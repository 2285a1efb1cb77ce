"""Reading IPTC-IIM datasets: keywords, object name, caption and creation date.

IPTC-IIM ("Information Interchange Model", IPTC, version 4.2) stores
numbered datasets; a JPEG carries them in its Photoshop APP13 block, a TIFF
in tag 33723. Pillow's ``IptcImagePlugin.getiptcinfo`` finds and splits them
(``mediaapp.ingest.media.ImageHandler.embedded_metadata``); this module
turns its ``{(record, dataset): bytes or [bytes, ...]}`` into text.

Datasets read (record 2, the Application Record): 2:25 Keywords
(repeatable), 2:05 Object Name (a title), 2:120 Caption/Abstract, 2:55 Date
Created (``CCYYMMDD``) with 2:60 Time Created (``HHMMSS±HHMM``). Text is
UTF-8 when 1:90 Coded Character Set says so (``ESC % G``); otherwise UTF-8
is tried and ISO 8859-1 taken when it fails, as most writers of that era used
Latin-1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mediaapp.core.text import printable

__all__ = ["IptcFacts", "parse_iptc"]

#: The ISO 2022 escape sequence of 1:90 Coded Character Set that declares UTF-8.
_UTF8 = b"\x1b%G"
_KEYWORDS, _OBJECT_NAME, _CAPTION, _DATE, _TIME = (2, 25), (2, 5), (2, 120), (2, 55), (2, 60)
_CHARSET = (1, 90)
_IIM_DATE = re.compile(rb"(\d{4})(\d{2})(\d{2})")
_IIM_TIME = re.compile(rb"(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})(\d{2}))?")

#: Datasets as Pillow's ``getiptcinfo`` returns them: one ``bytes`` value, or a list for a repeated dataset.
IptcDatasets = Mapping[tuple[int, int], "bytes | list[bytes]"]


@dataclass(slots=True)
class IptcFacts:
    """What the IPTC-IIM datasets say: ``keywords`` (in order, without blanks), ``title`` (2:05),
    ``description`` (2:120) and ``date_created`` (2:55 with 2:60 as ISO 8601 ``YYYY-MM-DD[Thh:mm:ss[±hh:mm]]``).
    Missing values are None."""

    keywords: list[str] = field(default_factory=list)
    title: str | None = None
    description: str | None = None
    date_created: str | None = None


def parse_iptc(datasets: IptcDatasets) -> IptcFacts:
    """Turn Pillow's IPTC datasets into text (see the module docstring). Never raises for odd values: they are
    left out."""
    utf8 = _first(datasets.get(_CHARSET)) == _UTF8
    facts = IptcFacts()
    facts.keywords = [t for t in (_decode(v, utf8) for v in _all(datasets.get(_KEYWORDS))) if t]
    facts.title = _decode(_first(datasets.get(_OBJECT_NAME)), utf8)
    facts.description = _decode(_first(datasets.get(_CAPTION)), utf8)
    facts.date_created = _date(_first(datasets.get(_DATE)), _first(datasets.get(_TIME)))
    return facts


def _all(value: bytes | list[bytes] | None) -> list[bytes]:
    """Every value of a dataset (a lone value counts as one)."""
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, bytes)]


def _first(value: bytes | list[bytes] | None) -> bytes | None:
    """The first value of a dataset, or None."""
    values = _all(value)
    return values[0] if values else None


def _decode(value: bytes | None, utf8: bool) -> str | None:
    """A text dataset as ``str``, control characters and surrounding spaces removed; None when empty."""
    if value is None:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("utf-8", "replace") if utf8 else value.decode("latin-1")
    text = printable(text).strip()  # NULs and every other control character out
    return text or None


def _date(day: bytes | None, time: bytes | None) -> str | None:
    """2:55 Date Created and 2:60 Time Created as ISO 8601 text, or None without a valid date."""
    match = _IIM_DATE.fullmatch((day or b"").strip())
    if not match or not (1 <= int(match[2]) <= 12 and 1 <= int(match[3]) <= 31):
        return None
    text = "-".join(part.decode() for part in match.groups())
    clock = _IIM_TIME.fullmatch((time or b"").strip())
    if clock and int(clock[1]) < 24 and int(clock[2]) < 60 and int(clock[3]) < 61:
        text += "T" + ":".join(part.decode() for part in clock.groups()[:3])
        if clock[4]:
            text += f"{clock[4].decode()}{clock[5].decode()}:{clock[6].decode()}"
    return text
