"""AssetListModel, the thumbnail loader and cache, the background runner: no window needed."""

from __future__ import annotations

import threading

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QColor, QPixmap
from ui_support import BROKEN

from mediaapp.core.types import DetectionKind, Query
from mediaapp.ui.asset_list import AssetListModel, Roles
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.pixmaps import PixmapCache, ThumbnailLoader


@pytest.fixture
def runner(qapp):
    runner = BackgroundRunner()
    yield runner
    runner.shutdown()


@pytest.fixture
def model(runner):
    model = AssetListModel(runner, page_size=2)
    yield model
    model.loader.cancel_all()
    model.loader.pool.waitForDone(10000)


def all_hits(library, query: Query) -> list[str]:
    from dataclasses import replace
    return [h.sha256 for h in library.search(replace(query, limit=None, offset=0)).hits]


def test_pages_are_fetched_lazily_in_query_order(qtbot, model, analysed):
    expected = all_hits(analysed.library, Query())
    assert len(expected) == 6  # six decodable images, the broken PNG is not an asset
    assert model.rowCount() == 0 and not model.canFetchMore()

    with qtbot.waitSignal(model.pageLoaded, timeout=20000) as first:
        model.set_library(analysed.library)
    assert first.args[1:] == [0, 2]
    assert model.rowCount() == 2
    assert model.total == 6
    assert model.canFetchMore()

    while model.canFetchMore():
        before = model.rowCount()
        with qtbot.waitSignal(model.pageLoaded, timeout=20000):
            model.fetchMore()
            assert not model.canFetchMore()  # no second fetch while one runs
        assert model.rowCount() == before + 2
    assert model.sha256s() == expected
    assert not model.canFetchMore()


def test_roles_give_path_asset_and_matching_boxes(qtbot, model, analysed):
    query = Query(labels=("Car",), min_confidence=50.0)
    model.set_library(analysed.library)
    qtbot.waitUntil(lambda: not model.busy, timeout=20000)
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_query(query)
    assert model.total == len(all_hits(analysed.library, query))
    row = model.row_of(analysed.sha_of("000004.jpg"))
    assert row >= 0
    index = model.index(row)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "000004.jpg"
    assert index.data(Roles.PATH) == analysed.path_of("000004.jpg")
    assert index.data(Roles.SHA256) == analysed.sha_of("000004.jpg")
    asset = index.data(Roles.ASSET)
    with Image.open(analysed.path_of("000004.jpg")) as img:
        assert (asset.width, asset.height) == img.size
    detections = index.data(Roles.DETECTIONS)
    assert len(detections) >= 3  # the picture shows seven cars
    assert {d.name for d in detections} == {"Car"}
    assert all(d.box is not None and d.confidence >= 50.0 for d in detections)
    assert model.index(row, 0).data(Roles.DETECTIONS) == \
        analysed.library.matching_detections(query, [asset.sha256])[asset.sha256]


def test_thumbnail_is_a_placeholder_until_loaded_off_thread(qtbot, model, analysed):
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(analysed.library)
    index = model.index(0)
    asset = index.data(Roles.ASSET)
    assert index.data(Roles.THUMBNAIL_READY) is False
    placeholder = index.data(Roles.THUMBNAIL)  # asking queues the load
    assert isinstance(placeholder, QPixmap)
    qtbot.waitUntil(lambda: index.data(Roles.THUMBNAIL_READY), timeout=20000)
    pixmap = index.data(Roles.THUMBNAIL)
    assert pixmap is not placeholder
    assert 0 < max(pixmap.width(), pixmap.height()) <= 256
    # the thumbnail keeps the image's (orientation-corrected) aspect ratio
    assert abs(pixmap.width() / pixmap.height() - asset.width / asset.height) < 0.03


def test_results_of_an_older_query_are_dropped(qtbot, model, analysed, runner):
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(analysed.library)
    dropped = model.generation.dropped
    model.set_query(Query(labels=("Car",)))
    model.set_query(Query(text="Google"))  # the Car page is still in flight
    qtbot.waitUntil(lambda: runner.idle, timeout=20000)
    assert model.generation.dropped == dropped + 1
    assert [model.index(i).data(Qt.ItemDataRole.DisplayRole) for i in range(model.rowCount())] == \
        ["HelloGoogle.tif"]
    assert model.total == 1


