"""``CloudConfig``: the settings of the ``rekognition`` engine and its S3 upload.

Stored in the library settings under ``engine_config.rekognition`` as plain
JSON. Never holds secrets: credentials come from boto3's standard chain
(environment, shared credentials/config files with ``profile``, SSO, instance
roles). ``Library.engine_config("rekognition")`` returns this dict, and the
engine is built from it in the importing process.

Also here: the library-wide choices the cloud settings edit with it
(``engines``, ``apis``, and the per-folder engine rules ``folder_engines``:
absolute folder -> engine names, the deepest folder holding a file wins;
``Library.engines_for`` applies them) and ``save_library_choices``, which
writes them without touching any other setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

from mediaapp.core.apis import parse_api
from mediaapp.core.types import CLOUD_ENGINE
from mediaapp.settings import Settings

#: Library settings key of the per-folder engine rules: ``{"/abs/folder": ["rekognition"], ...}``.
FOLDER_ENGINES_KEY = "folder_engines"

#: Values of ``upload``: send the original file, a downscaled JPEG proxy, or nothing (image Bytes in the request).
UPLOAD_MODES = ("original", "proxy", "none")
#: Values of ``sse``: S3 server-side encryption with S3-managed keys, with a KMS key, or none requested.
SSE_MODES = ("AES256", "aws:kms", "none")

#: Settings key holding the engine config (``engine_config.<engine name>``).
SETTINGS_KEY = CLOUD_ENGINE


@dataclass
class CloudConfig:
    """The cloud engine's settings (every field JSON-able).

    - ``profile``/``region``: AWS named profile and region (None: boto3's defaults).
    - ``bucket``/``prefix``: where images go: ``s3://bucket/prefix/ab/<sha256>.jpg``.
    - ``sse``: ``AES256``, ``aws:kms`` (with ``kms_key_id``; None = the AWS-managed key) or ``none``.
    - ``upload``: ``original``, ``proxy`` (JPEG, longest side ``proxy_max_side`` px,
      quality ``proxy_quality``) or ``none`` (images travel as request Bytes; no bucket needed).
      Without a ``bucket``, every mode sends Bytes.
    - ``delete_after``: delete the S3 copy once an image's analyses are done.
    - ``max_concurrency``: images analysed at once (threads).
    - ``tps``: Rekognition calls per second this app allows itself (keep it at or
      below the account's per-operation TPS quota; 5 is the lowest default quota AWS lists).
    - ``image_properties``: DetectLabels also asks for ``IMAGE_PROPERTIES`` (priced extra).
    - ``face_collection``: the Rekognition face collection (CollectionId) the library's people are enrolled in
      (``mediaapp people add --engine rekognition``); when set, RecognizeCelebrities also names every face from
      it (IndexFaces, then SearchFaces per face: priced extra). None: no collection.
    - ``budget_per_run`` / ``budget_per_month``: US dollars; None = no limit.
    - ``max_attempts``: botocore attempts per call, the first one included (adaptive retry mode).
    - ``multipart_threshold_mb`` / ``multipart_chunk_mb``: S3 multipart sizes (MiB).
    - ``endpoint_url``: a custom AWS endpoint for both services (tests, S3-compatible stores).
    - ``ledger_path``: the usage ledger file (set by the library; None = no month budget).
    - ``prices_path``: a user price table replacing ``resources/prices.json``.
    - ``video_sns_topic_arn`` / ``video_role_arn``: Rekognition Video's ``NotificationChannel`` (the SNS
      topic it announces finished jobs on, and the IAM role it assumes to publish); both or neither.
      ``video_sqs_queue_url``: the SQS queue subscribed to that topic, read to learn completion. Without a
      queue, video jobs are polled with back-off (``mediaapp.cloud.video_jobs``).
    """

    profile: str | None = None
    region: str | None = None
    bucket: str | None = None
    prefix: str = "mediaapp"
    sse: str = "AES256"
    kms_key_id: str | None = None
    upload: str = "proxy"
    proxy_max_side: int = 2048
    proxy_quality: int = 85
    delete_after: bool = False
    max_concurrency: int = 4
    tps: float = 5.0
    image_properties: bool = False
    face_collection: str | None = None
    budget_per_run: float | None = None
    budget_per_month: float | None = None
    max_attempts: int = 8
    multipart_threshold_mb: int = 16
    multipart_chunk_mb: int = 8
    endpoint_url: str | None = None
    ledger_path: str | None = None
    prices_path: str | None = None
    video_sns_topic_arn: str | None = None
    video_role_arn: str | None = None
    video_sqs_queue_url: str | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> CloudConfig:
        """Build from a settings dict; unknown keys are ignored. Raises ``ValueError`` when invalid."""
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in (data or {}).items() if k in known})
        config.validate()
        return config

    def to_dict(self) -> dict:
        """The JSON-able dict stored in the settings."""
        return asdict(self)

    @property
    def uses_s3(self) -> bool:
        """True when images are uploaded to S3 (``upload`` is not ``none`` and a bucket is set)."""
        return self.upload != "none" and bool(self.bucket)

    def validate(self) -> None:
        """Raise ``ValueError`` with a plain-words reason when a value is out of range."""
        if self.upload not in UPLOAD_MODES:
            raise ValueError(f"upload must be one of {', '.join(UPLOAD_MODES)}, not {self.upload!r}")
        if self.sse not in SSE_MODES:
            raise ValueError(f"sse must be one of {', '.join(SSE_MODES)}, not {self.sse!r}")
        if self.kms_key_id and self.sse != "aws:kms":
            raise ValueError("a KMS key id only applies with sse aws:kms")
        if int(self.max_concurrency) < 1:
            raise ValueError("max_concurrency must be at least 1")
        if float(self.tps) <= 0:
            raise ValueError("tps must be positive")
        if not 64 <= int(self.proxy_max_side) <= 10000:
            raise ValueError("proxy_max_side must be between 64 and 10000 pixels")
        if not 30 <= int(self.proxy_quality) <= 95:
            raise ValueError("proxy_quality must be between 30 and 95")
        for name in ("budget_per_run", "budget_per_month"):
            value = getattr(self, name)
            if value is not None and float(value) < 0:
                raise ValueError(f"{name} must not be negative")
        if int(self.multipart_threshold_mb) < 5 or int(self.multipart_chunk_mb) < 5:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self.prefix = (self.prefix or "").strip("/")
        self._validate_video_notification()

    def _validate_video_notification(self) -> None:
        """Check the Rekognition Video notification settings; empty strings become None.

        The ARN patterns follow botocore's rekognition model (``NotificationChannel``), with the other AWS
        partitions allowed. Raises ``ValueError`` in plain words.
        """
        import re

        for name in ("video_sns_topic_arn", "video_role_arn", "video_sqs_queue_url"):
            value = getattr(self, name)
            setattr(self, name, (str(value).strip() or None) if value is not None else None)
        topic, role, queue = self.video_sns_topic_arn, self.video_role_arn, self.video_sqs_queue_url
        if bool(topic) != bool(role):
            raise ValueError("Rekognition Video notifications need both an SNS topic ARN and a role ARN")
        if topic and not re.fullmatch(r"arn:aws[a-z-]*:sns:[^:]*:\d{12}:.+", topic):
            raise ValueError(f"not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME): {topic!r}")
        if role and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+", role):
            raise ValueError(f"not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME): {role!r}")
        if queue and not topic:
            raise ValueError("an SQS queue for Rekognition Video needs the SNS topic and role it is subscribed to")
        if queue and not re.match(r"https?://\S+/\d{12}/\S+$", queue):
            raise ValueError(f"not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME): {queue!r}")


def load_config(settings: Settings) -> CloudConfig:
    """The ``CloudConfig`` stored in library ``settings`` (defaults when none). Raises ``ValueError`` when invalid."""
    return CloudConfig.from_dict(dict(settings.engine_config.get(SETTINGS_KEY) or {}))


def config_with(stored: dict | None, **values) -> CloudConfig:
    """The ``CloudConfig`` of a stored settings dict with ``values`` replaced; fields not named keep their
    stored value (or default). Raises ``ValueError`` when the result is invalid."""
    known = {f.name for f in fields(CloudConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown cloud settings: {', '.join(sorted(unknown))}")
    base = {k: v for k, v in (stored or {}).items() if k in known}
    return CloudConfig.from_dict({**base, **values})


def save_config(library, config: CloudConfig) -> None:
    """Validate ``config`` and save it in ``library``'s settings file (and its live settings).

    Keys of the stored ``engine_config.rekognition`` that ``CloudConfig``
    does not know (a newer version's) are kept. ``ledger_path`` is not saved
    (the library sets it). Raises ``ValueError`` when invalid, ``OSError``
    when the file cannot be written.
    """
    from mediaapp.settings import load_settings, save_settings

    config.validate()
    data = config.to_dict()
    data.pop("ledger_path", None)
    stored = load_settings(library.root)
    section = stored.setdefault("engine_config", {})
    merged = {**section.get(SETTINGS_KEY, {}), **data}
    merged.pop("ledger_path", None)
    section[SETTINGS_KEY] = merged
    save_settings(library.root, stored)
    library.update_settings(engine_config={**library.settings.engine_config, SETTINGS_KEY: dict(merged)})


# -- per-folder engines ----------------------------------------------------------------------------

def check_engines(engines: Iterable[object], known: Sequence[str]) -> list[str]:
    """``engines`` as a list of names without repeats, each one of ``known`` (``analysis.registry.engine_names()``).

    Raises ``ValueError`` for an unknown engine or none.
    """
    out = list(dict.fromkeys(str(e).strip() for e in engines if str(e).strip()))
    unknown = [e for e in out if e not in known]
    if unknown or not out:
        raise ValueError(f"engines must be {' and/or '.join(known)}, not {', '.join(unknown) or 'none'}")
    return out


def folder_rules(settings: Settings) -> dict[str, list[str]]:
    """The ``folder_engines`` rules of library ``settings``: absolute folder -> engine names.

    Folders are normalised (``normalize_folder``); rules without an engine are dropped.
    """
    return {normalize_folder(folder): list(engines) for folder, engines in settings.folder_engines.items()
            if engines}


def normalize_folder(folder: str) -> str:
    """``folder`` as the key of a rule: absolute, ``~`` expanded, no trailing separator."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(str(folder))))


def save_library_choices(library, *, known_engines: Sequence[str], engines: list[str] | None = None,
                         apis: list[str] | None = None, folder_engines: dict[str, list[str]] | None = None) -> None:
    """Save the library-wide ``engines``, ``apis`` and ``folder_engines`` (each only when given).

    Every other key of ``settings.json`` is kept; the open library's
    settings are updated too (``Library.update_settings``). Engines are
    checked with ``check_engines`` against ``known_engines``, APIs with
    ``parse_api`` (stored as operation names), folders made absolute.
    Raises ``ValueError`` for an invalid value (nothing is written then),
    ``OSError`` when the file cannot be written.
    """
    from mediaapp.settings import load_settings, save_settings

    changes: dict = {}
    if engines is not None:
        changes["engines"] = check_engines(engines, known_engines)
    if apis is not None:
        parsed = list(dict.fromkeys(parse_api(a).value for a in apis if str(a).strip()))
        if not parsed:
            raise ValueError("choose at least one analysis (labels, text, celebrities)")
        changes["apis"] = parsed
    if folder_engines is not None:
        changes[FOLDER_ENGINES_KEY] = {normalize_folder(f): check_engines(e, known_engines)
                                       for f, e in folder_engines.items()}
    if not changes:
        return
    stored = load_settings(library.root)
    stored.update(changes)
    save_settings(library.root, stored)
    library.update_settings(**changes)
