"""Text read from files' own metadata: control characters never reach the terminal, UTF-16 XMP is read.

Both failed before: an IPTC title holding ESC ] ... BEL (a terminal escape
sequence) was stored and printed as is by ``mediaapp show``, and a UTF-16
XMP packet lost the NUL bytes of its characters and failed as "not
well-formed".
"""

from __future__ import annotations

from mediaapp.ingest.iptc import parse_iptc
from mediaapp.ingest.xmp import parse_xmp

PACKET = """<?xml version="1.0" encoding="{encoding}"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>
<rdf:li>Budapest</rdf:li><rdf:li>Kettle\u009b31mred</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_control_characters_in_iptc_text_are_dropped():
    facts = parse_iptc({(2, 5): b"\x1b]0;pwned\x07Title", (2, 25): [b"Bu\x1b[2Jdapest", b"Ok"],
                        (2, 120): b"line one\nline two\x00"})
    assert facts.title == "]0;pwnedTitle" and facts.keywords == ["Bu[2Jdapest", "Ok"]
    assert facts.description == "line one\nline two"  # newlines are text, NUL is not


def test_utf16_xmp_is_read_and_c1_controls_are_dropped():
    for encoding, codec in (("UTF-16", "utf-16"), ("UTF-16BE", "utf-16-be"), ("UTF-8", "utf-8")):
        facts = parse_xmp(PACKET.format(encoding=encoding).encode(codec))
        assert facts.keywords == [("Budapest",), ("Kettle31mred",)], encoding
