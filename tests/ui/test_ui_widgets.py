"""Small GUI pieces: search debounce, facet lists, box geometry, progress text, library choice."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSettings
from PySide6.QtGui import QColor, QImage, QPainter

from mediaapp.core.types import BoundingBox, Detection, DetectionKind, ImportProblem, ImportReport
from mediaapp.paths import top_folders
from mediaapp.search.index_base import FacetCount
from mediaapp.ui.app import main
from mediaapp.ui.boxes import box_specs, boxed, fit_rect, label_color, paint_boxes
from mediaapp.ui.progress import format_progress, format_report
from mediaapp.ui.sidebar import FacetList
from mediaapp.ui.state import KEY_LAST_LIBRARY, resolve_library_dir, ui_settings
from mediaapp.ui.widgets import SearchBar


def test_search_bar_emits_once_after_typing_pauses(qtbot):
    bar = SearchBar(debounce_ms=50)
    qtbot.addWidget(bar)
    seen: list[str] = []
    bar.searchChanged.connect(seen.append)
    with qtbot.waitSignal(bar.searchChanged, timeout=5000):
        qtbot.keyClicks(bar, "dog park")
    assert seen == ["dog park"]  # one search for the whole phrase, not one per key
    bar.returnPressed.emit()  # same text again: no new search
    assert seen == ["dog park"]
    with qtbot.waitSignal(bar.searchChanged, timeout=5000):
        bar.clear()  # clearing searches at once
    assert seen == ["dog park", ""]


def test_facet_list_keeps_checked_values_across_updates(qtbot):
    facets = FacetList()
    qtbot.addWidget(facets)
    facets.set_counts([FacetCount("Dog", 3), FacetCount("Cat", 2)])
    with qtbot.waitSignal(facets.checkedChanged) as blocker:
        facets.set_checked(["cat"])
    assert blocker.args == [("Cat",)]
    facets.set_counts([FacetCount("Dog", 1)])  # Cat no longer occurs under the new query
    assert facets.checked() == ("Cat",)
    assert facets.counts() == {"Cat": 0, "Dog": 1}
    assert facets.model().index(0, 0).data() == "Cat  (0)"


def test_box_specs_map_ratios_onto_the_drawn_image_and_merge_duplicates():
    face_label = Detection(DetectionKind.LABEL, "Face", 90.0, BoundingBox(0.5, 0.25, 0.25, 0.5))
    face = Detection(DetectionKind.FACE, "Face", 99.0, BoundingBox(0.5001, 0.2501, 0.25, 0.5))
    scene = Detection(DetectionKind.LABEL, "Outdoors", 80.0)
    text = Detection(DetectionKind.TEXT, "Hello", 95.0, BoundingBox(0, 0, 0.1, 0.1), text_type="LINE")
    assert boxed([face_label, face, scene, text]) == [face]  # same face twice -> the more confident one
    [spec] = box_specs(QRectF(10, 20, 200, 100), [face_label, face, scene, text], with_confidence=True)
    assert spec.text == "Face 99%"
    assert spec.color == label_color("face")
    assert (round(spec.rect.x()), round(spec.rect.y()), round(spec.rect.width()), round(spec.rect.height())) == \
        (110, 45, 50, 50)
    assert len(box_specs(QRectF(0, 0, 10, 10), [text], include_text=True)) == 1


def test_paint_boxes_draws_the_outline_in_the_label_colour(qapp):
    image = QImage(100, 100, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    det = Detection(DetectionKind.LABEL, "Dog", 88.0, BoundingBox(0.2, 0.3, 0.5, 0.4))
    specs = box_specs(QRectF(0, 0, 100, 100), [det])
    painter = QPainter(image)
    paint_boxes(painter, specs, pen_width=2.0, show_text=False, clip=QRectF(0, 0, 100, 100))
    painter.end()
    dog = label_color("Dog").rgb()
    assert image.pixelColor(20, 50).rgb() == dog      # left edge
    assert image.pixelColor(69, 50).rgb() == dog      # right edge
    assert image.pixelColor(45, 30).rgb() == dog      # top edge
    assert image.pixelColor(45, 50).rgb() == QColor("white").rgb()  # inside stays clear


def test_fit_rect_keeps_aspect_and_centres():
    rect = fit_rect(400, 200, QRectF(0, 0, 100, 100))
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 25, 100, 50)


def test_label_colours_are_stable_and_case_insensitive():
    assert label_color("Car") == label_color("car")
    assert label_color("Car").name() == label_color("Car").name()


def test_progress_line_has_stage_counts():
    report = ImportReport(imported=118, analysed=80, failed=[ImportProblem("/x", "decode", "bad")] * 3)
    assert format_progress("ingest", 120, 400, report) == "ingest 120/400 · imported 118 · analysed 80 · failed 3"
    assert format_progress("scan", 0, 0, ImportReport()) == "scanning · failed 0"
    assert format_report(report).startswith("Import finished: 118 new")


def test_library_dir_order_cli_env_last_default(qapp, tmp_path):
    settings = ui_settings()
    settings.remove(KEY_LAST_LIBRARY)
    from mediaapp.paths import default_library_dir

    assert resolve_library_dir(None, env={}, settings=settings) == default_library_dir()
    settings.setValue(KEY_LAST_LIBRARY, str(tmp_path / "last"))
    assert resolve_library_dir(None, env={}, settings=settings) == tmp_path / "last"
    assert resolve_library_dir(None, env={"MEDIAAPP_LIBRARY": str(tmp_path / "env")},
                               settings=settings) == tmp_path / "env"
    assert resolve_library_dir(str(tmp_path / "cli"), env={"MEDIAAPP_LIBRARY": str(tmp_path / "env")},
                               settings=settings) == tmp_path / "cli"


def test_settings_go_to_the_redirected_ini(ui_settings_dir):
    settings = ui_settings()
    settings.setValue("probe", 1)
    settings.sync()
    assert settings.format() == QSettings.Format.IniFormat
    assert Path(settings.fileName()).is_relative_to(ui_settings_dir)


def test_top_folders_drops_nested_ones():
    assert top_folders(["/a/b", "/a", "/c/d", "/ab", "/c/d/e"]) == ["/a", "/ab", "/c/d"]


def test_main_help_exits_cleanly(capsys):
    assert main(["--help"]) == 0
    assert "--library" in capsys.readouterr().out
