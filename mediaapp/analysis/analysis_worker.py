"""The analysis task run in worker processes (or threads, for network engines).

Top-level, picklable functions returning plain data: the parent process
stores the results; workers never touch the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaapp.analysis.engine_base import AnalysisError, AnalysisParams, ImageRef
from mediaapp.analysis.registry import create_engine
from mediaapp.core.types import Api


@dataclass
class ApiOutcome:
    """One API's result for one image: a response, or an error code and message.

    ``extras`` carries engine data that has no place in the Rekognition
    response, for the parent to store (``EngineBase.analyse_with_extras``):
    ``{"Faces": [face record, ...]}`` (``mediaapp.analysis.local.face_records``:
    box, details, 128-d embedding, crop) when the local engine detected
    faces, and ``{"Similarity": {...}}`` (image embedding, perceptual hashes,
    sharpness: ``mediaapp.analysis.local.similarity``) when it answered
    DetectLabels; ``{"Metadata": {...}}`` from the metadata engine. Only one outcome
    per image carries it: the RecognizeCelebrities one when it succeeded,
    else DetectLabels. The stored response itself is never changed.
    """

    api: str
    engine_version: str = ""
    response: dict | None = None
    error_code: str | None = None
    error: str | None = None
    extras: dict | None = None


def analyse_image(engine_name: str, engine_config: dict, apis: list[str], ref: ImageRef,
                  params: AnalysisParams) -> list[ApiOutcome]:
    """Run ``apis`` on one image with the engine ``engine_name`` and validate each response.

    Never raises for a bad image: each API's failure becomes an ``ApiOutcome``
    with ``error_code``/``error``. Responses that do not match botocore's
    Rekognition output shape are reported as errors (``InvalidResponse``),
    never stored.
    """
    from mediaapp.analysis.validate import ResponseValidationError, validate_response

    wanted = [Api(a) for a in apis]
    try:
        engine = create_engine(engine_name, engine_config)
        results, extras = engine.analyse_with_extras(wanted, ref, params)
    except AnalysisError as exc:
        return [ApiOutcome(a.value, error_code=exc.code, error=str(exc)) for a in wanted]
    except Exception as exc:  # an engine bug must not stop the import; report it per image
        return [ApiOutcome(a.value, error_code=type(exc).__name__, error=f"{type(exc).__name__}: {exc}")
                for a in wanted]
    outcomes = []
    for api in wanted:
        result = results.get(api)
        if isinstance(result, AnalysisError):
            outcomes.append(ApiOutcome(api.value, error_code=result.code, error=str(result)))
            continue
        try:
            validate_response(api.value, result)
            version = engine.version(api)
        except ResponseValidationError as exc:
            outcomes.append(ApiOutcome(api.value, error_code="InvalidResponse",
                                       error=f"engine {engine_name} answered an invalid {api.value}: {exc}"))
            continue
        except AnalysisError as exc:
            outcomes.append(ApiOutcome(api.value, error_code=exc.code, error=str(exc)))
            continue
        outcomes.append(ApiOutcome(api.value, engine_version=version, response=result))
    if extras is not None:
        for preferred in (Api.RECOGNIZE_CELEBRITIES, Api.DETECT_LABELS):
            carrier = next((o for o in outcomes if o.api == preferred.value and o.response is not None), None)
            if carrier is not None:
                carrier.extras = extras
                break
    return outcomes
