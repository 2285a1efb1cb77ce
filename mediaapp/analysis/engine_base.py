"""The analysis-engine interface every engine implements, and the descriptor that registers it.

Every engine answers in the shapes of Amazon Rekognition's responses
(``DetectLabels``, ``DetectText``, ``RecognizeCelebrities``): confidences
0-100, BoundingBox values as ratios of the orientation-corrected image.
``mediaapp.analysis.validate`` checks them against botocore's service model.

An engine is one subclass of ``EngineBase`` with a class attribute
``descriptor`` (``EngineDescriptor``: name, title, APIs, network and cost,
options), registered once in ``mediaapp.analysis.registry``. ``EngineBase``
declares every hook the import pipeline calls, each with a default, so an
engine overrides only what it needs and callers never probe for methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from mediaapp.core.analysis import (
    CANCELLED,
    AnalysisCancelled,
    AnalysisError,
    AnalysisParams,
    EngineUnavailableError,
    ImageRef,
)
from mediaapp.core.types import Api, Json

if TYPE_CHECKING:  # pragma: no cover
    from mediaapp.core.types import Asset
    from mediaapp.settings import Settings
    from mediaapp.tasks import CancelToken

__all__ = [
    "CANCELLED",
    "AnalysisCancelled",
    "AnalysisError",
    "AnalysisParams",
    "EngineBase",
    "EngineContext",
    "EngineDescriptor",
    "EngineUnavailableError",
    "ImageRef",
    "ProgressFn",
    "Results",
]

#: ``progress(step, done, total)`` while an engine prepares (a model download: bytes; total 0 = unknown).
ProgressFn = Callable[[str, int, int], None]
#: One image's answers: API -> its response dict, or the ``AnalysisError`` it raised.
Results = dict[Api, "Json | AnalysisError"]


@dataclass(frozen=True)
class EngineDescriptor:
    """What the rest of the app knows of an engine without building it.

    ``name`` is the id stored in the catalog with every response and used in
    settings and ``--engine``; ``title`` is shown in dialogs. ``apis`` are
    the APIs it answers; ``default_apis`` those a run asks for when the user
    named none. ``needs_network`` / ``costs_money`` drive the cost estimate
    and the confirmation before an import; ``cost_model`` says in words how
    it is priced. ``options`` are the keys of its section
    ``settings["engine_config"][name]`` (documented by the engine).
    ``version`` is the engine's own interface version; the model versions
    that answered come from ``EngineBase.version(api)``.
    """

    name: str
    title: str
    apis: tuple[Api, ...]
    default_apis: tuple[Api, ...]
    needs_network: bool = False
    costs_money: bool = False
    cost_model: str = "free: runs on this computer"
    options: tuple[str, ...] = ()
    version: str = "1"


@dataclass(frozen=True)
class EngineContext:
    """What the composition root hands an engine class to build its worker config (``configure``).

    ``settings``: the library's settings mapping; ``root``: the library
    folder; ``section``: the engine's section of ``settings["engine_config"]``
    (under the name the engine was chosen by); ``face_references``: returns
    the People service's config for the local engine (crops folder, named
    people's embeddings; ``{}`` when faces are off).
    """

    settings: Settings
    root: Path
    section: Mapping[str, Any] = field(default_factory=dict)
    face_references: Callable[[], Json] = field(default=dict)


class EngineBase:
    """The base class of every analysis engine: the Rekognition-named methods and every hook, with defaults.

    Subclasses set ``descriptor`` and implement ``version(api)`` and
    ``analyse(api, image, params)`` (or ``analyse_many``). Engines are built
    from a JSON-able config (``configure``) so worker processes can build
    their own copy. Methods raise ``AnalysisError`` for a bad image and
    ``EngineUnavailableError`` when the engine cannot run at all.
    """

    #: Set by every subclass; ``mediaapp.analysis.registry`` registers engines by it.
    descriptor: ClassVar[EngineDescriptor]
    #: Where the import pipeline runs the engine: ``process`` (CPU-bound, one per core) or ``thread``
    #: (network-bound, ``max_concurrency`` threads).
    executor: ClassVar[Literal["process", "thread"]] = "process"
    #: Threads for a ``thread`` engine (None: the worker pool's default).
    max_concurrency: int | None = None
    #: Whether the pipeline may make an answer stored earlier current again, at no cost, when the cache key
    #: returns to a value answered before (``Catalog.restore_analysis``). False for an engine whose answers
    #: come with data stored beside the response (``extras``, such as the metadata engine's title and rating),
    #: which a restore would not bring back: it is asked again instead.
    restores_answers: ClassVar[bool] = True

    @property
    def name(self) -> str:
        """The engine id stored in the catalog (``descriptor.name``)."""
        return self.descriptor.name

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def configure(cls, context: EngineContext) -> Json:
        """The JSON-able config this engine is built with (``cls(**config)``) for ``context``'s library.

        Default: a copy of the engine's settings section (``context.section``).
        """
        return dict(context.section)

    @classmethod
    def request_params(cls, params: AnalysisParams, config: Json) -> AnalysisParams:
        """``params`` plus the options in ``config`` that change this engine's answers (the cache key).

        Default: ``params`` unchanged. Called without building the engine (cost estimates do).
        """
        return params

    @classmethod
    def video_refusal(cls, asset: Asset, config: Json) -> str | None:
        """Why this engine, built from ``config``, cannot analyse the video ``asset`` although its descriptor
        lists video APIs (the cloud engine: not MP4/MOV, or no bucket); None when it can.

        The import pipeline then gives the video to the on-device engine and
        says why; the cost estimate counts it as free. Called without
        building the engine; no I/O. Default: None.
        """
        return None

    @classmethod
    def pending_downloads(cls, apis: Sequence[Api]) -> dict[str, int]:
        """What ``prepare(apis)`` would download before a run, as it stands now: description -> size in bytes.

        Lets a front end ask before a one-time download starts (the object
        model of the local engine). Called without building the engine;
        reads local files only, never the network. Default: nothing (``{}``).
        """
        return {}

    # -- a run ------------------------------------------------------------------------------------
    def prepare(self, apis: Sequence[Api], progress: ProgressFn | None = None) -> dict[Api, str]:
        """Fetch what ``apis`` need before a run, in the importing process; returns API -> why it cannot run.

        Default: nothing to fetch (``{}``). Never raises for a missing model.
        """
        return {}

    def begin_run(self, planned: int | None = None, cancel: CancelToken | None = None,
                  reanalyse: bool = False) -> None:
        """A run of ``planned`` images starts (budgets reset); ``cancel`` stops paid work. Default: nothing."""

    def prepare_ref(self, ref: ImageRef, asset: Asset) -> ImageRef:
        """The ``ImageRef`` this engine analyses for ``asset`` (it may add a name or an S3 location).

        Called in the importing process for every image a run plans, whether
        or not its answer is cached, so it must be cheap (no network).
        Default: ``ref`` unchanged.
        """
        return ref

    def image_params(self, params: AnalysisParams, ref: ImageRef) -> AnalysisParams:
        """``params`` (from ``request_params``) for one image ``ref`` (from ``prepare_ref``): its cache key.

        For an engine whose answer depends on more than the image's bytes and
        the run's options: the metadata engine adds its XMP sidecars' sizes
        and times, so an edited sidecar is read again. Called in the
        importing process for every planned image; cheap. Default: ``params``
        unchanged.
        """
        return params

    def close(self) -> None:
        """Release files, connections and threads (they reopen on next use). Default: nothing."""

    # -- answering --------------------------------------------------------------------------------
    def version(self, api: Api) -> str:  # pragma: no cover - abstract
        """The model version string that answers ``api``."""
        raise NotImplementedError

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> Json:  # pragma: no cover - abstract
        """Run ``api`` on ``image``; returns its Rekognition-shaped response dict."""
        raise NotImplementedError

    def analyse_many(self, apis: Sequence[Api], image: ImageRef, params: AnalysisParams) -> Results:
        """Run several APIs on one image; each API's answer or ``AnalysisError``.

        Default: ``analyse`` once per API. Engines that decode or upload once
        per image override it.
        """
        out: Results = {}
        for api in apis:
            try:
                out[api] = self.analyse(api, image, params)
            except AnalysisError as exc:
                out[api] = exc
        return out

    def analyse_with_extras(self, apis: Sequence[Api], image: ImageRef,
                            params: AnalysisParams) -> tuple[Results, Json | None]:
        """``analyse_many`` plus the extras: what the engine found that a Rekognition response has no room for.

        ``None``, or a dict the importing process stores beside the
        responses (``ApiOutcome.extras``): ``{"Faces": [face record, ...]}``
        (the local engine: 128-d embeddings and crops,
        ``mediaapp.analysis.local.face_records``), ``{"Metadata": {...}}``
        (the metadata engine: title, description, rating, label, date created
        and the problems met reading the file). Default: no extras.
        """
        return self.analyse_many(apis, image, params), None

    def detect_labels(self, image: ImageRef, params: AnalysisParams | None = None) -> Json:
        """Run DetectLabels on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_LABELS, image, params or AnalysisParams())

    def detect_text(self, image: ImageRef) -> Json:
        """Run DetectText on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_TEXT, image, AnalysisParams())

    def recognize_celebrities(self, image: ImageRef) -> Json:
        """Run RecognizeCelebrities on ``image``; returns its response dict."""
        return self.analyse(Api.RECOGNIZE_CELEBRITIES, image, AnalysisParams())
