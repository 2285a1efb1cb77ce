"""Reading an XMP packet: the keywords, title, rating and named face regions other tools wrote.

XMP (ISO 16684-1, Adobe's "XMP Specification" parts 1-3) is RDF/XML. A
packet is parsed with the standard library's ElementTree through
``defusedxml``, which refuses a DTD, entity declarations and external
references (XMP never needs them; they are how "billion laughs" and external
entity attacks work), and packets over ``MAX_XMP_BYTES`` are refused before
parsing. Either way the caller gets one ``XmpError`` naming the reason; this
module never writes anything.

What is read, by namespace (each constant below names its source):

- Dublin Core (``dc:``, XMP part 1 §8.3): ``subject`` (bag of keywords),
  ``title`` and ``description`` (language alternatives: the ``x-default``
  item, else the first);
- XMP basic (``xmp:``, part 1 §8.4): ``Rating`` (closed choice of Real: -1
  rejected, 0 unrated, 1-5) and ``Label`` (the colour label's name);
- Photoshop (``photoshop:``, part 2 §3.2): ``DateCreated`` (an XMP Date);
- Lightroom (``lr:``): ``hierarchicalSubject``, a bag of keyword paths
  written root first and joined by ``|`` (``Animal|Mammal|Dog``);
- digiKam (``digiKam:``): ``TagsList``, a sequence of tag paths joined by
  ``/`` (``Places/Hungary/Budapest``);
- MWG regions (``mwg-rs:``, Metadata Working Group "Guidelines for Handling
  Image Metadata" 2.0, §5.9): ``Regions/RegionList``, each region an ``Area``
  (``stArea:`` x, y = the centre, w, h, unit ``normalized``: ratios of the
  image as displayed, i.e. after its orientation) with a ``Type`` and
  ``Name``. Only rectangles of faces (``Type`` Face, or no type) are kept.
- Microsoft Photo people regions (``MP:RegionInfo``, Microsoft's "People
  Tagging Overview" schema 1.2, written by Windows Photo Gallery and Windows
  Live): ``MPRI:Regions``, each an ``MPReg:Rectangle`` (``"x, y, w, h"``: the
  top-left corner and the extent, ratios of the image) and an
  ``MPReg:PersonDisplayName``. A region also present as an MWG region (same
  name, or unnamed and overlapping one by half) is read once.

Entries mediaapp wrote itself into a sidecar (``mediaapp.ingest.xmp_write``)
are listed there again in its own namespace (``MEDIAAPP``: ``OwnedSubject``,
``OwnedHierarchicalSubject``, ``OwnedTagsList``, ``OwnedRegionNames``); they are left out
here, so the app's own labels and names never come back as what the file
says (``OWNED_PROPERTIES``).

RDF allows one property in several spellings (an attribute of
``rdf:Description`` or an element; a struct as ``rdf:parseType="Resource"``,
a nested ``rdf:Description`` or attributes); all of them are read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from mediaapp.core.responses import box_iou
from mediaapp.core.text import printable
from mediaapp.core.types import BoundingBox

__all__ = ["MAX_XMP_BYTES", "MEDIAAPP", "OWNED_PROPERTIES", "Region", "XmpError", "XmpFacts", "parse_xmp",
           "scan_for_packet"]

#: The largest XMP packet read (16 MiB): Lightroom and darktable sidecars with a long edit history are a few
#: hundred KiB; anything this big is not metadata worth reading.
MAX_XMP_BYTES = 16 << 20

#: Items read from one array (keywords of one property, regions): more are ignored.
MAX_ITEMS = 10_000

#: RDF syntax (W3C RDF/XML) and the ``xml:`` namespace (``xml:lang``).
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
#: Dublin Core elements 1.1 (XMP part 1 §8.3).
DC = "http://purl.org/dc/elements/1.1/"
#: XMP basic (XMP part 1 §8.4).
XMP_BASIC = "http://ns.adobe.com/xap/1.0/"
#: Photoshop (XMP part 2 §3.2).
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
#: Adobe Lightroom (``lr:hierarchicalSubject``).
LIGHTROOM = "http://ns.adobe.com/lightroom/1.0/"
#: digiKam (``digiKam:TagsList``).
DIGIKAM = "http://www.digikam.org/ns/1.0/"
#: MWG regions (MWG guidelines 2.0 §5.9) and the XMP Area struct its regions use.
MWG_REGIONS = "http://www.metadataworkinggroup.com/schemas/regions/"
ST_AREA = "http://ns.adobe.com/xmp/sType/Area#"
#: Microsoft Photo 1.2 (``MP:RegionInfo``) and the namespaces of its RegionInfo and Region structs.
MICROSOFT_PHOTO = "http://ns.microsoft.com/photo/1.2/"
MP_REGION_INFO = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
MP_REGION = "http://ns.microsoft.com/photo/1.2/t/Region#"
#: mediaapp's own namespace (prefix ``mediaapp``), written only into sidecars it writes. An ``.invalid``
#: host (RFC 2606) is never anyone else's; XMP namespace names are never fetched.
MEDIAAPP = "http://ns.mediaapp.invalid/xmp/1.0/"
#: The property of ``MEDIAAPP`` listing the entries mediaapp owns, by the property they are in.
OWNED_PROPERTIES = {f"{{{DC}}}subject": f"{{{MEDIAAPP}}}OwnedSubject",
                    f"{{{LIGHTROOM}}}hierarchicalSubject": f"{{{MEDIAAPP}}}OwnedHierarchicalSubject",
                    f"{{{DIGIKAM}}}TagsList": f"{{{MEDIAAPP}}}OwnedTagsList",
                    f"{{{MWG_REGIONS}}}Regions": f"{{{MEDIAAPP}}}OwnedRegionNames"}

_ARRAYS = frozenset({f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt"})
_LI, _DESCRIPTION, _VALUE = f"{{{RDF}}}li", f"{{{RDF}}}Description", f"{{{RDF}}}value"
_LANG = f"{{{XML}}}lang"

#: An XMP Date (XMP part 1 §8.2.1.1: a subset of ISO 8601): YYYY[-MM[-DD[Thh:mm[:ss[.s+]][TZD]]]].
_XMP_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")

#: Where a packet starts and ends inside a file of a format this app does not parse (XMP part 3 §1.1: a
#: packet may be found by scanning; ``x:xapmeta`` is the name older writers used).
_PACKET_STARTS = (b"<x:xmpmeta", b"<x:xapmeta")
_PACKET_ENDS = (b"</x:xmpmeta>", b"</x:xapmeta>")


class XmpError(ValueError):
    """An XMP packet that is not read: not well-formed XML, a DTD or entities, too large, no ``rdf:RDF``.

    The message says which, in words (the caller adds the file's name).
    """


@dataclass(frozen=True, slots=True)
class Region:
    """A named (or unnamed) face rectangle from MWG regions, as ratios of the image after its orientation.

    ``left``/``top`` are the top-left corner, ``width``/``height`` the
    extent, each 0-1 (clipped to the image); ``name`` is ``mwg-rs:Name`` or
    None.
    """

    name: str | None
    left: float
    top: float
    width: float
    height: float


@dataclass(slots=True)
class XmpFacts:
    """What one XMP packet says, ready to merge with other sources (``mediaapp.ingest.file_tags``).

    ``keywords``: each keyword as a path, root first: a ``dc:subject`` entry
    is a 1-tuple, ``lr:hierarchicalSubject`` and ``digiKam:TagsList`` entries
    are split on ``|`` and ``/``; ``title``, ``description``: text;
    ``rating``: -1 to 5; ``label``: text; ``date_created``: an XMP Date as
    written (ISO 8601); ``regions``: face rectangles in document order.
    Missing values are None (empty lists).
    """

    keywords: list[tuple[str, ...]] = field(default_factory=list)
    title: str | None = None
    description: str | None = None
    rating: float | None = None
    label: str | None = None
    date_created: str | None = None
    regions: list[Region] = field(default_factory=list)


def parse_xmp(data: bytes | str) -> XmpFacts:
    """Read the fields listed in the module docstring from one XMP packet (``bytes`` in any XML encoding, or text).

    Values that do not fit their type (a rating that is not a number from -1
    to 5, a date that is not an XMP Date, a region without a normalized
    rectangle) are left out. Raises ``XmpError`` for a packet over
    ``MAX_XMP_BYTES``, XML that is not well formed, a DTD, entity declaration
    or external reference (refused unexpanded), or XML without ``rdf:RDF``.
    """
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"the XMP packet is {len(data) / (1 << 20):.1f} MiB, more than the "
                       f"{MAX_XMP_BYTES >> 20} MiB read")
    if isinstance(data, bytes):
        wide = data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]  # UTF-16/32: NULs are text
        data = data.strip(b" \t\r\n") if wide else data.strip(b"\x00 \t\r\n")
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise XmpError(f"refused: the XMP declares a DTD or entities ({type(exc).__name__})") from None
    except ParseError as exc:
        raise XmpError(f"not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an unknown encoding name, text with an encoding declaration
        raise XmpError(f"not readable XML ({exc})") from None
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise XmpError("no rdf:RDF element: not an XMP packet")
    props: dict[str, Element | str] = {}
    for description in rdf.findall(_DESCRIPTION):  # each holds some of the properties; the first spelling wins
        for name, value in description.attrib.items():
            if not name.startswith((f"{{{RDF}}}", f"{{{XML}}}")):
                props.setdefault(name, value)
        for child in description:
            props.setdefault(child.tag, child)
    facts = XmpFacts()
    ours = {prop: set(_texts(props.get(owned))) for prop, owned in OWNED_PROPERTIES.items()}  # mediaapp wrote
    facts.keywords += [(k,) for k in _theirs(props, f"{{{DC}}}subject", ours)]
    facts.keywords += [_path(k, "|") for k in _theirs(props, f"{{{LIGHTROOM}}}hierarchicalSubject", ours)]
    facts.keywords += [_path(k, "/") for k in _theirs(props, f"{{{DIGIKAM}}}TagsList", ours)]
    facts.keywords = [k for k in facts.keywords if k]
    facts.title = _lang_alt(props.get(f"{{{DC}}}title"))
    facts.description = _lang_alt(props.get(f"{{{DC}}}description"))
    rating = _number(_text(props.get(f"{{{XMP_BASIC}}}Rating")))
    facts.rating = rating if rating is not None and -1 <= rating <= 5 else None
    facts.label = _text(props.get(f"{{{XMP_BASIC}}}Label"))
    date = _text(props.get(f"{{{PHOTOSHOP}}}DateCreated"))
    facts.date_created = date if date and _XMP_DATE.fullmatch(date) else None
    own_names = ours[f"{{{MWG_REGIONS}}}Regions"]
    facts.regions = [r for r in _regions(props.get(f"{{{MWG_REGIONS}}}Regions")) if r.name not in own_names]
    facts.regions += [r for r in _mp_regions(props.get(f"{{{MICROSOFT_PHOTO}}}RegionInfo"))
                      if r.name not in own_names and not any(_same_region(r, m) for m in facts.regions)]
    return facts


def _theirs(props: dict[str, Element | str], prop: str, ours: dict[str, set[str]]) -> list[str]:
    """The texts of the array property ``prop`` except those mediaapp lists as its own (``OWNED_PROPERTIES``)."""
    return [t for t in _texts(props.get(prop)) if t not in ours[prop]]


def scan_for_packet(stream: BinaryIO, chunk: int = 1 << 20) -> bytes | None:
    """The first XMP packet (``<x:xmpmeta>`` to ``</x:xmpmeta>``) in a binary ``stream``, or None.

    For formats whose own structure this app does not parse (RAW files):
    XMP part 3 lets a reader find a packet by scanning. Reads ``chunk`` bytes
    at a time from the current position; memory stays within
    ``MAX_XMP_BYTES`` plus a chunk. Raises ``XmpError`` when a packet starts
    but does not end within ``MAX_XMP_BYTES``, ``OSError`` when the stream
    cannot be read.
    """
    tail = b""
    packet: bytearray | None = None
    while True:
        block = stream.read(chunk)
        if not block:
            return None
        if packet is None:
            window = tail + block
            found = [i for i in (window.find(s) for s in _PACKET_STARTS) if i >= 0]
            if not found:
                tail = window[-16:]
                continue
            packet = bytearray(window[min(found):])
        else:
            packet += block
        ends = [i for i in (packet.find(e) for e in _PACKET_ENDS) if i >= 0]
        if ends:
            end = min(ends)
            return bytes(packet[:end + len(_PACKET_ENDS[0])])
        if len(packet) > MAX_XMP_BYTES:
            raise XmpError(f"an XMP packet starts but does not end within {MAX_XMP_BYTES >> 20} MiB")


# -- RDF values ----------------------------------------------------------------------------------------
def _items(prop: Element | str | None) -> list[Element | str]:
    """The members of an ``rdf:Bag``/``Seq``/``Alt`` property (a lone value counts as one), at most ``MAX_ITEMS``."""
    if prop is None:
        return []
    if isinstance(prop, str):
        return [prop]
    array = next((child for child in prop if child.tag in _ARRAYS), None)
    if array is None:
        return [prop]
    return [li for li in array if li.tag == _LI][:MAX_ITEMS]


def _text(node: Element | str | None) -> str | None:
    """A simple value's text, stripped (an ``rdf:value`` qualifier's, an ``rdf:resource`` URI), or None when empty."""
    if node is None:
        return None
    if not isinstance(node, str):
        resource = node.get(f"{{{RDF}}}resource")
        if resource is not None:
            node = resource
        else:
            value = node.find(_VALUE)
            element = value if value is not None else node
            if len(element):  # a struct or an array, not text
                return None
            node = element.text or ""
    text = printable(node).strip()
    return text or None


def _texts(prop: Element | str | None) -> list[str]:
    """The non-empty texts of an array property's members."""
    return [t for t in map(_text, _items(prop)) if t]