def test_search_failure_is_reported_not_raised(qtbot, model, analysed):
    class Broken:
        root = analysed.root

        def search(self, query):
            raise RuntimeError("index is gone")

    model.library = Broken()
    with qtbot.waitSignal(model.searchFailed, timeout=20000) as blocker:
        model.set_query(Query())
    assert "index is gone" in blocker.args[0]
    assert model.rowCount() == 0 and not model.canFetchMore()


def test_loader_decodes_scaled_images_and_reports_failures(qtbot, testdata, analysed):
    loader = ThumbnailLoader(threads=1, max_side=100)
    with qtbot.waitSignal(loader.loaded, timeout=20000) as ok:
        loader.request("car", [analysed.path_of("000004.jpg")])
    key, image = ok.args
    with Image.open(analysed.path_of("000004.jpg")) as img:
        width, height = img.size
    assert key == "car" and (image.width(), image.height()) == (100, round(100 * height / width))
    with qtbot.waitSignal(loader.failed, timeout=20000) as bad:
        loader.request("broken", [str(analysed.photos / BROKEN), str(analysed.photos / "missing.jpg")])
    assert bad.args == ["broken"]
    loader.pool.waitForDone(10000)


def test_loader_serves_the_newest_request_first(qapp):
    loader = ThumbnailLoader(threads=1)
    loader._drains = loader._threads  # pretend the worker is busy so requests pile up
    for key in ("a", "b", "c", "d"):
        loader.request(key, [f"/nowhere/{key}.jpg"])
    loader.request("b", ["/nowhere/b.jpg"])  # asked again: it moves to the top
    order = []
    while (job := loader._pop()) is not None:
        order.append(job[0])
    assert order == ["b", "d", "c", "a"]


def test_pixmap_cache_evicts_least_recently_used_within_budget(qapp):
    def pixmap(color):
        p = QPixmap(10, 10)
        p.fill(QColor(color))
        return p

    one = PixmapCache.cost(pixmap("red"))
    cache = PixmapCache(max_bytes=2 * one)
    cache.put("a", pixmap("red"))
    cache.put("b", pixmap("green"))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", pixmap("blue"))
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.bytes == 2 * one
    cache.put("huge", QPixmap(100, 100))  # larger than the whole budget: not kept
    assert "huge" not in cache and len(cache) == 2


def test_runner_calls_back_on_gui_thread_with_result_or_error(qtbot, runner):
    gui = QThread.currentThread()
    seen = {}

    def work(ctx):
        seen["worker"] = QThread.currentThread()
        return 21 * 2

    with qtbot.waitSignal(runner.run(work, on_success=lambda r: seen.update(result=r,
                                                                           thread=QThread.currentThread())).finished,
                          timeout=10000):
        pass
    assert seen["result"] == 42 and seen["thread"] is gui and seen["worker"] is not gui

    errors = []
    task = runner.run(lambda ctx: 1 / 0, on_failure=errors.append)
    with qtbot.waitSignal(task.finished, timeout=10000):
        pass
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)


def test_runner_coalesces_progress_and_cancels(qtbot, runner):
    values = []
    reported = threading.Event()

    def chatty(ctx):
        for i in range(1, 2001):
            ctx.progress(i)
        reported.set()
        while not ctx.cancelled:
            threading.Event().wait(0.01)
        return "stopped"

    task = runner.run(chatty, on_progress=values.append)
    # the GUI thread is blocked here, so the 2000 reports pile up as one pending delivery
    assert reported.wait(20)
    qtbot.waitUntil(lambda: values == [2000], timeout=10000)
    task.cancel()
    with qtbot.waitSignal(task.finished, timeout=10000):
        pass
    assert task.result == "stopped"
    assert values == [2000]


def test_unhandled_failure_is_signalled(qtbot, runner):
    def fail(ctx):
        raise OSError("disk on fire")

    with qtbot.waitSignal(runner.taskFailed, timeout=10000) as blocker:
        runner.run(fail, label="probe")
    assert blocker.args == ["probe", "disk on fire"]


def test_detections_of_query_without_filter_are_all_boxed_kinds(qtbot, model, analysed):
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(analysed.library)
    while model.canFetchMore():
        with qtbot.waitSignal(model.pageLoaded, timeout=20000):
            model.fetchMore()
    face_row = model.row_of(analysed.sha_of("obama.jpg"))
    kinds = {d.kind for d in model.index(face_row).data(Roles.DETECTIONS)}
    assert kinds & {DetectionKind.FACE, DetectionKind.LABEL}
    assert all(d.box is not None for d in model.index(face_row).data(Roles.DETECTIONS))
