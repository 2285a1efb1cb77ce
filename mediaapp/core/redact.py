"""Secrets kept out of what the app prints, shows and logs, and a warning before credentials go out in clear text.

A search server URL may carry a password (``http://ann:secret@host:9200``),
and so does every message that names the URL: connection errors, health
checks, reindex reports. ``redact`` replaces the password of every such URL
in a text with ``***`` and keeps the user name (it says which account was
used). The command line and the GUI pass what they show through it, and
``install_log_redaction`` puts a ``RedactingFilter`` on log handlers so log
lines and tracebacks are cleaned too.

``plaintext_credentials_warning`` says, before anything is sent, when basic
authentication would cross the network unencrypted: an ``http://`` URL, a
user name (in the URL or configured besides it), and a host that is not this
machine (``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``).

Pure text work: no I/O here (``logging`` is only given a filter).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RedactingFilter", "index_credentials_warning", "install_log_redaction", "is_loopback_host",
           "plaintext_credentials_warning", "redact", "without_password"]

#: What stands for a removed password.
MASK = "***"

# scheme "://" user ":" password "@". The user part holds no ":", "@" or "/"; the password runs to the
# last "@" before the authority ends (a "/", "?", "#", white space or a quote), so a password with an
# unescaped "@" or ":" is hidden whole.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:@/?#'\"<>\[\]]*):(?P<password>[^\s/?#'\"<>]*)@")


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL in it replaced by ``***``.

    The user name, host, port and path stay: ``"OpenSearch at
    http://ann:secret@host:9200: refused"`` becomes ``"OpenSearch at
    http://ann:***@host:9200: refused"``. Works on a bare URL and on any
    message quoting URLs; idempotent. Never raises.
    """
    return _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)


def without_password(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL in it removed, user name kept.

    ``"http://ann:secret@host:9200"`` becomes ``"http://ann@host:9200"``: what
    may be stored (``settings.json``); the password then comes from the
    environment. Never raises.
    """
    return _USERINFO.sub(lambda m: f"{m['head']}@", text)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an IP address, IPv6 with or without brackets) is this machine.

    True for ``localhost`` and names under ``.localhost`` (RFC 6761), any
    127.0.0.0/8 address, ``::1`` and IPv4-mapped loopback. Case and a
    trailing dot are ignored. Never raises.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def plaintext_credentials_warning(url: str, username: str | None = None) -> str | None:
    """One sentence warning that basic-auth credentials would cross the network unencrypted, or None.

    ``url``: the server URL (without a scheme it counts as ``http://``, as
    opensearch-py reads it); ``username``: the basic-auth user configured
    besides the URL (None or empty: none). Warns when the scheme is
    ``http``, there is a user (here or in the URL's userinfo) and the host is
    not this machine (``is_loopback_host``). The sentence names the host and
    never the password. Never raises.
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        user = username or parts.username
    except ValueError:  # a malformed port or IPv6 literal: the client refuses it before sending anything
        return None
    if parts.scheme.lower() != "http" or not user or not host or is_loopback_host(host):
        return None
    return (f"the password of user {user!r} goes unencrypted over http:// to {host}: anyone on the network "
            f"path can read it; use an https:// URL")


def index_credentials_warning(settings: Mapping[str, Any] | None) -> str | None:
    """``plaintext_credentials_warning`` for a library's search index settings, or None.

    ``settings``: the ``settings["index"]`` dict (``mediaapp.search.factory``
    keys ``backend``, ``url``, ``username``, ``aws_region``; the same keys may
    sit in an ``"opensearch"`` sub-dict). None unless the backend is
    OpenSearch with a URL; a ``username`` with ``aws_region`` set does not
    count (AWS SigV4 signs the requests, no password is sent). Never raises.
    """
    if not settings:
        return None
    opts: Mapping[str, Any] = settings
    nested = settings.get("opensearch")
    if isinstance(nested, Mapping):
        opts = nested
    elif (settings.get("backend") or "opensearch") != "opensearch":
        return None
    url = str(opts.get("url") or "").strip()
    if not url:
        return None
    username = None if opts.get("aws_region") else (str(opts.get("username") or "").strip() or None)
    return plaintext_credentials_warning(url, username)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record on with ``redact`` applied to its text.

    The message is formatted once (``msg % args``) and redacted; a traceback
    (``exc_info``) and ``stack_info`` are formatted into the record and
    redacted too, so handlers print the cleaned text. Records are never
    dropped; a record whose message cannot be formatted is left as it is.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always True (keep it)."""
        try:
            record.msg = redact(record.getMessage())
            record.args = None
        except Exception:  # the handler reports the broken format string itself
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(*handlers: logging.Handler) -> None:
    """Put one ``RedactingFilter`` on each of ``handlers``.

    Without arguments: every handler of the root logger, plus
    ``logging.lastResort`` (what prints warnings when no handler is set up,
    as in the command line). Handlers added afterwards are not covered.
    Idempotent. Never raises.
    """
    targets = list(handlers) or [*logging.getLogger().handlers,
                                 *([logging.lastResort] if logging.lastResort else [])]
    for handler in targets:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
