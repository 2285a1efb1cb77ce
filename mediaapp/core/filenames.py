"""File paths as stored text, losslessly, and as text a person can read.

On POSIX a file name is a string of bytes, and not every byte string is
UTF-8: a Latin-1 ``café.jpg`` copied from an old disk is ``caf\\xe9.jpg``.
Python hands such names over as ``str`` with each undecodable byte turned
into a lone surrogate U+DC80-U+DCFF (PEP 383, the ``surrogateescape``
error handler), and ``open()`` turns them back into the same bytes. SQLite
text and the JSON sent to OpenSearch must be valid Unicode, which lone
surrogates are not, so such a path is stored escaped:

- ``to_stored(path)``: every lone surrogate becomes ``ESCAPE`` (U+FFFD,
  the replacement character) followed by its four hex digits
  (``\\udce9`` -> ``\\ufffdDCE9``), and a literal ``ESCAPE`` is doubled.
  Paths that are valid Unicode and hold no U+FFFD, i.e. practically all of
  them, are stored unchanged, so existing catalogs need no migration.
- ``from_stored(text)`` undoes it exactly.

The escape works character by character, so a folder's stored form is a
prefix of the stored form of every path below it, and prefix searches keep
working on stored text.

``display_path(path)`` is for people: undecodable bytes are shown as
``\\xe9``, as ``ls -b`` does, and the result can always be printed.
"""

from __future__ import annotations

__all__ = ["ESCAPE", "display_path", "from_stored", "to_stored"]

#: The escape character of stored paths: U+FFFD REPLACEMENT CHARACTER.
ESCAPE = "\ufffd"

_HEX = frozenset("0123456789ABCDEF")


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def _needs_escape(path: str) -> bool:
    if ESCAPE in path:
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def to_stored(path: str) -> str:
    """The stored (valid Unicode) form of ``path``; ``path`` itself when it needs no escape.

    Lone surrogates become ``ESCAPE`` + 4 uppercase hex digits; a literal
    ``ESCAPE`` becomes two. Reversed by ``from_stored``. Never raises.
    """
    if not _needs_escape(path):
        return path
    out = []
    for ch in path:
        if ch == ESCAPE:
            out.append(ESCAPE + ESCAPE)
        elif _is_surrogate(ch):
            out.append(f"{ESCAPE}{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def from_stored(text: str) -> str:
    """The path whose stored form is ``text`` (the inverse of ``to_stored``).

    Lenient: an ``ESCAPE`` that is neither doubled nor followed by the four
    hex digits of a surrogate (text ``to_stored`` never produces, such as a
    name with U+FFFD written by an older mediaapp into a search index) is
    kept as it is. Never raises.
    """
    if ESCAPE not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != ESCAPE:
            out.append(ch)
            i += 1
            continue
        if text[i + 1:i + 2] == ESCAPE:
            out.append(ESCAPE)
            i += 2
            continue
        digits = text[i + 1:i + 5]
        if len(digits) == 4 and set(digits) <= _HEX and 0xD800 <= int(digits, 16) <= 0xDFFF:
            out.append(chr(int(digits, 16)))
            i += 5
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def display_path(path: str) -> str:
    """``path`` as printable text: each undecodable byte (U+DC80-U+DCFF) shown as ``\\xNN``.

    Any other lone surrogate (possible in Windows names) is shown as
    ``\\uNNNN``. The result is valid Unicode, so printing it or giving it to
    Qt never fails; it is for reading, not for opening the file.
    """
    if not any(_is_surrogate(ch) for ch in path):
        return path
    out = []
    for ch in path:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
