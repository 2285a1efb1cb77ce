"""The detail view's video timeline: two rows clicked quickly, the first frame decoded last, shows the second."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from mediaapp.core.types import BoundingBox, Detection, DetectionKind
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.detail import DetailData, DetailView


class HeldRunner(BackgroundRunner):
    """Runs nothing: keeps each job's callbacks so the test decides the order results arrive in."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[tuple] = []

    def run(self, fn, on_success=None, on_failure=None, on_progress=None, *, label=""):
        self.held.append((label, on_success, on_failure))


def _frame(width: int, colour: str) -> QImage:
    image = QImage(width, 90, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    return image


def test_a_frame_decoded_after_a_later_row_was_picked_is_dropped(qtbot):
    runner = HeldRunner()
    view = DetailView(runner)
    qtbot.addWidget(view)
    box = BoundingBox(0.1, 0.1, 0.2, 0.2)
    timeline = [Detection(DetectionKind.LABEL, "Airplane", 90.0, box, timestamp_ms=0),
                Detection(DetectionKind.LABEL, "Person", 80.0, box, timestamp_ms=2000)]
    view.data = DetailData("a" * 64, "/nowhere/clip.mp4", None, timeline=timeline)
    view._fill_timeline(timeline)
    try:
        view.timeline_list.setCurrentRow(0)
        view.timeline_list.setCurrentRow(1)
        frames = [job for job in runner.held if job[0] == "video frame"]
        assert len(frames) == 2
        frames[1][1](_frame(160, "blue"))   # the second row's frame arrives first...
        frames[0][1](_frame(120, "red"))    # ...the first row's last: it must not replace it
        assert view.canvas.pixmap is not None and view.canvas.pixmap.width() == 160
        assert [d.name for d in view.canvas.detections] == ["Person"]
        frames[0][2](RuntimeError("late failure"))   # a late failure of the old request says nothing either
        assert view.canvas.pixmap is not None and view.canvas.pixmap.width() == 160
    finally:
        runner.shutdown()
