"""Writing mediaapp's labels and named faces into an XMP sidecar, merged with whatever else the sidecar holds.

The sidecar is read with ``defusedxml`` (no DTD, no entities, at most
``xmp.MAX_XMP_BYTES``), changed as an ``xml.etree.ElementTree`` tree, and
written back with the standard library's ``xml.sax.saxutils.XMLGenerator``
using the prefixes the file already uses (XMP part 1 §7: the packet is
RDF/XML; ``<?xpacket?>`` wrapper per part 1 §7.3). What is written
(``SidecarContent``), by namespace:

- ``dc:subject`` (Bag): flat keywords, the labels' names;
- ``lr:hierarchicalSubject`` (Bag): each label's path root first, joined by
  ``|`` (``Transportation|Vehicle|Car``; Lightroom's convention);
- ``digiKam:TagsList`` (Seq): the same paths joined by ``/`` (digiKam's);
- ``mwg-rs:Regions`` (MWG "Guidelines for Handling Image Metadata" 2.0
  §5.9): ``AppliedToDimensions`` (``stDim:w``, ``h``, ``unit`` ``pixel``) and
  one ``RegionList`` entry per named person: ``Area`` (``stArea:x``, ``y``
  = the centre, ``w``, ``h``, ``unit`` ``normalized``, ratios of the image
  as displayed, as ``mediaapp.ingest.xmp`` reads them), ``Type`` ``Face``
  and ``Name``;
- in mediaapp's own namespace (``xmp.MEDIAAPP``): the entries it owns in
  each of the above (``OwnedSubject``, ``OwnedHierarchicalSubject``,
  ``OwnedTagsList``, ``OwnedRegionNames``: the reader leaves those out, so
  they never come back as what the file says; names apart from the standard
  ones, so exiftool's flat tag names never mix them up) and, optionally,
  ``LabelConfidences``: a Bag of
  ``{Name, Confidence}`` structs (Confidence 0-100, as Rekognition gives it).

Merge, don't clobber (``merge_sidecar``): every element, attribute,
namespace and comment the app does not own is kept as it was; an array
entry is removed only when it is listed as ours (in the catalog's record or
in the file's own ``mediaapp`` list) and no longer wanted; a wanted entry
another program already wrote is left to it (not duplicated, not owned).
``write_sidecar`` replaces the file atomically: a temporary file in the same
folder (``TEMP_SUFFIX``), flushed and ``fsync``-ed, then ``os.replace``;
a sidecar that would not change is not written at all. Originals are never
written: the target must be a ``.xmp`` name and a regular file (or absent).
"""

from __future__ import annotations

import io
import os
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element, ParseError, SubElement
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesNSImpl

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import XMLParser as SafeXMLParser

from mediaapp.fsio import open_regular
from mediaapp.ingest.xmp import (
    DC,
    DIGIKAM,
    LIGHTROOM,
    MAX_XMP_BYTES,
    MEDIAAPP,
    MWG_REGIONS,
    RDF,
    ST_AREA,
    XML,
    XmpError,
    _items,
    _struct,
    _text,
)

__all__ = ["TEMP_SUFFIX", "FaceArea", "MergeResult", "Owned", "SidecarContent", "WriteResult", "merge_sidecar",
           "read_owned", "write_sidecar"]

#: The adobe:ns:meta/ wrapper (XMP part 1 §7.3.3) and the XMP Dimensions struct (XMP part 2 §1.2.2.2).
ADOBE_META = "adobe:ns:meta/"
ST_DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"

#: The prefixes written for the namespaces this module adds when the file does not name them already
#: (the customary ones: XMP specification and the MWG guidelines).
PREFIXES = {ADOBE_META: "x", RDF: "rdf", DC: "dc", LIGHTROOM: "lr", DIGIKAM: "digiKam", MWG_REGIONS: "mwg-rs",
            ST_AREA: "stArea", ST_DIM: "stDim", MEDIAAPP: "mediaapp", XML: "xml"}

#: The end of a temporary file's name while a sidecar is written (``.NAME.xmp.<random>.mediaapp-tmp``).
TEMP_SUFFIX = ".mediaapp-tmp"

#: The XMP packet wrapper (XMP part 1 §7.3.2): the begin attribute is U+FEFF, the id a constant of the spec.
_PACKET_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TAIL = '\n<?xpacket end="w"?>\n'

