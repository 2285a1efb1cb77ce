"""``mediaapp`` command-line entry point.

Usage: ``mediaapp [--library DIR] COMMAND ...``. Each command lives in
``mediaapp.cli.commands.<name>`` and registers its own argparse sub-parser.
Exit codes: 0 on success (even when some files failed: they are reported),
1 when the command could not do its job, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sqlite3
import sys
from pathlib import Path

from mediaapp import __version__
from mediaapp.core.filenames import display_path
from mediaapp.failures import describe
from mediaapp.paths import default_library_dir
from mediaapp.settings import SettingsError

#: Sub-command modules under ``mediaapp.cli.commands``, in help order.
COMMAND_MODULES = ["import_", "search", "reindex", "show", "people", "faces", "models", "estimate", "export",
                   "import_results", "cloud"]


class CliContext:
    """What a command handler gets: the library folder and a lazily opened ``Library``."""

    def __init__(self, library_dir: Path):
        self.library_dir = library_dir
        self._library = None

    def library(self):
        """The ``Library`` at ``library_dir``, opened on first use."""
        if self._library is None:
            from mediaapp.library import Library
            self._library = Library(self.library_dir)
        return self._library

    def close(self) -> None:
        """Close the library if it was opened."""
        if self._library is not None:
            self._library.close()
            self._library = None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="mediaapp", description="Searchable media library.")
    parser.add_argument("--version", action="version", version=f"mediaapp {__version__}")
    parser.add_argument("--library", metavar="DIR", type=Path, default=None,
                        help="library folder (default: $MEDIAAPP_LIBRARY or the user data dir)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"mediaapp.cli.commands.{name}").register(subparsers)
    return parser


def _lossless_stdout() -> None:
    """Print file names that are not valid UTF-8 as their own bytes, as ``ls`` does into a pipe.

    Python's default ``strict`` handler raises on the lone surrogates that
    stand for such bytes (PEP 383); ``surrogateescape`` writes the original
    bytes back, so ``mediaapp search ... | xargs`` gets names that open.
    Human-facing lines use ``display_path`` instead.
    """
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="surrogateescape")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    _lossless_stdout()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    library_dir = (args.library or default_library_dir()).expanduser().resolve()
    if library_dir.exists() and not library_dir.is_dir():
        parser.error(f"--library {display_path(str(library_dir))} is a file; a library is a folder")
    ctx = CliContext(library_dir)
    try:
        return int(args.func(args, ctx) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``mediaapp search | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, sqlite3.DatabaseError, RuntimeError, SettingsError) as exc:
        # The library itself is unusable (unwritable folder, not a database, disk full, newer schema,
        # a settings.json with a bad value: the message names the key).
        print(f"mediaapp: error: {describe(exc, f'the library at {ctx.library_dir}')}", file=sys.stderr)
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
