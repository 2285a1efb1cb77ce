"""Text normalisation shared by every search backend.

Both backends index and query the tokens this module produces, so "IT'S",
"it's" and "its" behave the same on SQLite FTS5 and OpenSearch: text is
NFKC-normalised, case-folded, apostrophes are dropped inside words, and
tokens are maximal runs of Unicode letters and digits.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"(?<=\w)['\u2019\u02bc](?=\w)")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into normalised search tokens, in order, duplicates kept.

    Example: ``tokenize("IT'S Monday, 12:30!") == ["its", "monday", "12", "30"]``.
    """
    if not text:
        return []
    norm = unicodedata.normalize("NFKC", text).casefold()
    norm = _APOSTROPHES.sub("", norm)
    return _TOKEN.findall(norm)


def normalize_label(name: str) -> str:
    """The case-insensitive key of a label or person name (NFKC, case-folded, trimmed)."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def printable(text: str) -> str:
    """``text`` without control characters (Unicode category Cc, C0 and C1), tabs and newlines kept.

    For text read from files (IPTC, XMP), which the terminal and the window
    show: an ESC or CSI in a photo's title could otherwise drive the
    terminal (escape sequences) when ``mediaapp show`` prints it.
    """
    return "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")


#: ``human_size``'s units, each 1024 times the one before.
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(n: int | None) -> str:
    """``n`` bytes as short text for people: ``"512 B"``, ``"1.2 MB"``; ``""`` for None.

    Binary units (1 KB = 1024 B, 1 MB = 1024 KB...) written ``KB``/``MB``/``GB``/``TB``,
    as Windows Explorer shows file sizes (JEDEC names); whole bytes below 1 KB,
    one decimal above (rounded half to even by ``format``), ``TB`` for anything
    larger. Used by the detail view, the Duplicates view and ``mediaapp duplicates``.
    """
    if n is None:
        return ""
    value = float(n)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # the loop returns at the last unit
