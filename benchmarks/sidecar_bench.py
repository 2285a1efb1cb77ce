"""XMP sidecar writing speed: ``SidecarWriter`` over a catalog of ``--count`` images (default 1,000).

Builds a throw-away catalog of ``--count`` assets, each with one small file
in a temporary folder, the recorded Rekognition DetectLabels answer of the
shared test data (29 labels, 20 of them at the default minimum confidence
80) and one named person (a ``person`` detection with a box). A quarter of
the files already have a sidecar another program wrote (exiftool-style,
with a keyword and camera data), so the writer merges into those. Then it
times, with sidecars on for the library:

1. the first run (every asset marked by the change feed): new sidecars and merges;
2. a run after one label changed on every asset (every sidecar read, merged, rewritten);
3. a run with nothing changed but every asset marked again (sidecars read and found as wanted: no write).

Prints each as total seconds and milliseconds per sidecar. The files live on
the temporary folder's disk; every write is ``fsync``-ed.

Run: ``python benchmarks/sidecar_bench.py [--count 1000] [--testdata DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediaapp.catalog.db import Catalog
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api, BoundingBox, Detection, DetectionKind
from mediaapp.services.sidecars import SIDECARS, SidecarWriter
from mediaapp.settings import Settings

#: A sidecar as another program leaves it (camera data and one keyword of its own).
FOREIGN = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Image::ExifTool 12.57">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/">
  <dc:subject><rdf:Bag><rdf:li>Holiday</rdf:li></rdf:Bag></dc:subject>
  <exif:ExposureTime>1/250</exif:ExposureTime><exif:FNumber>8/1</exif:FNumber>
  <tiff:Make>Canon</tiff:Make><tiff:Model>Canon EOS 6D</tiff:Model>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def build(catalog: Catalog, folder: Path, count: int, response: dict) -> None:
    """``count`` assets with one file each, the labels of ``response`` and one named face."""
    labels = flatten(Api.DETECT_LABELS, response, "rekognition")
    for i in range(count):
        path = folder / f"img_{i:05d}.jpg"
        path.write_bytes(b"\xff\xd8 not really a JPEG %d" % i)
        if i % 4 == 0:
            (folder / f"img_{i:05d}.jpg.xmp").write_text(FOREIGN, encoding="utf-8")
        sha = f"{i:064x}"
        catalog.add_file(path=str(path), size=path.stat().st_size, mtime_ns=path.stat().st_mtime_ns, sha256=sha,
                         asset={"format": "JPEG", "width": 4000, "height": 3000})
        catalog.store_analysis(sha256=sha, api="DetectLabels", engine="rekognition", engine_version="bench",
                               params="", response=response, detections=labels)
        catalog.store_analysis(sha256=sha, api="RecognizeCelebrities", engine="rekognition",
                               engine_version="bench", params="", response={},
                               detections=[Detection(DetectionKind.PERSON, f"Person {i % 50}", 99.0,
                                                     BoundingBox(0.4, 0.2, 0.1, 0.15), (), "rekognition")])


def timed(label: str, writer: SidecarWriter, count: int) -> None:
    """Run ``writer.sync()`` and print its time."""
    start = time.perf_counter()
    report = writer.sync()
    seconds = time.perf_counter() - start
    print(f"{label}: {count} images in {seconds:.2f} s = {1000 * seconds / count:.2f} ms per sidecar "
          f"(written {report.written}, unchanged {report.unchanged}, failed {len(report.failed)})")


def main() -> None:
    """Parse the arguments, build the catalog, time the three runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    default_data = os.environ.get("MEDIAAPP_TESTDATA", str(Path(__file__).resolve().parents[2] / "shared/testdata"))
    parser.add_argument("--testdata", default=default_data)
    args = parser.parse_args()
    response = json.loads((Path(args.testdata) / "4_rekognition/awscli/detect-labels.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "photos"
        folder.mkdir()
        catalog = Catalog(Path(scratch) / "catalog.sqlite")
        build(catalog, folder, args.count, response)
        settings = Settings().replace(sidecars={"enabled": True})
        writer = SidecarWriter(catalog, lambda: settings)
        timed("first run (new sidecars and merges)", writer, args.count)
        response["Labels"][0]["Name"] = "Motor car"  # one label changes on every image
        labels = flatten(Api.DETECT_LABELS, response, "rekognition")
        for i in range(args.count):
            catalog.store_analysis(sha256=f"{i:064x}", api="DetectLabels", engine="rekognition",
                                   engine_version="bench2", params="", response=response, detections=labels)
        timed("a label changed on every image (read, merge, rewrite)", writer, args.count)
        writer.records.mark_all(SIDECARS)
        timed("nothing changed, every image marked (read, no write)", writer, args.count)
        catalog.close()


if __name__ == "__main__":
    main()
