"""``CloudConfig``: the settings of the ``rekognition`` engine and its S3 upload.

Stored in the library settings under ``engine_config.rekognition`` as plain
JSON. Never holds secrets: credentials come from boto3's standard chain
(environment, shared credentials/config files with ``profile``, SSO, instance
roles). ``Library.engine_config("rekognition")`` returns this dict, and the
engine is built from it in the importing process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: Values of ``upload``: send the original file, a downscaled JPEG proxy, or nothing (image Bytes in the request).
UPLOAD_MODES = ("original", "proxy", "none")
#: Values of ``sse``: S3 server-side encryption with S3-managed keys, with a KMS key, or none requested.
SSE_MODES = ("AES256", "aws:kms", "none")

#: Settings key holding the engine config.
SETTINGS_KEY = "rekognition"


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
    - ``budget_per_run`` / ``budget_per_month``: US dollars; None = no limit.
    - ``max_attempts``: botocore attempts per call (adaptive retry mode).
    - ``multipart_threshold_mb`` / ``multipart_chunk_mb``: S3 multipart sizes (MiB).
    - ``endpoint_url``: a custom AWS endpoint for both services (tests, S3-compatible stores).
    - ``ledger_path``: the usage ledger file (set by the library; None = no month budget).
    - ``prices_path``: a user price table replacing ``resources/prices.json``.
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
    budget_per_run: float | None = None
    budget_per_month: float | None = None
    max_attempts: int = 8
    multipart_threshold_mb: int = 16
    multipart_chunk_mb: int = 8
    endpoint_url: str | None = None
    ledger_path: str | None = None
    prices_path: str | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> "CloudConfig":
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


def load_config(settings: dict) -> CloudConfig:
    """The ``CloudConfig`` stored in library ``settings`` (defaults when none). Raises ``ValueError`` when invalid."""
    return CloudConfig.from_dict(settings.get("engine_config", {}).get(SETTINGS_KEY, {}))


def save_config(library, config: CloudConfig) -> None:
    """Validate ``config`` and save it in ``library``'s settings file (and its live settings).

    ``ledger_path`` is not saved (the library sets it). Raises ``ValueError`` when invalid.
    """
    from mediaapp.settings import load_settings, save_settings

    config.validate()
    data = config.to_dict()
    data.pop("ledger_path", None)
    stored = load_settings(library.root)
    stored.setdefault("engine_config", {})[SETTINGS_KEY] = data
    save_settings(library.root, stored)
    library.settings.setdefault("engine_config", {})[SETTINGS_KEY] = dict(data)
