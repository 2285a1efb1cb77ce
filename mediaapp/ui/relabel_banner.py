"""The window's one-time banner: photos an older label model labelled, and an offer to relabel them.

After a library opens, ``RelabelBanner.check`` asks on a worker
(``BackgroundRunner``) for ``Library.relabel.notice("gui", ...)``
(``mediaapp.services.relabel``) and records it as shown at once, so the window says
it once per library and label model, whatever the user then does. When there
is something to say, the banner above the grid says how many photos an older
model labelled and about how many minutes relabelling takes (``banner_text``),
with "Relabel now" and "Not now". "Relabel now" emits ``relabelRequested(paths)``; the window
passes the paths to its import flow with ``reanalyse`` and ``RELABEL_APIS``
(``MainWindow.relabel_files``: DetectLabels alone, and with it the image
embedding, not the library's other analyses; progress and Cancel in the status
bar, the cost question if the cloud is involved). The time estimate is
therefore the labels-only rate, ``SECONDS_PER_IMAGE`` (``Relabel.notice``'s default).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from mediaapp.services.relabel import SECONDS_PER_IMAGE, RelabelOffer
from mediaapp.ui.background import BackgroundRunner

__all__ = ["RelabelBanner", "banner_text"]


def banner_text(offer: RelabelOffer) -> str:
    """The banner's sentence for ``offer``: how many photos, and the time in minutes (rounded up)."""
    noun = "photo was" if offer.count == 1 else "photos were"
    return (f"New labels are available: {offer.count} {noun} labelled by an older model. "
            f"Relabelling takes about {offer.minutes} min; the photos stay searchable meanwhile.")


class RelabelBanner(QFrame):
    """A hidden-by-default strip offering to relabel photos an older label model labelled.

    ``check(library)`` looks on a worker; a late answer for a library no
    longer shown (``check`` called again, or ``clear``) is dropped. Signals:
    ``relabelRequested(paths)`` (list of str, one file per photo) when the
    user accepts. A failure to look (catalog or settings unreadable) shows
    nothing and is reported through the runner's ``taskFailed``.
    """

    relabelRequested = Signal(list)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("relabelBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.runner = runner
        self.offer: RelabelOffer | None = None
        self._library: Any = None
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.accept_button = QPushButton("Relabel now")
        self.accept_button.setObjectName("relabelNow")
        self.accept_button.setToolTip("Label these photos again with the current label model; their other "
                                      "analyses are kept (can be cancelled)")
        self.dismiss_button = QPushButton("Not now")
        self.dismiss_button.setObjectName("relabelLater")
        self.dismiss_button.setToolTip("Keep their stored labels; File ▸ Import with re-analysis relabels later")
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.accept_button)
        layout.addWidget(self.dismiss_button)
        self.accept_button.clicked.connect(self._accept)
        self.dismiss_button.clicked.connect(self.clear)
        self.hide()

    def check(self, library: Any) -> None:
        """Look on a worker whether ``library`` has photos to relabel not yet offered here; show the banner if so."""
        self.clear()
        self._library = library

        def look(_ctx) -> RelabelOffer | None:
            offer = library.relabel.notice("gui", SECONDS_PER_IMAGE)
            if offer is not None:
                library.relabel.mark_shown("gui", offer)  # said once, whatever the answer
            return offer

        self.runner.run(look, lambda offer: self._show(library, offer), label="check for older labels")

    def _show(self, library: Any, offer: RelabelOffer | None) -> None:
        if library is not self._library or offer is None:
            return  # another library meanwhile, or nothing to say
        self.offer = offer
        self.text.setText(banner_text(offer))
        self.show()

    def _accept(self) -> None:
        offer = self.offer
        self.clear()
        if offer is not None:
            self.relabelRequested.emit(list(offer.paths))

    def clear(self) -> None:
        """Hide the banner and forget its offer (a late answer is then dropped too)."""
        self.offer = None
        self._library = None
        self.hide()
