"""Issue 10, existing libraries: the window offers once to relabel photos an older label model labelled.

A real library of ImageNet photos, two stored as labelled by an older model;
the banner looks on a worker, says it with the time, hands the two photos to
the import flow with ``reanalyse`` when accepted, and is not shown again.
"""

from __future__ import annotations

import pytest
from support import RELABEL_PHOTOS as PHOTOS
from support import relabel_library

from mediaapp.services.relabel import SECONDS_PER_IMAGE_ALL
from mediaapp.settings import read_settings
from mediaapp.ui.relabel_banner import RelabelBanner, banner_text


@pytest.fixture
def library(testdata, tmp_path):
    """A library of three ImageNet photos: two labelled by an older label model, one by the current one."""
    lib, photos = relabel_library(testdata, tmp_path)
    yield lib, photos
    lib.close()


def test_banner_offers_once_and_hands_the_photos_to_the_import(qtbot, runner, library):
    lib, photos = library
    banner = RelabelBanner(runner)
    qtbot.addWidget(banner)
    assert banner.isHidden()
    banner.check(lib)
    qtbot.waitUntil(lambda: banner.offer is not None, timeout=10000)
    assert not banner.isHidden()
    offer = banner.offer
    assert offer.count == 2 and offer.seconds == pytest.approx(2 * SECONDS_PER_IMAGE_ALL)
    assert banner.text.text() == banner_text(offer)
    assert "2 photos were labelled by an older model" in banner.text.text() and "about 1 min" in banner.text.text()
    assert read_settings(lib.root).relabel_notice.get("gui") == offer.model  # remembered as said
    with qtbot.waitSignal(banner.relabelRequested, timeout=2000) as got:
        banner.accept_button.click()
    assert got.args == [sorted(str(photos / n) for n in PHOTOS[:2])]
    assert banner.isHidden()
    # said once: a second look (the library opened again) finds nothing new to say
    banner.check(lib)
    qtbot.waitUntil(lambda: runner.idle, timeout=10000)
    assert banner.offer is None and banner.isHidden()


def test_not_now_hides_and_a_late_answer_for_another_library_is_dropped(qtbot, runner, library):
    lib, _photos = library
    banner = RelabelBanner(runner)
    qtbot.addWidget(banner)
    banner.check(lib)
    banner.clear()  # another library was opened before the answer came
    qtbot.waitUntil(lambda: runner.idle, timeout=10000)
    assert banner.offer is None and banner.isHidden()
    # the answer was still recorded as said (the worker looked), so it is not offered again
    assert lib.relabel.notice("gui") is None


def test_window_wires_the_banner_to_reanalyse(qtbot, library, monkeypatch):
    """The main window checks each opened library and passes accepted photos to its import flow with
    ``reanalyse`` (``reanalyse_files`` -> ``start_import``: progress and Cancel in the status bar)."""
    from mediaapp.ui.main_window import MainWindow

    lib, photos = library
    window = MainWindow(None)
    qtbot.addWidget(window)
    asked: list[tuple[list, bool]] = []
    monkeypatch.setattr(window, "start_import", lambda paths, reanalyse=False, retry=False: asked.append(
        (paths, reanalyse)))
    window.libraryOpened.emit(lib)
    qtbot.waitUntil(lambda: window.relabel_banner.offer is not None, timeout=10000)
    window.relabel_banner.accept_button.click()
    assert asked == [(sorted(str(photos / n) for n in PHOTOS[:2]), True)]


def test_search_defaults_are_50_in_the_window_and_the_cli(qtbot):
    """Issue 10: the confidence slider and ``search`` without ``--min-confidence`` both start at 50."""
    from mediaapp.cli.main import build_parser
    from mediaapp.ui.main_window import MainWindow

    window = MainWindow(None)
    qtbot.addWidget(window)
    assert window.sidebar.min_confidence() == 50
    assert build_parser().parse_args(["search", "--label", "Dog"]).min_confidence == 50.0
