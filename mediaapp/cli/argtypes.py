"""Argument types of the CLI: a bad value is refused by argparse (exit 2, the value named) before any work starts.

Each function takes the text given on the command line and returns the
parsed value, or raises ``argparse.ArgumentTypeError`` with a sentence that
says what is wrong; argparse prints ``mediaapp <command>: error: argument
--x: <sentence>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import os

from mediaapp.core.apis import parse_api, short_names
from mediaapp.core.query import normalize_taken_at

__all__ = ["api_list", "engine_name", "existing_path", "iso_date", "non_negative_int", "percent"]


def percent(text: str) -> float:
    """A finite number from 0 to 100 (a confidence or a Similarity)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"{text} is not from 0 to 100")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def iso_date(text: str) -> str:
    """An ISO 8601 date or date-time (``2020-01-31``, ``2020-01-31T12:00``), returned as given."""
    if normalize_taken_at(text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date (e.g. 2020-01-31)")
    return text


def api_list(text: str) -> list[str]:
    """Comma-separated analyses (short names or operation names), as operation names; at least one."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one analysis: {short_names()}")
    try:
        return list(dict.fromkeys(parse_api(name).value for name in names))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def engine_name(text: str) -> str:
    """A registered analysis engine, or a ``module:Class`` engine that loads."""
    from mediaapp.analysis.registry import engine_class  # the engines load only when --engine is given
    from mediaapp.core.analysis import EngineUnavailableError

    try:
        engine_class(text)
    except EngineUnavailableError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def existing_path(text: str) -> str:
    """A file or folder that exists (``~`` expanded), returned as given."""
    if not os.path.exists(os.path.expanduser(text)):
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return text
