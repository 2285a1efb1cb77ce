"""The metadata blocks a file carries inside itself (XMP, IPTC-IIM), found but not yet interpreted.

Media handlers hand them over through ``MediaHandler.embedded_metadata``
(``mediaapp.ingest.media``): images through Pillow (``from_pillow``), other
formats by scanning their bytes for an XMP packet (``from_scan``).
``mediaapp.ingest.file_tags`` interprets them. Files are only ever opened
read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from mediaapp.fsio import open_regular
from mediaapp.ingest.iptc import IptcDatasets
from mediaapp.ingest.xmp import XmpError, scan_for_packet

__all__ = ["EmbeddedMetadata", "from_pillow", "from_scan"]

#: TIFF tag 700, XMLPacket (TIFF/EP, DNG; Adobe XMP specification part 3 §1.2.3): the XMP of a TIFF.
TIFF_XMP_TAG = 700


@dataclass(slots=True)
class EmbeddedMetadata:
    """The metadata blocks inside one file.

    ``xmp``: the XMP packet's bytes, or None; ``iptc``: IPTC-IIM datasets as
    Pillow's ``IptcImagePlugin.getiptcinfo`` gives them (``{(record,
    dataset): bytes or [bytes, ...]}``), or None; ``problems``: why a block
    that is there could not be read, in words (``"IPTC-IIM: ..."``).
    """

    xmp: bytes | None = None
    iptc: IptcDatasets | None = None
    problems: list[str] = field(default_factory=list)


def from_pillow(img: Image.Image) -> EmbeddedMetadata:
    """The blocks Pillow found while reading ``img``'s header (``decode.open_image``; no pixels decoded).

    XMP: ``info["xmp"]`` (JPEG APP1, PNG ``iTXt`` ``XML:com.adobe.xmp``,
    WebP, GIF, HEIF/AVIF through their plugins) or TIFF tag 700. IPTC:
    ``IptcImagePlugin.getiptcinfo`` (JPEG APP13, TIFF tag 33723); a block it
    cannot split is a problem, never an exception.
    """
    from PIL import IptcImagePlugin

    found = EmbeddedMetadata()
    xmp = img.info.get("xmp")
    tags = getattr(img, "tag_v2", None)
    if xmp is None and tags is not None:
        xmp = tags.get(TIFF_XMP_TAG)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, bytes | bytearray) and bytes(xmp).strip(b"\x00 \t\r\n"):
        found.xmp = bytes(xmp)
    try:
        found.iptc = IptcImagePlugin.getiptcinfo(img)  # type: ignore[arg-type]
    except Exception as exc:  # a malformed block: Pillow raises SyntaxError, IndexError, struct.error...
        found.problems.append(f"IPTC-IIM: cannot be read ({type(exc).__name__}: {exc})")
    return found


def from_scan(path: str | Path) -> EmbeddedMetadata:
    """The first XMP packet found by scanning the bytes of ``path`` (``xmp.scan_for_packet``); no IPTC.

    For formats whose structure this app does not parse (RAW files keep
    their XMP in a TIFF-like directory). A packet that starts but never ends
    is a problem. Raises ``OSError`` when the file cannot be read.
    """
    found = EmbeddedMetadata()
    with open_regular(path) as stream:
        try:
            found.xmp = scan_for_packet(stream)
        except XmpError as exc:
            found.problems.append(f"embedded XMP: {exc}")
    return found
