"""Cheap checks of ``packaging/`` that need no build (the build itself is ``make dist-check``).

The desktop entry and the AppStream metainfo pass their validators
(``desktop-file-validate``, ``appstreamcli validate``: ``make test`` installs
them through ``packaging/system-deps.sh test``; skipped where missing); they
agree with each other and with ``pyproject.toml``'s entry points; every entry
point names a function that exists; the launchers start spawned workers
before anything else; every repository file the PyInstaller spec names
exists; the icon is there as SVG and as a 256 px PNG.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
SPEC = PACKAGING / "mediaapp.spec"
DESKTOP = PACKAGING / "mediaapp.desktop"
ICONS = REPO / "resources" / "icons"


def _load_entry_points():
    """``packaging/entry_points.py`` loaded by path (``packaging/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("mediaapp_entry_points", PACKAGING / "entry_points.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


entry_points = _load_entry_points()


def _metainfo() -> Path:
    """The one AppStream metainfo file in ``packaging/``."""
    (path,) = PACKAGING.glob("*.metainfo.xml")
    return path


def _desktop_entry() -> configparser.SectionProxy:
    """The ``[Desktop Entry]`` group of ``packaging/mediaapp.desktop``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def _validate(tool: str, *args: str) -> None:
    """Run ``tool *args``; skip when it is not installed, fail with its output when it rejects the file."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (packaging/system-deps.sh test installs it)")
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_desktop_entry_passes_desktop_file_validate():
    """``desktop-file-validate`` accepts the desktop entry."""
    _validate("desktop-file-validate", str(DESKTOP))


def test_metainfo_passes_appstreamcli_validate():
    """``appstreamcli validate`` accepts the metainfo (no network checks)."""
    _validate("appstreamcli", "validate", "--no-net", str(_metainfo()))


def test_entry_points_name_functions_that_exist():
    """Each ``[project.scripts]``/``[project.gui-scripts]`` target is a top-level function of an existing module."""
    entries = entry_points.read_entry_points(REPO / "pyproject.toml")
    assert {(e.name, e.gui) for e in entries} >= {("mediaapp", False), ("mediaapp-gui", True)}
    for entry in entries:
        source = entry.module_file(REPO)
        assert source.is_file(), f"{entry.name}: no module {entry.module} at {source}"
        tree = ast.parse(source.read_text(encoding="utf-8"))
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert entry.function in functions, f"{entry.name}: {entry.module} defines no {entry.function}()"


def test_launchers_start_workers_first():
    """A launcher calls ``freeze_support()`` before importing its command, inside the ``__main__`` guard."""
    for entry in entry_points.read_entry_points(REPO / "pyproject.toml"):
        tree = ast.parse(entry_points.launcher_source(entry))
        (guard,) = [node for node in tree.body if isinstance(node, ast.If)]
        first, second = guard.body[0], guard.body[1]
        assert ast.unparse(first) == "multiprocessing.freeze_support()"
        assert isinstance(second, ast.ImportFrom) and second.module == entry.module
        assert [alias.name for alias in second.names] == [entry.function]


def test_spec_builds_the_entry_points_and_names_existing_files():
    """The spec reads the entry points from pyproject.toml, and every ``REPO / ...`` file it names exists."""
    text = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(text)
    assert "read_entry_points" in text and '"entry_points.py"' in text
    roots = {"REPO": REPO, "PACKAGING": PACKAGING}
    named: list[Path] = []

    def chain(node: ast.AST) -> Path | None:
        """The path of ``ROOT / "a" / "b"`` (all parts literal), else None."""
        if isinstance(node, ast.Name):
            return roots.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
            left = chain(node.left)
            return None if left is None else left / node.right.value
        return None

    def visit(node: ast.AST) -> None:
        """Collect the longest literal path chains under ``node``."""
        path = chain(node) if isinstance(node, ast.BinOp) else None
        if path is not None:
            named.append(path)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    assert len(named) >= 7
    missing = [str(p.relative_to(REPO)) for p in named if not p.exists()]
    assert not missing, f"the spec names files that do not exist: {missing}"


def test_desktop_entry_and_metainfo_agree():
    """Exec is the GUI entry point, Icon the icon in resources/, and the metainfo launches this desktop entry."""
    group = _desktop_entry()
    gui = [e.name for e in entry_points.read_entry_points(REPO / "pyproject.toml") if e.gui]
    assert group["Exec"].split()[0] in gui
    assert (ICONS / f"{group['Icon']}.svg").is_file()
    root = ET.parse(_metainfo()).getroot()
    assert root.findtext("id") == _metainfo().name.removesuffix(".metainfo.xml")
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP.name
    assert root.findtext("name") == group["Name"]
    commands = {e.name for e in entry_points.read_entry_points(REPO / "pyproject.toml")}
    assert {b.text for b in root.iterfind("provides/binary")} == commands


def test_icon_svg_and_png():
    """The icon is a square SVG and a 256x256 PNG."""
    svg = ET.parse(ICONS / "mediaapp.svg").getroot()
    assert svg.get("viewBox") == "0 0 256 256"
    header = (ICONS / "mediaapp.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    assert struct.unpack(">II", header[16:24]) == (256, 256)


def test_spec_bundles_every_face_model_the_code_loads():
    """Each ``face_recognition_models`` file the analysers locate (``frm.*_location``) is in the spec's list.

    The frozen app has only the files ``_face_weights`` names: one left out
    makes its analyser fail with EngineUnavailable in the packaged app only
    (the 68-point predictor of ``face_attributes`` was).
    """
    frm = pytest.importorskip("face_recognition_models")
    used: set[str] = set()
    for node in ast.walk(ast.parse(SPEC.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["used"]:
            used = {elt.value for elt in node.value.elts}  # type: ignore[attr-defined]
    assert used, "the spec's _face_weights lists no files"
    locators: set[str] = set()
    for source in (REPO / "mediaapp").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "frm"
                    and node.attr.endswith("_location")):
                locators.add(node.attr)
    assert len(locators) >= 4
    missing = sorted(name for name in (Path(getattr(frm, loc)()).name for loc in locators) if name not in used)
    assert not missing, f"the code loads face models the spec does not bundle: {missing}"
