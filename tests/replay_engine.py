"""An analysis engine that answers with real, recorded Rekognition responses.

Used to test the import pipeline's bookkeeping (caching, resuming, errors)
independently of model speed. It runs in threads of the test process, so
``CALLS`` counts every analysis it was asked for. Name it in a library as
``"replay_engine:ReplayEngine"`` (``tests/`` must be on ``sys.path``).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from mediaapp.analysis.engine_base import AnalysisError, AnalysisParams, EngineBase, EngineDescriptor, ImageRef
from mediaapp.core.types import Api

CALLS: list[tuple[str, str]] = []
_LOCK = threading.Lock()

SAMPLES = {
    Api.DETECT_LABELS: "awscli/detect-labels.json",
    Api.DETECT_TEXT: "moto_canned/DetectText.json",
    Api.RECOGNIZE_CELEBRITIES: "asyncaws_tests/RecognizeCelebrities.json",
}


class ReplayEngine(EngineBase):
    """Answers every image with the recorded sample response of each API.

    ``delay`` (seconds) slows each call down, for interruption tests;
    ``fail_names`` lists file names answered with InvalidImageFormatException.
    """

    # only the APIs it has a recording of: the pipeline asks an engine only for the APIs it answers
    descriptor = EngineDescriptor(name="replay", title="Recorded responses (tests)", apis=tuple(SAMPLES),
                                  default_apis=tuple(SAMPLES))
    executor = "thread"
    max_concurrency = 2

    def __init__(self, testdata: str, delay: float = 0.0, fail_names: list | None = None):
        self.responses = {api: _load(Path(testdata) / "4_rekognition" / rel) for api, rel in SAMPLES.items()}
        self.delay = delay
        self.fail_names = set(fail_names or [])

    def version(self, api: Api) -> str:
        return "replay-1"

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        with _LOCK:
            CALLS.append((image.sha256, api.value))
        if self.delay:
            time.sleep(self.delay)
        if image.path and Path(image.path).name in self.fail_names:
            raise AnalysisError("Request has invalid image format", "InvalidImageFormatException")
        response = json.loads(json.dumps(self.responses[api]))
        if api is Api.DETECT_LABELS:  # as the service does: labels below MinConfidence are not returned
            response["Labels"] = [label for label in response["Labels"]
                                  if label["Confidence"] >= params.min_confidence]
        return response


def _load(path: Path) -> dict:
    data = json.loads(path.read_text())
    return data.get("output", data)