_DESC, _LI, _BAG, _SEQ = f"{{{RDF}}}Description", f"{{{RDF}}}li", f"{{{RDF}}}Bag", f"{{{RDF}}}Seq"
_PARSE_TYPE, _ABOUT = f"{{{RDF}}}parseType", f"{{{RDF}}}about"
_ARRAYS = (_BAG, _SEQ, f"{{{RDF}}}Alt")

#: The owned arrays: property -> (the ``mediaapp`` property listing our entries, the container written).
_OWNED_ARRAYS = {"subject": (f"{{{DC}}}subject", f"{{{MEDIAAPP}}}OwnedSubject", _BAG),
                 "hierarchical": (f"{{{LIGHTROOM}}}hierarchicalSubject", f"{{{MEDIAAPP}}}OwnedHierarchicalSubject",
                                  _BAG),
                 "tags_list": (f"{{{DIGIKAM}}}TagsList", f"{{{MEDIAAPP}}}OwnedTagsList", _SEQ)}
_REGIONS, _OWN_REGIONS = f"{{{MWG_REGIONS}}}Regions", f"{{{MEDIAAPP}}}OwnedRegionNames"
_LABELS = f"{{{MEDIAAPP}}}LabelConfidences"


@dataclass(frozen=True)
class FaceArea:
    """A named person's face: ``name`` and its box as ratios of the image as displayed (top-left corner, extent)."""

    name: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class SidecarContent:
    """What mediaapp wants in one sidecar (see the module docstring); empty tuples for nothing.

    ``subject``: keywords; ``hierarchical``: ``A|B|C`` paths; ``tags_list``:
    ``A/B/C`` paths; ``regions``: named faces; ``dimensions``: (width,
    height) in pixels of the image as displayed, or None; ``confidences``:
    (label name, confidence 0-100) pairs written to ``mediaapp:LabelConfidences``
    (empty: that property is left out).
    """

    subject: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    regions: tuple[FaceArea, ...] = ()
    dimensions: tuple[int, int] | None = None
    confidences: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Owned:
    """Entries owned by mediaapp in one sidecar, by kind (texts; ``regions`` holds region names)."""

    subject: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def union(self, other: Owned) -> Owned:
        """Both sets of entries, this one's first, without repeats."""
        return Owned(*(tuple(dict.fromkeys((*getattr(self, k), *getattr(other, k))))
                       for k in ("subject", "hierarchical", "tags_list", "regions")))


@dataclass
class MergeResult:
    """``merge_sidecar``'s answer: the new packet (None: the file needs no change) and what we own in it now."""

    data: bytes | None
    owned: Owned = field(default_factory=Owned)


@dataclass
class WriteResult:
    """``write_sidecar``'s answer: ``written`` (False: already as wanted), ``owned``, the file's ``size`` and
    ``mtime_ns`` now (0, 0 when there is no file)."""

    written: bool
    owned: Owned
    size: int = 0
    mtime_ns: int = 0


#: Most nested elements a sidecar may have. Real XMP nests a few levels (x:xmpmeta, rdf:RDF,
#: rdf:Description, a property, its rdf:Bag/Seq, rdf:li, a struct: about 10); the tree is walked
#: recursively (``ET.indent``, ``_emit``), so a crafted deep file raised RecursionError, which stopped
#: a whole ``xmp write`` run instead of failing that one sidecar.
MAX_DEPTH = 200


class _Tree(ET.TreeBuilder):
    """A TreeBuilder that keeps comments and processing instructions and remembers each namespace's prefix."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.prefixes: dict[str, str] = {}  # uri -> the first prefix the file gives it
        self.depth = 0

    def start_ns(self, prefix: str, uri: str) -> None:
        """Called by the parser for each ``xmlns`` declaration."""
        self.prefixes.setdefault(uri, prefix)

    def start(self, tag: Any, attrs: Any) -> Element:
        """Open an element; raises ``XmpError`` past ``MAX_DEPTH`` nested elements."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise XmpError(f"nested deeper than {MAX_DEPTH} elements")
        return super().start(tag, attrs)

    def end(self, tag: Any) -> Element:
        """Close an element."""
        self.depth -= 1
        return super().end(tag)


