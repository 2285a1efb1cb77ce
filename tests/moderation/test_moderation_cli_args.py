"""``search --moderation NAME``: names of Rekognition's moderation taxonomy (any case) or ``unchecked``; anything
else is refused before the library is opened (exit 2, one line naming the value and listing the names)."""

from __future__ import annotations

import pytest

from mediaapp.analysis.local.moderation import EXPLICIT_NUDITY
from mediaapp.cli.main import main
from mediaapp.core.moderation import MODERATION_LABELS, TAXONOMY_V6, TAXONOMY_V7, moderation_label
from mediaapp.core.types import MODERATION_UNCHECKED


def _refused(capsys, *argv) -> str:
    """Run the CLI expecting argparse to refuse an argument (exit 2); returns what it printed on stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("bad", ["bogus", "Explicit Nudityy", ""])
def test_an_unknown_moderation_name_is_refused_before_any_work(tmp_path, capsys, bad):
    lib = tmp_path / "lib"
    err = _refused(capsys, "--library", str(lib), "search", "--moderation", "Violence", "--moderation", bad)
    [line] = [ln for ln in err.splitlines() if "error:" in ln]          # one line says it all
    assert f"argument --moderation: unknown moderation label {bad!r}" in line
    assert f"expected '{MODERATION_UNCHECKED}' or one of Rekognition's: " in line
    assert all(name in line for name in ("Explicit Nudity", "Suggestive", "Violence", "Hate Symbols", "Smoking"))
    assert "Traceback" not in err
    assert not lib.exists()  # nothing was created, scanned or searched


def test_the_taxonomy_holds_both_versions_and_the_local_engines_label():
    v6 = {top for top, _ in TAXONOMY_V6} | {name for _, seconds in TAXONOMY_V6 for name in seconds}
    v7 = {top for top, _ in TAXONOMY_V7} | {name for _, seconds in TAXONOMY_V7 for second, thirds in seconds
                                            for name in (second, *thirds)}
    assert {moderation_label(n) for n in v6 | v7} == set(MODERATION_LABELS)
    assert len(MODERATION_LABELS) == len({n.casefold() for n in MODERATION_LABELS})  # each name once, any case
    assert EXPLICIT_NUDITY in MODERATION_LABELS
    assert {"Suggestive", "Drugs", "Tobacco"} <= v6 - v7 and {"Explicit", "Drugs & Tobacco", "Self-Harm"} <= v7 - v6


@pytest.mark.parametrize(("given", "spelled"), [
    ("explicit NUDITY", "Explicit Nudity"), (" violence ", "Violence"),
    ("female swimwear or underwear", "Female Swimwear or Underwear"),      # v6 "Or", v7 "or": one name
    ("drugs & tobacco paraphernalia & use", "Drugs & Tobacco Paraphernalia & Use"), ("bogus", None),
])
def test_names_are_matched_in_any_case(given, spelled):
    assert moderation_label(given) == spelled


def test_accepted_names_in_any_case_still_find_the_flagged_image(library, capsys):
    root = str(library.root)
    library.close()  # the command opens the library itself
    assert main(["--library", root, "search", "--moderation", "EXPLICIT nudity"]) == 0
    assert capsys.readouterr().out.strip().endswith("flagged.jpg")
    assert main(["--library", root, "search", "--moderation", "Unchecked"]) == 0
    assert capsys.readouterr().out.strip().endswith("never.jpg")
    assert main(["--library", root, "search", "--moderation", "Hate Symbols"]) == 0   # known, nothing flagged
    assert capsys.readouterr().out.strip() == ""
