"""Make ``resources/screenshot.png``: the main window over a demo library of public-domain images.

The README's screenshot must not show the shared test photos (they are for
tests only), so this builds its own demo folder:

- photos from scikit-image's bundled sample data, each public domain or CC0
  according to ``skimage.data``'s own notes: ``astronaut`` (NASA),
  ``chelsea`` (a cat, CC0 Stefan van der Walt), ``coffee`` (CC0 Rachel
  Michetti), ``rocket`` (SpaceX, public domain), ``hubble_deep_field``
  (NASA) and ``clock`` (public domain). The scikit-image wheel is fetched
  from PyPI into ``--cache`` with ``pip download`` (not installed);
- signs and a note rendered here with Pillow and the DejaVu fonts.

Then it imports the folder with the local engine into a throw-away library,
names the astronaut (Eileen Collins, as NASA's caption says), opens the main
window with the People panel on a virtual screen (Xvfb via ``QT_QPA_PLATFORM=xcb``
when ``DISPLAY`` is set, else Qt's offscreen platform), waits for the
thumbnails and grabs the window::

    python tools/screenshot.py [--out resources/screenshot.png] [--size 1400x900]
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: Sample images of scikit-image's wheel used for the demo (all public domain or CC0, see above).
SKIMAGE_FILES = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
                 "clock_motion.png"]

#: Rendered text images: (file name, lines, background, foreground, size).
SIGNS = [
    ("cafe_sign.png", ["OPEN DAILY", "Espresso Bar"], (30, 60, 40), (240, 235, 210), (900, 500)),
    ("platform_sign.png", ["Platform 4", "Trains to Harbour"], (20, 50, 120), (255, 255, 255), (1000, 420)),
    ("note.png", ["Shoot list: rocket launch,", "astronaut portrait, coffee", "and the studio cat."],
     (250, 248, 240), (20, 20, 20), (1100, 500)),
]


def skimage_images(cache: Path) -> list[Path]:
    """The ``SKIMAGE_FILES`` extracted from a downloaded scikit-image wheel in ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = glob.glob(str(cache / "scikit_image-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--quiet", "-d", str(cache), "scikit-image"], check=True)
        wheels = glob.glob(str(cache / "scikit_image-*.whl"))
    out = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in SKIMAGE_FILES:
            target = cache / name
            if not target.exists():
                target.write_bytes(wheel.read(f"skimage/data/{name}"))
            out.append(target)
    return out


def render_signs(folder: Path) -> None:
    """Write the ``SIGNS`` as PNG files into ``folder``."""
    from PIL import Image, ImageDraw

    for name, lines, bg, fg, size in SIGNS:
        img = Image.new("RGB", size, bg)
        draw = ImageDraw.Draw(img)
        step = size[1] / (len(lines) + 1)
        font_size = int(step * 0.7)
        while font_size > 10:  # the largest size at which every line fits the width
            font = _font(font_size)
            if max(draw.textlength(line, font=font) for line in lines) <= size[0] - 80:
                break
            font_size -= 2
        for i, line in enumerate(lines):
            draw.text((40, step * (i + 0.6)), line, fill=fg, font=font)
        img.save(folder / name)


def _font(size: int):
    """DejaVu Sans Bold at ``size`` pixels, or Pillow's built-in font when it is not installed."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def build_demo(folder: Path, cache: Path) -> None:
    """Fill ``folder`` with the demo photos (two sub-folders) and the rendered signs."""
    from PIL import Image

    shoots, notes = folder / "Shoots", folder / "Notes"
    shoots.mkdir(parents=True, exist_ok=True)
    notes.mkdir(parents=True, exist_ok=True)
    for src in skimage_images(cache):
        Image.open(src).convert("RGB").save(shoots / (src.stem + ".jpg"), quality=92)
    render_signs(notes)


def main() -> int:
    """Build the demo, import it, open the window and save the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "screenshot.png")
    parser.add_argument("--size", default="1400x900")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mediaapp-screenshot-cache")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    work = Path(tempfile.mkdtemp(prefix="mediaapp-demo-"))
    photos, library_dir = work / "Pictures", work / "library"
    build_demo(photos, args.cache)

    from mediaapp.library import Library
    library = Library(library_dir)
    report = library.import_paths([photos])
    library.people.enrol("Eileen Collins", [photos / "Shoots" / "astronaut.jpg"])  # NASA's caption
    library.close()
    print(f"demo library: {report.imported} images, {report.analysed} analyses, {len(report.failed)} failed")

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from mediaapp.ui.main_window import MainWindow
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "qsettings"))
    app = QApplication([sys.argv[0]])
    window = MainWindow(library_dir)
    window.resize(width, height)
    window.show()
    window.people_dock.show()

    def grab() -> None:
        window.grab().save(str(args.out))
        print(f"wrote {args.out}")
        window.close()
        app.quit()

    QTimer.singleShot(8000, grab)  # library open, first page, thumbnails and facets loaded
    app.exec()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
