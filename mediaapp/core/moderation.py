"""Rekognition's moderation taxonomy: the label names DetectModerationLabels and GetContentModeration answer.

Two versions of the taxonomy are in use, and a library may hold answers of
both (answers stored before AWS changed it, and ones made since):

- version 6 (``ModerationModelVersion`` 6.x, two levels), which the on-device
  engine also answers in (``analysis/local/moderation.py``: ``Explicit Nudity``);
- version 7 (``ModerationModelVersion`` 7.x, since 2024, three levels).

The names and their parents are those of the "Label Categories" table of the
Amazon Rekognition Developer Guide, "Using the image and video moderation
APIs" (version 7, and the page's earlier revision for version 6). A
``ModerationLabel`` carries its direct parent only (``ParentName``), and
Rekognition answers every level of a hit as its own label, so a search for a
top-level name finds the images its children were found in.

``MODERATION_LABELS`` is what the command line accepts for
``search --moderation`` (besides ``MODERATION_UNCHECKED``); names are
compared case-insensitively (``core.text.normalize_label``), as the search
compares them.
"""

from __future__ import annotations

from mediaapp.core.text import normalize_label

__all__ = ["MODERATION_LABELS", "TAXONOMY_V6", "TAXONOMY_V7", "moderation_label"]

#: Version 6: ``(top-level name, its second-level names)``; every second-level label's ParentName is its top level.
TAXONOMY_V6: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Explicit Nudity", ("Nudity", "Graphic Male Nudity", "Graphic Female Nudity", "Sexual Activity",
                         "Illustrated Explicit Nudity", "Adult Toys")),
    ("Suggestive", ("Female Swimwear Or Underwear", "Male Swimwear Or Underwear", "Partial Nudity",
                    "Barechested Male", "Revealing Clothes", "Sexual Situations")),
    ("Violence", ("Graphic Violence Or Gore", "Physical Violence", "Weapon Violence", "Weapons", "Self Injury")),
    ("Visually Disturbing", ("Emaciated Bodies", "Corpses", "Hanging", "Air Crash", "Explosions And Blasts")),
    ("Rude Gestures", ("Middle Finger",)),
    ("Drugs", ("Drug Products", "Drug Use", "Pills", "Drug Paraphernalia")),
    ("Tobacco", ("Tobacco Products", "Smoking")),
    ("Alcohol", ("Drinking", "Alcoholic Beverages")),
    ("Gambling", ("Gambling",)),
    ("Hate Symbols", ("Nazi Party", "White Supremacy", "Extremist")),
)

#: Version 7: ``(top-level name, ((second-level name, its third-level names), ...))``.
TAXONOMY_V7: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("Explicit", (
        ("Explicit Nudity", ("Exposed Male Genitalia", "Exposed Female Genitalia", "Exposed Buttocks or Anus",
                             "Exposed Female Nipple")),
        ("Explicit Sexual Activity", ()),
        ("Sex Toys", ()))),
    ("Non-Explicit Nudity of Intimate parts and Kissing", (
        ("Non-Explicit Nudity", ("Bare Back", "Exposed Male Nipple", "Partially Exposed Buttocks",
                                 "Partially Exposed Female Breast", "Implied Nudity")),
        ("Obstructed Intimate Parts", ("Obstructed Female Nipple", "Obstructed Male Genitalia")),
        ("Kissing on the Lips", ()))),
    ("Swimwear or Underwear", (
        ("Female Swimwear or Underwear", ()),
        ("Male Swimwear or Underwear", ()))),
    ("Violence", (
        ("Weapons", ()),
        ("Graphic Violence", ("Weapon Violence", "Physical Violence", "Self-Harm", "Blood & Gore",
                              "Explosions and Blasts")))),
    ("Visually Disturbing", (
        ("Death and Emaciation", ("Emaciated Bodies", "Corpses")),
        ("Crashes", ("Air Crash",)))),
    ("Drugs & Tobacco", (
        ("Products", ("Pills",)),
        ("Drugs & Tobacco Paraphernalia & Use", ("Smoking",)))),
    ("Alcohol", (
        ("Alcohol Use", ("Drinking",)),
        ("Alcoholic Beverages", ()))),
    ("Rude Gestures", (("Middle Finger", ()),)),
    ("Gambling", ()),
    ("Hate Symbols", (
        ("Nazi Party", ()),
        ("White Supremacy", ()),
        ("Extremist", ()))),
)


def _all_names() -> tuple[str, ...]:
    """Every name of both versions, each once (case-insensitively; version 7's spelling first), sorted."""
    names: list[str] = []
    for top, children in TAXONOMY_V7:
        names.append(top)
        for second, thirds in children:
            names += [second, *thirds]
    for top, seconds in TAXONOMY_V6:
        names += [top, *seconds]
    distinct = {normalize_label(n): n for n in reversed(names)}  # the first spelling of a key wins
    return tuple(sorted(distinct.values(), key=normalize_label))


#: Every moderation label name of Rekognition's taxonomies (versions 6 and 7), each once, sorted case-insensitively.
MODERATION_LABELS: tuple[str, ...] = _all_names()

_BY_KEY = {normalize_label(n): n for n in MODERATION_LABELS}


def moderation_label(name: str) -> str | None:
    """The taxonomy's spelling of moderation label ``name`` (any case, surrounding spaces ignored), or None
    when no version of Rekognition's moderation taxonomy has it."""
    return _BY_KEY.get(normalize_label(name))