def _lang_alt(prop: Element | str | None) -> str | None:
    """A language alternative's ``x-default`` text, else its first non-empty one (XMP part 1 §8.2.2.4)."""
    items = _items(prop)
    default = [i for i in items if not isinstance(i, str) and i.get(_LANG, "").lower() == "x-default"]
    return next((t for t in map(_text, default + items) if t), None)


def _path(text: str, separator: str) -> tuple[str, ...]:
    """A hierarchical keyword split on ``separator``, each part stripped, empty parts dropped."""
    return tuple(part.strip() for part in text.split(separator) if part.strip())


def _number(text: str | None) -> float | None:
    """A finite number from text, or None."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _struct(node: Element | str | None) -> dict[str, Element | str]:
    """A struct's fields by qualified name, whichever RDF spelling it uses (attributes, children, a nested
    ``rdf:Description``); ``{}`` for a missing or simple value."""
    fields: dict[str, Element | str] = {}
    if node is None or isinstance(node, str):
        return fields
    holders = [node, *(d for d in node if d.tag == _DESCRIPTION)]
    for holder in holders:
        for name, value in holder.attrib.items():
            if not name.startswith((f"{{{RDF}}}", f"{{{XML}}}")):
                fields.setdefault(name, value)
        for child in holder:
            if not child.tag.startswith(f"{{{RDF}}}"):
                fields.setdefault(child.tag, child)
    return fields


def _regions(prop: Element | str | None) -> Iterator[Region]:
    """The face rectangles of an ``mwg-rs:Regions`` struct (see the module docstring)."""
    region_list = _struct(prop).get(f"{{{MWG_REGIONS}}}RegionList")
    for item in _items(region_list):
        region = _struct(item)
        kind = _text(region.get(f"{{{MWG_REGIONS}}}Type"))
        if kind is not None and kind.lower() != "face":
            continue
        area = _struct(region.get(f"{{{MWG_REGIONS}}}Area"))
        unit = _text(area.get(f"{{{ST_AREA}}}unit"))
        if unit is not None and unit != "normalized":
            continue
        x, y, w, h = (_number(_text(area.get(f"{{{ST_AREA}}}{k}"))) for k in "xywh")
        if x is None or y is None or w is None or h is None or not (0 < w <= 1 and 0 < h <= 1):
            continue
        left, top = max(x - w / 2, 0.0), max(y - h / 2, 0.0)
        right, bottom = min(x + w / 2, 1.0), min(y + h / 2, 1.0)
        if right <= left or bottom <= top:
            continue
        yield Region(_text(region.get(f"{{{MWG_REGIONS}}}Name")), left, top, right - left, bottom - top)


def _mp_regions(prop: Element | str | None) -> Iterator[Region]:
    """The face rectangles of a Microsoft ``MP:RegionInfo`` struct (see the module docstring)."""
    for item in _items(_struct(prop).get(f"{{{MP_REGION_INFO}}}Regions")):
        region = _struct(item)
        rectangle = _text(region.get(f"{{{MP_REGION}}}Rectangle"))
        parts = [_number(p.strip()) for p in rectangle.split(",")] if rectangle else []
        if len(parts) != 4 or any(p is None for p in parts):
            continue
        x, y, w, h = (float(p) for p in parts if p is not None)
        if not (0 < w <= 1 and 0 < h <= 1):
            continue
        left, top = max(x, 0.0), max(y, 0.0)
        right, bottom = min(x + w, 1.0), min(y + h, 1.0)
        if right <= left or bottom <= top:
            continue
        yield Region(_text(region.get(f"{{{MP_REGION}}}PersonDisplayName")), left, top, right - left, bottom - top)


def _same_region(a: Region, b: Region) -> bool:
    """Whether two regions are one face written twice (MWG and Microsoft's): the same name (ignoring case), or
    both unnamed with boxes overlapping by half (intersection over union, PASCAL VOC's "same object" rule)."""
    if a.name or b.name:
        return (a.name or "").casefold() == (b.name or "").casefold()
    return box_iou(BoundingBox(a.left, a.top, a.width, a.height),
                   BoundingBox(b.left, b.top, b.width, b.height)) >= 0.5
