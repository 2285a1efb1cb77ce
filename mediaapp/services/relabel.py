"""New labels for existing libraries: which photos an older label model labelled, and what relabelling costs.

Photos analysed before a label-model change keep their stored answers (the
import never re-analyses on its own). ``Relabel`` finds them: assets whose
current local DetectLabels answer (catalog ``current_analyses``) was made by
another label model than the one the app has now, comparing
``LocalEngine.version(DetectLabels)`` without its last ``+`` part (the face
detector's version, or ``nofaces``: turning faces off is not a new label
model). It estimates the time of relabelling them (images x
``SECONDS_PER_IMAGE``) and remembers, per front end (``cli``, ``gui``) in the
``relabel_notice`` setting, the label model it last told the user about, so
each front end says it once per library and model (``notice``, then
``mark_shown``). The relabelling itself is an ordinary import of the photos'
paths with ``reanalyse`` that runs ``RELABEL_APIS`` (DetectLabels) of
``RELABEL_ENGINES`` (the local engine) only: ``mediaapp import --reanalyse
--engine local --apis labels PATH``, or the window's import flow
(``ImportFlow.start(..., apis=RELABEL_APIS, engines=RELABEL_ENGINES)``), never silent. The local
engine's DetectLabels also gives the image embedding of "more like this",
which the import stores with it, so relabelling refreshes that too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mediaapp.catalog.db import Catalog
from mediaapp.core.apis import Api
from mediaapp.core.types import LOCAL_ENGINE
from mediaapp.settings import Settings, load_settings, read_settings, store_settings

__all__ = ["FRONT_ENDS", "RELABEL_APIS", "RELABEL_ENGINES", "SECONDS_PER_IMAGE", "Relabel", "RelabelOffer",
           "label_model", "local_label_version"]

#: Wall seconds per 12 MP photo of the local engine's DetectLabels alone (detector + classifier + faces for the
#: face labels, decode included), on the 2-core reference machine: ``benchmarks/analysis_bench.py --apis labels
#: --count 24 --skip-parts`` printed 4.04 images/s (0.25 s per photo; 2 workers, load average 0.7 before the run)
#: on 2026-12-07. 0.3 s leaves a fifth for a machine doing other work; the same run with the load average at
#: 5.6-6.9 from other jobs took 1.3 s per photo.
SECONDS_PER_IMAGE = 0.3
#: The analyses a relabelling runs (Rekognition operation names): DetectLabels only, whose local answer also
#: carries the image embedding. The command line's ``--apis labels`` names the same.
RELABEL_APIS: tuple[str, ...] = (Api.DETECT_LABELS.value,)
#: The engines a relabelling runs: the local one only, whose label model changed (a library that also uses
#: Rekognition does not pay for its labels again). The command line's ``--engine local`` names the same.
RELABEL_ENGINES: tuple[str, ...] = (LOCAL_ENGINE,)
#: The front ends that say it once each: the command line, the window.
FRONT_ENDS = ("cli", "gui")


def label_model(version: str) -> str:
    """The label-model part of a local DetectLabels ``engine_version``: all but its last ``+`` part (faces)."""
    return version.rsplit("+", 1)[0] if "+" in version else version


def local_label_version(settings: Settings) -> str:
    """``LocalEngine.version(DetectLabels)`` for ``settings`` (loads no model weights; reads the label files)."""
    from mediaapp.analysis.local.engine import LocalEngine

    return LocalEngine(faces_enabled=settings.faces_enabled).version(Api.DETECT_LABELS)


@dataclass(frozen=True)
class RelabelOffer:
    """Photos labelled by an older label model: ``count`` assets, ``paths`` (one file path each, sorted),
    ``seconds`` the estimated relabelling time (wall seconds), ``model`` the current label model
    (``label_model`` of the engine version)."""

    count: int
    paths: tuple[str, ...]
    seconds: float
    model: str

    @property
    def minutes(self) -> int:
        """``seconds`` in whole minutes, rounded up (at least 1)."""
        return max(1, math.ceil(self.seconds / 60))

    def cli_line(self) -> str:
        """The one line the command line prints (``mediaapp: N photos were labelled by an older model; ...``)."""
        noun = "photo was" if self.count == 1 else "photos were"
        return (f"mediaapp: {self.count} {noun} labelled by an older model; "
                "'mediaapp import --reanalyse --engine local --apis labels PATH' relabels them "
                f"(about {self.minutes} min)")


class Relabel:
    """Counts and offers the relabelling of photos an older label model labelled (module docstring).

    ``catalog``: the library's catalog; ``root``: the library folder (its
    ``settings.json`` remembers the notices); ``settings``: returns the live
    settings; ``version``: returns the current local DetectLabels engine
    version (default ``local_label_version``). Catalog reads raise
    ``sqlite3.Error``; ``mark_shown`` raises ``OSError`` when the settings
    file cannot be written.
    """

    def __init__(self, catalog: Catalog, root: Path, settings: Callable[[], Settings],
                 version: Callable[[Settings], str] = local_label_version):
        self.catalog = catalog
        self.root = Path(root)
        self._settings = settings
        self._version = version

    def current_model(self) -> str:
        """The label model the app labels with now (``label_model`` of the engine version)."""
        return label_model(self._version(self._settings()))

    def outdated(self) -> dict[str, str]:
        """``{sha256: one of its paths}`` of the assets whose current local DetectLabels came from another model."""
        model = self.current_model()
        with self.catalog.read() as conn:
            rows = conn.execute(
                "SELECT c.sha256, c.engine_version, MIN(f.path) FROM current_analyses c"
                " JOIN files f ON f.sha256 = c.sha256 WHERE c.api = ? AND c.engine = ?"
                " GROUP BY c.sha256, c.engine_version",
                (Api.DETECT_LABELS.value, LOCAL_ENGINE)).fetchall()
        return {sha: path for sha, version, path in rows if label_model(version) != model}

    def offer(self, seconds_per_image: float = SECONDS_PER_IMAGE) -> RelabelOffer | None:
        """The relabelling offer (``seconds_per_image`` x photos), or None when every photo has the current model."""
        found = self.outdated()
        if not found:
            return None
        return RelabelOffer(len(found), tuple(sorted(found.values())), len(found) * seconds_per_image,
                            self.current_model())

    def notice(self, front: str, seconds_per_image: float = SECONDS_PER_IMAGE) -> RelabelOffer | None:
        """``offer`` unless front end ``front`` (``FRONT_ENDS``) already told the user about this model.

        Raises ``ValueError`` for an unknown ``front``.
        """
        if front not in FRONT_ENDS:
            raise ValueError(f"unknown front end {front!r}; expected one of {', '.join(FRONT_ENDS)}")
        if read_settings(self.root).relabel_notice.get(front) == self.current_model():  # as stored, not the session's
            return None
        return self.offer(seconds_per_image)

    def mark_shown(self, front: str, offer: RelabelOffer) -> None:
        """Remember in ``settings.json`` that ``front`` told the user about ``offer.model`` (not said again).

        Only the ``relabel_notice`` key is changed in the stored file (a
        session's overrides are not saved). Raises ``OSError`` when it cannot be written.
        """
        notices = dict(load_settings(self.root).get("relabel_notice") or {})
        notices[front] = offer.model
        store_settings(self.root, relabel_notice=notices)
