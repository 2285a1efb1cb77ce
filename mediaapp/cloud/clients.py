"""boto3 clients for the cloud engine, built once per process and shared by threads.

Every client uses botocore's ``adaptive`` retry mode (exponential backoff with
jitter plus a client-side rate limiter that slows down when the service
throttles). Tests replace the factory with ``set_client_factory`` so that a
``botocore.stub.Stubber`` sees the very client object the engine calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mediaapp.cloud.config import CloudConfig

#: ``(service, config) -> client``; None means ``default_client``.
ClientFactory = Callable[[str, CloudConfig], object]

_factory: ClientFactory | None = None
_clients: dict[tuple, object] = {}
_lock = threading.Lock()


def set_client_factory(factory: ClientFactory | None) -> None:
    """Make ``client()`` return ``factory(service, config)`` (None restores the default); clears the cache."""
    global _factory
    with _lock:
        _factory = factory
        _clients.clear()


def session(config: CloudConfig):
    """A boto3 Session for ``config.profile`` / ``config.region``.

    Raises ``botocore.exceptions.ProfileNotFound`` for an unknown profile.
    """
    import boto3

    return boto3.session.Session(profile_name=config.profile or None, region_name=config.region or None)


def default_client(service: str, config: CloudConfig):
    """A new boto3 client for ``service`` (``s3``, ``rekognition``, ``sts``) configured from ``config``.

    Adaptive retries with ``config.max_attempts`` attempts in all, the first
    one included (botocore's ``total_max_attempts``; its ``max_attempts``
    would count retries only); a connection pool large enough for
    ``config.max_concurrency`` threads; path-style S3 addressing when
    ``endpoint_url`` is set (S3-compatible and test servers).
    """
    from botocore.config import Config

    options: dict = {"retries": {"mode": "adaptive", "total_max_attempts": int(config.max_attempts)},
                     "max_pool_connections": max(10, 2 * int(config.max_concurrency)),
                     "user_agent_extra": "mediaapp"}
    if service == "s3" and config.endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    sess = session(config)
    return sess.client(service, region_name=config.region or sess.region_name or "us-east-1",
                       endpoint_url=config.endpoint_url or None, config=Config(**options))


def client(service: str, config: CloudConfig):
    """The shared client of ``service`` for ``config`` (made on first use; thread-safe)."""
    key = (service, config.profile, config.region, config.endpoint_url, config.max_attempts, config.max_concurrency)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = (_factory or default_client)(service, config)
            _clients[key] = found
        return found
