"""The commands the one-folder app provides, read from ``pyproject.toml``.

``[project.scripts]`` (console commands) and ``[project.gui-scripts]`` are the
single source: ``packaging/mediaapp.spec`` builds one executable per entry, and
``tests/packaging`` checks that every entry names a function that exists. Each
executable starts from a small launcher script made by ``launcher_source``.

Standard library only; loaded by path (``packaging/`` is not a Python package,
and must never become one: its name would hide the PyPI ``packaging`` library).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

#: The repository root (this file lives in ``packaging/``).
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class EntryPoint:
    """One command: its executable ``name``, ``module:function`` target and whether it is a GUI."""

    name: str
    module: str
    function: str
    gui: bool

    @property
    def launcher_name(self) -> str:
        """The launcher script's module name (``launch_`` + the name with ``-`` as ``_``)."""
        return "launch_" + self.name.replace("-", "_")

    def module_file(self, root: Path = REPO) -> Path:
        """The source file of ``module`` under ``root`` (a module file or a package's ``__init__.py``)."""
        base = root.joinpath(*self.module.split("."))
        plain = base.with_suffix(".py")
        return plain if plain.is_file() else base / "__init__.py"


def read_entry_points(pyproject: Path = REPO / "pyproject.toml") -> list[EntryPoint]:
    """Every ``[project.scripts]`` and ``[project.gui-scripts]`` entry of ``pyproject``, console ones first.

    Raises ``ValueError`` for an entry that is not ``module:function``
    (extras in brackets and attribute paths are not used by this project).
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    found: list[EntryPoint] = []
    for table, gui in (("scripts", False), ("gui-scripts", True)):
        for name, target in sorted(project.get(table, {}).items()):
            module, sep, function = target.partition(":")
            if not sep or not module.strip() or not function.strip().isidentifier():
                raise ValueError(f"[project.{table}] {name} = {target!r}: expected 'module:function'")
            found.append(EntryPoint(name, module.strip(), function.strip(), gui))
    return found


def launcher_source(entry: EntryPoint) -> str:
    """The text of the script an executable starts from: worker start-up, then ``entry``'s function.

    The import pipeline's workers are spawned processes (``mediaapp.tasks``);
    in a frozen app they start as this same executable, and
    ``multiprocessing.freeze_support()`` turns such a start into a worker
    before anything else runs. The ``__main__`` guard keeps a worker from
    starting the command again.
    """
    kind = "GUI" if entry.gui else "command-line"
    return (
        f'"""Starts the {kind} entry `{entry.name}` ({entry.module}:{entry.function}) of the one-folder app."""\n'
        "\n"
        "import multiprocessing\n"
        "import sys\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    multiprocessing.freeze_support()\n"
        f"    from {entry.module} import {entry.function}\n"
        "\n"
        f"    sys.exit({entry.function}())\n"
    )


def write_launchers(entries: list[EntryPoint], folder: Path) -> dict[str, Path]:
    """Write each entry's launcher into ``folder``; return ``{entry name: script path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for entry in entries:
        path = folder / f"{entry.launcher_name}.py"
        text = launcher_source(entry)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths[entry.name] = path
    return paths
