"""``mediaapp`` command-line entry point.

Usage: ``mediaapp [--library DIR] COMMAND ...``. Each command lives in
``mediaapp.cli.commands.<name>`` and registers its own argparse sub-parser.
Exit codes: 0 on success (even when some files failed: they are reported),
1 when the command could not do its job, 2 for usage errors.

Passwords inside URLs never reach the terminal: error lines and log records
go through ``mediaapp.core.redact``, and a command warns once on stderr
before the library's search server would get credentials over plain
``http://`` (``CliContext.warn_credentials``).
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
from mediaapp.core.redact import index_credentials_warning, install_log_redaction, redact
from mediaapp.failures import describe
from mediaapp.paths import default_library_dir
from mediaapp.search.index_base import SearchUnavailableError
from mediaapp.settings import SettingsError

#: Sub-command modules under ``mediaapp.cli.commands``, in help order.
COMMAND_MODULES = ["import_", "search", "reindex", "show", "people", "faces", "models", "estimate", "export",
                   "import_results", "cloud", "watch", "xmp", "duplicates"]


class CliContext:
    """What a command handler gets: the library folder and a lazily opened ``Library``."""

    def __init__(self, library_dir: Path, *, reads_only: bool = False, rebuilds_index: bool = False):
        self.library_dir = library_dir
        #: The command only reads the library: opening it writes nothing (``Library(sync=False)``).
        self.reads_only = reads_only
        #: The command rebuilds the search index itself (``reindex``): no automatic rebuild at opening.
        self.rebuilds_index = rebuilds_index
        self._library = None
        self._warned: set[str] = set()

    def library(self):
        """The ``Library`` at ``library_dir``, opened on first use.

        Before opening, warns (``warn_credentials``) when its search index
        settings would send credentials over plain ``http://`` to another
        machine: opening may already sync the index.
        """
        if self._library is None:
            from mediaapp.library import Library
            from mediaapp.settings import read_settings

            try:
                self.warn_credentials(read_settings(self.library_dir).index)
            except (OSError, ValueError):
                pass  # an unreadable settings file: Library says so itself
            self._library = Library(self.library_dir, sync=not self.reads_only)
            if self._library.index_problem and not self.rebuilds_index:
                self.rebuild_index(self._library)
        return self._library

    @staticmethod
    def rebuild_index(library) -> None:
        """Say why the embedded index is rebuilt, rebuild it with a progress bar on stderr, say it is done.

        Raises ``SearchUnavailableError`` when the index cannot be written.
        """
        from tqdm import tqdm

        print(f"mediaapp: {library.index_problem}; rebuilding it from the catalog", file=sys.stderr)
        bar = tqdm(total=library.catalog.asset_count(), desc="rebuild search index", unit="image", file=sys.stderr)
        try:
            indexed = library.rebuild_index(lambda p: bar.update(p.done - bar.n))
        finally:
            bar.close()
        print(f"mediaapp: search index rebuilt: {indexed} images", file=sys.stderr)

    def warn_credentials(self, index_settings) -> None:
        """Print ``mediaapp: warning: ...`` on stderr when ``index_settings`` send credentials unencrypted.

        ``index_settings``: a ``settings["index"]`` dict
        (``mediaapp.core.redact.index_credentials_warning``). The same
        warning is printed once per command run. Never raises.
        """
        warning = index_credentials_warning(index_settings)
        if warning and warning not in self._warned:
            self._warned.add(warning)
            print(f"mediaapp: warning: {warning}", file=sys.stderr)

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
    # a command's sub-parser sets these when it only reads the library, or rebuilds the index itself
    parser.set_defaults(reads_only=False, rebuilds_index=False)
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
    install_log_redaction()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    library_dir = (args.library or default_library_dir()).expanduser().resolve()
    if library_dir.exists() and not library_dir.is_dir():
        parser.error(f"--library {display_path(str(library_dir))} is a file; a library is a folder")
    ctx = CliContext(library_dir, reads_only=args.reads_only, rebuilds_index=args.rebuilds_index)
    try:
        return int(args.func(args, ctx) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``mediaapp search | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, sqlite3.DatabaseError, RuntimeError, SettingsError, SearchUnavailableError) as exc:
        # The library itself is unusable (unwritable folder, not a database, disk full, newer schema,
        # a settings.json with a bad value: the message names the key).
        print(f"mediaapp: error: {redact(describe(exc, f'the library at {ctx.library_dir}'))}", file=sys.stderr)
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
