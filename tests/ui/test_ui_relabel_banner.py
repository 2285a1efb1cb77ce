"""Issue 10, existing libraries: the window offers once to relabel photos an older label model labelled.

A real library of ImageNet photos, two stored as labelled by an older model;
the banner looks on a worker, says it with the labels-only time, hands the
two photos to the import flow with ``reanalyse`` when accepted, and is not
shown again. Through the window, on a library imported with the local engine,
"Relabel now" runs DetectLabels alone (the image embedding with it) and keeps
the other stored analyses, while the grid's Re-analyse still runs them all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from support import OLD_LABEL_VERSION, relabel_library, store_local_labels
from support import RELABEL_PHOTOS as PHOTOS
from ui_support import write_test_settings

from mediaapp.core.apis import Api, flatten
from mediaapp.core.types import LOCAL_ENGINE
from mediaapp.services.relabel import RELABEL_APIS, SECONDS_PER_IMAGE, local_label_version
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
    assert offer.count == 2 and offer.seconds == pytest.approx(2 * SECONDS_PER_IMAGE)
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


def test_window_wires_the_banner_to_a_labels_only_reanalysis(qtbot, library, monkeypatch):
    """The main window checks each opened library and passes accepted photos to its import flow with
    ``reanalyse``, DetectLabels alone and the local engine alone, whose label model changed (``relabel_files``
    -> ``start_import``: progress and Cancel in the status bar)."""
    from mediaapp.ui.main_window import MainWindow

    lib, photos = library
    window = MainWindow(None)
    qtbot.addWidget(window)
    asked: list[tuple[list, bool, list | None, list | None]] = []
    monkeypatch.setattr(window, "start_import", lambda paths, reanalyse=False, retry=False, apis=None,
                        engines=None: asked.append((paths, reanalyse, apis, engines)))
    window.libraryOpened.emit(lib)
    qtbot.waitUntil(lambda: window.relabel_banner.offer is not None, timeout=10000)
    window.relabel_banner.accept_button.click()
    assert asked == [(sorted(str(photos / n) for n in PHOTOS[:2]), True, ["DetectLabels"], ["local"])]
    assert list(RELABEL_APIS) == [Api.DETECT_LABELS.value]


#: The engine version the end-to-end test gives the stored answers of the other analyses, so that a run that
#: analyses them again is seen whatever the clock (``created_at`` has whole seconds).
KEPT_VERSION = "stored-before-relabel"


def _current_local(lib, sha: str) -> dict[str, str]:
    """API name -> engine version of the local engine's current stored answer for ``sha``."""
    return {api: row["EngineVersion"] for api, rows in lib.catalog.responses(sha).items()
            for row in rows if row["Engine"] == LOCAL_ENGINE and row["Current"]}


def test_relabel_now_runs_detect_labels_only_and_reanalyse_runs_everything(qtbot, testdata, tmp_path):
    """End to end through the window on a library imported with the local engine: "Relabel now" gives the two
    photos a new DetectLabels answer and their embedding again, and leaves every other stored analysis as it
    was; the grid's Re-analyse of the same photos then runs every API of the settings."""
    from mediaapp.catalog.similarity import SimilarityStore
    from mediaapp.library import Library
    from mediaapp.ui.main_window import MainWindow

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in PHOTOS[:2]:
        shutil.copy(testdata / "6_imagenet" / name, photos / name)
    root = tmp_path / "library"
    write_test_settings(root)
    lib = Library(root)
    try:
        report = lib.import_paths([photos])  # the local engine, every API of the settings
        apis = list(lib.settings.apis)
        assert report.analysed == 2 * len(apis) and not report.failed
        assert {Api.DETECT_LABELS.value, Api.DETECT_TEXT.value, Api.DETECT_FACES.value} <= set(apis)
        paths = sorted(str(photos / n) for n in PHOTOS[:2])
        shas = {path: lib.show(path)["sha256"] for path in paths}
        store = SimilarityStore(lib.catalog)
        embeddings = {}
        for path, sha in shas.items():
            store_local_labels(lib, Path(path), OLD_LABEL_VERSION)  # labelled by an older model
            for api, answers in lib.catalog.responses(sha).items():  # the other answers: marked as kept
                current = next(a for a in answers if a["Engine"] == LOCAL_ENGINE and a["Current"])
                if api != Api.DETECT_LABELS.value:
                    lib.catalog.store_analysis(sha256=sha, api=api, engine=LOCAL_ENGINE, engine_version=KEPT_VERSION,
                                               params=current["Params"], response=current["Response"],
                                               detections=flatten(api, current["Response"], LOCAL_ENGINE))
            model_version, vector = store.embedding(sha)
            embeddings[sha] = vector
            store.store(sha, model_version, np.zeros_like(vector), None, None, None)  # seen if stored again
            assert _current_local(lib, sha) == {api: OLD_LABEL_VERSION if api == Api.DETECT_LABELS.value
                                                else KEPT_VERSION for api in apis}
    finally:
        lib.close()

    window = MainWindow(root)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000) as opened:
        pass
    lib = opened.args[0]
    qtbot.waitUntil(lambda: window.relabel_banner.offer is not None, timeout=10000)
    assert window.relabel_banner.offer.paths == tuple(paths)
    with qtbot.waitSignal(window.importFinished, timeout=300_000) as relabelled:
        window.relabel_banner.accept_button.click()
    report = relabelled.args[0]
    assert report.analysed == 2 and not report.failed  # one analysis (DetectLabels) per photo
    label_version = local_label_version(lib.settings)
    for sha in shas.values():
        assert _current_local(lib, sha) == {api: label_version if api == Api.DETECT_LABELS.value else KEPT_VERSION
                                            for api in apis}
        _model, vector = SimilarityStore(lib.catalog).embedding(sha)
        assert np.any(vector) and np.allclose(vector, embeddings[sha], atol=1e-2)  # the embedding again

    # the grid's plain Re-analyse still runs every analysis of the settings
    with qtbot.waitSignal(window.importFinished, timeout=300_000) as again:
        window.reanalyse_files(paths)
    report = again.args[0]
    assert report.analysed == 2 * len(apis) and not report.failed
    for sha in shas.values():
        current = _current_local(lib, sha)
        assert set(current) == set(apis) and KEPT_VERSION not in current.values()
        assert current[Api.DETECT_LABELS.value] == label_version


def test_search_defaults_are_50_in_the_window_and_the_cli(qtbot):
    """Issue 10: the confidence slider and ``search`` without ``--min-confidence`` both start at 50."""
    from mediaapp.cli.main import build_parser
    from mediaapp.ui.main_window import MainWindow

    window = MainWindow(None)
    qtbot.addWidget(window)
    assert window.sidebar.min_confidence() == 50
    assert build_parser().parse_args(["search", "--label", "Dog"]).min_confidence == 50.0