def _parse(data: bytes) -> tuple[Element, dict[str, str]]:
    """The root element of a sidecar's bytes and its prefixes (uri -> prefix). Raises ``XmpError``."""
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"larger than the {MAX_XMP_BYTES >> 20} MiB read")
    builder = _Tree()
    parser = SafeXMLParser(target=builder, forbid_dtd=True)
    try:
        parser.feed(data.strip(b"\x00 \t\r\n"))
        root = parser.close()
    except DefusedXmlException as exc:
        raise XmpError(f"refused: the XMP declares a DTD or entities ({type(exc).__name__})") from None
    except ParseError as exc:
        raise XmpError(f"not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:
        raise XmpError(f"not readable XML ({exc})") from None
    return root, builder.prefixes


def _new_packet() -> Element:
    """An empty ``x:xmpmeta`` / ``rdf:RDF`` / ``rdf:Description`` packet."""
    root = Element(f"{{{ADOBE_META}}}xmpmeta", {f"{{{ADOBE_META}}}xmptk": "mediaapp"})
    SubElement(SubElement(root, f"{{{RDF}}}RDF"), _DESC, {_ABOUT: ""})
    return root


def _rdf(root: Element) -> Element:
    """The packet's ``rdf:RDF`` element. Raises ``XmpError`` when there is none."""
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise XmpError("no rdf:RDF element: not an XMP packet")
    return rdf


def _find(rdf: Element, prop: str) -> tuple[Element, Element] | None:
    """(description, property element) of the first ``prop`` given as an element; an attribute-form value
    (``dc:subject="x"``, a lone text) is turned into an element first."""
    for desc in rdf.findall(_DESC):
        child = desc.find(prop)
        if child is not None:
            return desc, child
        if prop in desc.attrib:
            child = SubElement(desc, prop)
            child.text = desc.attrib.pop(prop)
            return desc, child
    return None


def _home(rdf: Element) -> Element:
    """The ``rdf:Description`` new properties go into (the first; one is made when there is none)."""
    desc = rdf.find(_DESC)
    return desc if desc is not None else SubElement(rdf, _DESC, {_ABOUT: ""})


def _container(prop: Element, kind: str) -> Element:
    """The array element of ``prop`` (an ``rdf:Bag``/``Seq``/``Alt``); a lone value becomes the first item of a
    new ``kind`` array."""
    array = next((c for c in prop if c.tag in _ARRAYS), None)
    if array is None:
        text = (prop.text or "").strip()
        prop.text = None
        array = SubElement(prop, kind)
        if text:
            SubElement(array, _LI).text = text
    return array


def _plain(li: Element) -> str | None:
    """An array item's text: a plain item's stripped text (the common case, quick), else as ``xmp._text`` reads it."""
    if not len(li) and not li.attrib:
        return (li.text or "").strip() or None
    return _text(li)


def _owned_in_file(rdf: Element) -> Owned:
    """The entries the file's own ``mediaapp`` lists say mediaapp wrote."""
    def listed(prop: str) -> tuple[str, ...]:
        found = [_plain(li) if isinstance(li, Element) else li for desc in rdf.findall(_DESC)
                 for el in desc.findall(prop) for li in _items(el)]
        return tuple(dict.fromkeys(t for t in found if t))

    return Owned(listed(_OWNED_ARRAYS["subject"][1]), listed(_OWNED_ARRAYS["hierarchical"][1]),
                 listed(_OWNED_ARRAYS["tags_list"][1]), listed(_OWN_REGIONS))


def read_owned(data: bytes) -> Owned:
    """The entries a sidecar's own ``mediaapp`` lists name as mediaapp's. Raises ``XmpError`` for bad XML."""
    root, _ = _parse(data)
    return _owned_in_file(_rdf(root))


def _merge_array(rdf: Element, prop_name: str, kind: str, wanted: Sequence[str],
                 ours: Iterable[str]) -> tuple[str, ...]:
    """Make the array property ``prop_name`` hold ``wanted`` next to the entries others wrote (see the module
    docstring); ``ours``: the entries we owned before. Returns the entries we own now."""
    ours = set(ours)
    found = _find(rdf, prop_name)
    if found is None and not wanted:
        return ()
    if found is None:
        desc = _home(rdf)
        prop = SubElement(desc, prop_name)
    else:
        desc, prop = found
    array = _container(prop, kind)
    want = {w.casefold() for w in wanted}
    present: dict[str, bool] = {}  # casefolded text -> written by us
    removed = False
    for li in [li for li in array if li.tag == _LI]:
        text = _plain(li)
        if text is None:
            continue
        if text in ours and text.casefold() not in want:
            array.remove(li)
            removed = True
        else:
            present.setdefault(text.casefold(), text in ours)
    owned = []
    for item in dict.fromkeys(wanted):
        folded = item.casefold()
        if folded not in present:
            SubElement(array, _LI).text = item
            present[folded] = True
        if present[folded]:
            owned.append(item)
    if not any(li.tag == _LI for li in array) and (removed or found is None):
        desc.remove(prop)  # emptied by us (an empty array another program wrote stays)
    return tuple(owned)


def _region_name(li: Element) -> tuple[str | None, str | None]:
    """(Name, Type) of one ``RegionList`` entry."""
    fields = _struct(li)
    return _text(fields.get(f"{{{MWG_REGIONS}}}Name")), _text(fields.get(f"{{{MWG_REGIONS}}}Type"))


def _merge_regions(rdf: Element, content: SidecarContent, ours: Iterable[str]) -> tuple[str, ...]:
    """Make ``mwg-rs:Regions`` hold ``content.regions`` next to others' regions; returns the region names we own."""
    ours = set(ours)
    found = _find(rdf, _REGIONS)
    if found is None and not content.regions:
        return ()
    if found is None:
        home = _home(rdf)
        desc, prop = home, SubElement(home, _REGIONS, {_PARSE_TYPE: "Resource"})
    else:
        desc, prop = found
    fields = _struct(prop)
    holder = next((d for d in prop if d.tag == _DESC), prop)  # a struct written as a nested rdf:Description
    region_list = fields.get(f"{{{MWG_REGIONS}}}RegionList")
    if not isinstance(region_list, Element):
        region_list = SubElement(holder, f"{{{MWG_REGIONS}}}RegionList")
    array = _container(region_list, _BAG)
    removed = False
    theirs: set[str] = set()
    for li in [li for li in array if li.tag == _LI]:
        name, kind = _region_name(li)
        if name is not None and name in ours and (kind is None or kind.lower() == "face"):
            array.remove(li)
            removed = True
        elif name is not None:
            theirs.add(name.casefold())
    owned = []
    for region in content.regions:
        if region.name.casefold() in theirs:
            continue  # another program names this person here already
        owned.append(region.name)
        li = SubElement(array, _LI, {_PARSE_TYPE: "Resource"})
        area = SubElement(li, f"{{{MWG_REGIONS}}}Area", {_PARSE_TYPE: "Resource"})
        for key, ratio in (("x", region.left + region.width / 2), ("y", region.top + region.height / 2),
                           ("w", region.width), ("h", region.height)):
            SubElement(area, f"{{{ST_AREA}}}{key}").text = _ratio(ratio)
        SubElement(area, f"{{{ST_AREA}}}unit").text = "normalized"
        SubElement(li, f"{{{MWG_REGIONS}}}Name").text = region.name
        SubElement(li, f"{{{MWG_REGIONS}}}Type").text = "Face"
    if not any(li.tag == _LI for li in array):
        if removed or found is None:
            desc.remove(prop)
        return ()
    if content.dimensions and f"{{{MWG_REGIONS}}}AppliedToDimensions" not in fields and owned:
        dims = Element(f"{{{MWG_REGIONS}}}AppliedToDimensions", {_PARSE_TYPE: "Resource"})
        for key, value in (("w", str(content.dimensions[0])), ("h", str(content.dimensions[1])), ("unit", "pixel")):
            SubElement(dims, f"{{{ST_DIM}}}{key}").text = value
        holder.insert(0, dims)
    return tuple(owned)


def _ratio(value: float) -> str:
    """A ratio in 0-1 as text with 6 decimals (a pixel of a 100-megapixel image), trailing zeros dropped."""
    text = f"{min(max(value, 0.0), 1.0):.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _write_own_lists(rdf: Element, owned: Owned, confidences: Sequence[tuple[str, float]]) -> None:
    """Replace every ``mediaapp`` property with the lists of ``owned`` (and ``mediaapp:LabelConfidences``),
    non-empty ones only."""
    for desc in rdf.findall(_DESC):
        for child in [c for c in desc if c.tag.startswith(f"{{{MEDIAAPP}}}")]:
            desc.remove(child)
        for name in [n for n in desc.attrib if n.startswith(f"{{{MEDIAAPP}}}")]:
            del desc.attrib[name]
    lists = [(own, getattr(owned, key)) for key, (_, own, _) in _OWNED_ARRAYS.items()]
    lists.append((_OWN_REGIONS, owned.regions))
    if not any(values for _, values in lists) and not confidences:
        return
    home = _home(rdf)
    for prop, values in lists:
        if values:
            bag = SubElement(SubElement(home, prop), _BAG)
            for value in values:
                SubElement(bag, _LI).text = value
    if confidences:
        bag = SubElement(SubElement(home, _LABELS), _BAG)
        for name, confidence in confidences:
            li = SubElement(bag, _LI, {_PARSE_TYPE: "Resource"})
            SubElement(li, f"{{{MEDIAAPP}}}Name").text = name
            SubElement(li, f"{{{MEDIAAPP}}}Confidence").text = f"{confidence:.2f}"


def merge_sidecar(existing: bytes | None, content: SidecarContent, owned_before: Owned = Owned()) -> MergeResult:
    """Merge ``content`` into the sidecar bytes ``existing`` (None or blank: no sidecar yet).

    ``owned_before``: the entries the catalog records as ours in this file;
    the file's own ``mediaapp`` lists count too. Returns the new packet
    (UTF-8) and the entries owned in it, or ``data=None`` when the file is
    already as wanted (or there is no file and nothing to write). Raises
    ``XmpError`` when ``existing`` is not an XMP packet that can be read
    (it is then left alone: overwriting it could lose another program's data).
    """
    blank = existing is None or not existing.strip(b"\x00 \t\r\n")
    if blank:
        root, prefixes = _new_packet(), dict[str, str]()
    else:
        assert existing is not None
        root, prefixes = _parse(existing)
    rdf = _rdf(root)
    ours = owned_before.union(_owned_in_file(rdf))
    ET.indent(root, space=" ")
    owned = Owned(
        _merge_array(rdf, _OWNED_ARRAYS["subject"][0], _BAG, content.subject, ours.subject),
        _merge_array(rdf, _OWNED_ARRAYS["hierarchical"][0], _BAG, content.hierarchical, ours.hierarchical),
        _merge_array(rdf, _OWNED_ARRAYS["tags_list"][0], _SEQ, content.tags_list, ours.tags_list),
        _merge_regions(rdf, content, ours.regions))
    _write_own_lists(rdf, owned, content.confidences)
    if blank and not any(len(desc) or len(desc.attrib) > 1 for desc in rdf.findall(_DESC)):
        return MergeResult(None, owned)  # nothing to say: no empty sidecar is made
    ET.indent(root, space=" ")
    after = _serialise(root, prefixes)
    if not blank and (after == existing or after == _unchanged(existing)):
        return MergeResult(None, owned)  # as we wrote it last time, or as another program wrote it: no change
    return MergeResult(after, owned)


def _unchanged(existing: bytes | None) -> bytes:
    """``existing`` parsed and written again as ``merge_sidecar`` writes, unchanged: what "no change" looks like
    for a sidecar another program wrote (its own spacing and quoting differ from ours)."""
    assert existing is not None
    root, prefixes = _parse(existing)
    ET.indent(root, space=" ")
    return _serialise(root, prefixes)


# -- serialising ------------------------------------------------------------------------------------------
def _serialise(root: Element, prefixes: dict[str, str]) -> bytes:
    """The packet as UTF-8 bytes inside the ``<?xpacket?>`` wrapper; every namespace is declared on the root
    element, with the file's own prefix, else ``PREFIXES``', else ``ns1``, ``ns2``..."""
    names = _prefix_map(root, prefixes)
    out = io.StringIO()
    out.write(_PACKET_HEAD)
    gen = XMLGenerator(out, encoding="utf-8", short_empty_elements=False)
    for uri, prefix in names.items():
        gen.startPrefixMapping(prefix, uri)
    _emit(gen, out, root, {})
    out.write(_PACKET_TAIL)
    return out.getvalue().encode("utf-8")


def _prefix_map(root: Element, prefixes: dict[str, str]) -> dict[str, str]:
    """uri -> prefix for every namespace in ``root``'s tree, each prefix used once."""
    used: dict[str, str] = {}
    taken: set[str] = set()
    for uri in _namespaces(root):
        if uri == XML:
            continue
        candidates = [prefixes.get(uri), PREFIXES.get(uri)]
        prefix = next((p for p in candidates if p and p not in taken and p != "xml"), None)
        n = 1
        while prefix is None:
            prefix = f"ns{n}" if f"ns{n}" not in taken else None
            n += 1
        used[uri] = prefix
        taken.add(prefix)
    return used


def _namespaces(el: Element) -> list[str]:
    """The namespaces of the names in ``el``'s tree, in document order."""
    seen: dict[str, None] = {}
    for node in el.iter():
        if isinstance(node.tag, str):
            for name in (node.tag, *node.attrib):
                if name[:1] == "{":
                    seen.setdefault(name[1:name.index("}")])
    return list(seen)


def _split(name: str, cache: dict[str, tuple[str | None, str]]) -> tuple[str | None, str]:
    """``{uri}local`` -> (uri, local); a name without a namespace -> (None, name). Remembered in ``cache``."""
    split = cache.get(name)
    if split is None:
        if name[:1] == "{":
            end = name.index("}")
            split = cache[name] = (name[1:end], name[end + 1:])
        else:
            split = cache[name] = (None, name)
    return split


def _emit(gen: XMLGenerator, out: io.StringIO, el: Element, cache: dict[str, tuple[str | None, str]]) -> None:
    """Write ``el`` and its tree (its namespaces already declared); comments and processing instructions too."""
    tag: object = el.tag  # a str, or the Comment / ProcessingInstruction factory for those nodes
    if tag is ET.Comment:
        out.write(f"<!--{el.text or ''}-->")
    elif tag is ET.ProcessingInstruction:
        target, _, data = (el.text or "").partition(" ")
        gen.processingInstruction(target, data)
    else:
        name = _split(el.tag, cache)
        attrs = {_split(k, cache): v for k, v in el.attrib.items()}
        gen.startElementNS(name, None, AttributesNSImpl(attrs, {}))
        if el.text:
            gen.characters(el.text)
        for child in el:
            _emit(gen, out, child, cache)
        gen.endElementNS(name, None)
    if el.tail:
        gen.characters(el.tail)


# -- files ------------------------------------------------------------------------------------------------
def _read_existing(path: str) -> bytes | None:
    """The sidecar's bytes, or None when there is none. Raises ``OSError`` and ``XmpError`` (too large)."""
    try:
        with open_regular(path) as stream:
            data = stream.read(MAX_XMP_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"larger than the {MAX_XMP_BYTES >> 20} MiB read")
    return data


def write_sidecar(path: str, content: SidecarContent, owned_before: Owned = Owned(),
                  originals: Iterable[str] = ()) -> WriteResult:
    """Merge ``content`` into the sidecar at ``path`` and replace it atomically when it changes.

    ``owned_before`` as for ``merge_sidecar``; ``originals``: the media
    files' paths, which are refused as targets. A new file gets the mode the
    umask allows for 0666, a changed one keeps its mode. Raises ``ValueError``
    for a target that is not a ``.xmp`` name or is an original, ``XmpError``
    for an existing sidecar that cannot be read as XMP (left alone), and
    ``OSError`` (the folder is not writable, a symbolic link, a disk full);
    the old file is then unchanged and no temporary file is left.
    """
    if not path.lower().endswith(".xmp") or os.path.abspath(path) in {os.path.abspath(p) for p in originals}:
        raise ValueError(f"{path} is not a sidecar name; originals are never written")
    if os.path.islink(path):
        raise OSError(f"{os.path.basename(path)} is a symbolic link; mediaapp does not replace it")
    existing = _read_existing(path)
    merged = merge_sidecar(existing, content, owned_before)
    if merged.data is None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return WriteResult(False, merged.owned)
        return WriteResult(False, merged.owned, st.st_size, st.st_mtime_ns)
    mode = None
    if existing is not None:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # not inherited (PEP 446)
    try:
        try:
            view = memoryview(merged.data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if mode is not None:  # os.chmod, not os.fchmod: Windows has no fchmod before Python 3.13
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return WriteResult(True, merged.owned, st.st_size, st.st_mtime_ns)
