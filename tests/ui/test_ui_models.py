"""AssetListModel, the thumbnail loader and cache, the background runner: no window needed."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QColor, QPixmap
from ui_support import BROKEN

from mediaapp.core.types import DetectionKind, Query, SortOrder
from mediaapp.ui.asset_list import AssetListModel, Roles
from mediaapp.ui.pixmaps import PixmapCache, ThumbnailLoader


@pytest.fixture
def model(runner):
    model = AssetListModel(runner, page_size=2)
    yield model
    model.loader.cancel_all()
    model.loader.pool.waitForDone(10000)


def all_hits(library, query: Query) -> list[str]:
    from dataclasses import replace
    return [h.sha256 for h in library.search(replace(query, limit=None, offset=0)).hits]


def test_every_hit_is_a_row_and_pages_load_as_rows_are_read(qtbot, model, analysed):
    expected = all_hits(analysed.library, Query())
    assert len(expected) == 6  # six decodable images, the broken PNG is not an asset
    assert model.rowCount() == 0 and not model.busy

    with qtbot.waitSignal(model.pageLoaded, timeout=20000) as first:
        model.set_library(analysed.library)
    assert first.args[1:] == [0, 2]
    assert model.rowCount() == model.total == 6  # every hit is a row at once
    assert model.sha256s() == expected[:2]
    assert not model.is_loaded(4)
    offsets = []
    model.pageLoaded.connect(lambda _gen, offset, _n: offsets.append(offset))
    assert model.index(4).data(Roles.SHA256) is None  # a placeholder, and its page is asked for
    assert model.index(4).data(Qt.ItemDataRole.DisplayRole) == ""
    qtbot.waitUntil(lambda: model.is_loaded(4), timeout=20000)
    assert 4 in offsets and model.index(4).data(Roles.SHA256) == expected[4]
    model.request_rows(0, 5)
    qtbot.waitUntil(lambda: all(model.is_loaded(i) for i in range(6)), timeout=20000)
    assert model.sha256s() == expected
    assert [model.index(i).data(Roles.SHA256) for i in range(6)] == expected


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
    assert model.rowCount() == 0 and not model.busy


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


def test_loader_waits_for_the_gui_thread_instead_of_piling_up_images(qtbot, tmp_path):
    import gc
    import time

    from PySide6.QtGui import QImage

    from mediaapp.ui.pixmaps import MAX_UNDELIVERED

    path = tmp_path / "one.png"
    Image.new("RGB", (64, 48), "red").save(path)
    loader = ThumbnailLoader(threads=2)
    delivered = []
    loader.loaded.connect(lambda key, image: delivered.append(key))
    for i in range(10 * MAX_UNDELIVERED):
        loader.request(str(i), [str(path)])
    time.sleep(0.5)  # the GUI thread takes no result meanwhile (a fast scroll, a long paint)
    gc.collect()
    waiting = sum(isinstance(o, QImage) for o in gc.get_objects())
    assert waiting <= MAX_UNDELIVERED + 2  # at most a few decoded images queued for the GUI thread
    qtbot.waitUntil(lambda: len(delivered) == 10 * MAX_UNDELIVERED, timeout=20000)
    loader.pool.waitForDone(10000)


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
    model.request_rows(0, model.rowCount() - 1)
    qtbot.waitUntil(lambda: all(model.is_loaded(i) for i in range(model.rowCount())), timeout=20000)
    face_row = model.row_of(analysed.sha_of("obama.jpg"))
    kinds = {d.kind for d in model.index(face_row).data(Roles.DETECTIONS)}
    assert kinds & {DetectionKind.FACE, DetectionKind.LABEL}
    assert all(d.box is not None for d in model.index(face_row).data(Roles.DETECTIONS))


class IndexedLibrary:
    """What ``AssetListModel`` reads of a ``Library``, over a real ``SqliteIndex`` of ``n`` assets.

    Every asset's thumbnail is one of ``thumbs``; ``queries`` records every search.
    """

    def __init__(self, root, n: int, thumbs: list[str]):
        from mediaapp.core.types import Asset, Detection, IndexDocument
        from mediaapp.search.sqlite import SqliteIndex

        self.root = root
        self.thumbs = thumbs
        self.queries: list[Query] = []
        self.index = SqliteIndex(root / "index.sqlite")
        self.index.upsert([IndexDocument(Asset(f"{i * 7919 % n:064x}", 1, "jpeg", 40, 30, [f"/photos/{i:05d}.jpg"]),
                                         [Detection(DetectionKind.LABEL, "Dog", 50.0 + i % 7)], ["/photos"])
                           for i in range(n)])

    def search(self, query):
        self.queries.append(query)
        return self.index.search(query)

    def assets(self, shas):
        from mediaapp.core.types import Asset

        return {s: Asset(s, 1, "jpeg", 40, 30, [f"/photos/{s[-5:]}.jpg"], thumbnail=self.thumbs[int(s, 16) % 3])
                for s in shas}

    def matching_detections(self, query, shas):
        return {}


def _visible_rows_loaded(view, model) -> bool:
    from PySide6.QtCore import QPoint

    view.viewport().repaint()  # a paint reads the visible rows, which asks for their pages
    rect = view.viewport().rect()
    rows = [view.indexAt(QPoint(x, y)).row() for x in (5, rect.width() - 40) for y in (5, rect.height() - 40)]
    return all(model.is_loaded(r) for r in rows if r >= 0)


@pytest.mark.parametrize("query", [Query(), Query(labels=("Dog",)), Query(sort=SortOrder.DATE)],
                         ids=["all", "label", "date"])
def test_scrolling_through_every_row_keeps_memory_bounded_and_rows_stable(qtbot, runner, tmp_path, query):
    from mediaapp.ui.widgets import AssetGridView

    n, page = 600, 20
    thumbs = []
    for color in ("red", "green", "blue"):
        thumbs.append(str(tmp_path / f"{color}.png"))
        Image.new("RGB", (64, 48), color).save(thumbs[-1])
    library = IndexedLibrary(tmp_path, n, thumbs)
    expected = [h.sha256 for h in library.index.search(replace(query, limit=None)).hits]
    model = AssetListModel(runner, page_size=page, max_rows=100)
    view = AssetGridView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(640, 420)
    view.show()
    model.library = library
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_query(query)
    assert model.rowCount() == n
    bar = view.verticalScrollBar()
    seen: dict[int, str] = {}
    most_rows = most_pixmaps = most_pending = 0
    while True:
        qtbot.waitUntil(lambda: _visible_rows_loaded(view, model), timeout=20000)
        for i in range(model.rowCount()):
            row = model.loaded_row(i, touch=False)
            if row is not None:
                seen[i] = row.sha256
        most_rows = max(most_rows, len(model.sha256s()))
        most_pixmaps = max(most_pixmaps, len(model.cache))
        most_pending = max(most_pending, model.loader.pending())
        if bar.value() >= bar.maximum():
            break
        bar.setValue(bar.value() + view.viewport().height())
    assert [seen.get(i) for i in range(n)] == expected  # every row was shown, each the hit of its position
    assert most_rows <= model.max_pages * page < n  # evicted: never more than max_pages pages loaded
    assert most_pixmaps <= model.max_pages * page and most_pending <= model.max_pages * page
    assert len(model.cache) <= len(model.sha256s())  # no pixmap outlives its row's page
    # scrolling down, every page after the first seeks from a cursor near it (keyset), never counts from the start:
    # at most the kept window away (``max_pages``). Usually that is the page before; while that one is still being
    # fetched (MAX_FETCHES run at once, more often on a loaded machine) the nearest known cursor is a few pages back.
    assert all(q.after is not None and q.offset < model.max_pages * page for q in library.queries[1:])
    assert sum(q.offset == 0 for q in library.queries) > len(library.queries) // 2
    assert not model.is_loaded(0)
    with pytest.raises(IndexError):
        model.row(0)  # evicted (and asked for again)
    opened = []
    model.when_loaded(1, lambda: opened.append(model.row(1).sha256))
    qtbot.waitUntil(lambda: bool(opened), timeout=20000)
    assert opened == [expected[1]]  # fetched again from its cursor: the same row
    model.loader.cancel_all()
    model.loader.pool.waitForDone(10000)
    library.index.close()
