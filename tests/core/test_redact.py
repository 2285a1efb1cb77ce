"""Passwords in URLs never reach output or logs; a warning before credentials go out in clear text."""

from __future__ import annotations

import logging

import pytest

from mediaapp.core import redact as r


@pytest.mark.parametrize(("text", "expected"), [
    ("http://user:pass@host:9200", "http://user:***@host:9200"),
    ("https://ann:s%40cr3t@search.example.com/_cluster", "https://ann:***@search.example.com/_cluster"),
    ("OpenSearch at http://ann:p@ss:w0rd@10.0.0.5:9200: connection refused",
     "OpenSearch at http://ann:***@10.0.0.5:9200: connection refused"),  # an unescaped @ and : in the password
    ("hosts=['http://a:b@h1:9200', 'https://c:d@h2']", "hosts=['http://a:***@h1:9200', 'https://c:***@h2']"),
    ("http://user@host:9200 has no password", "http://user@host:9200 has no password"),
    ("https://host:9200/a@b, mail me@example.com", "https://host:9200/a@b, mail me@example.com"),
    ("no url at all: user:pass@host", "no url at all: user:pass@host"),
    ("http://:secret@host", "http://:***@host"),
])
def test_redact_keeps_the_user_and_hides_the_password(text, expected):
    assert r.redact(text) == expected
    assert r.redact(r.redact(text)) == expected


@pytest.mark.parametrize(("url", "username", "warned"), [
    ("http://search.example.com:9200", "ann", True),
    ("http://ann:secret@search.example.com:9200", None, True),
    ("HTTP://10.1.2.3:9200", "ann", True),
    ("search.example.com:9200", "ann", True),            # no scheme: opensearch-py speaks http
    ("https://search.example.com:9200", "ann", False),
    ("https://ann:secret@search.example.com", None, False),
    ("http://search.example.com:9200", None, False),      # no credentials to expose
    ("http://localhost:9200", "ann", False),
    ("http://LOCALHOST.:9200", "ann", False),
    ("http://db.localhost:9200", "ann", False),
    ("http://127.0.0.1:9200", "ann", False),
    ("http://127.8.9.10:9200", "ann", False),
    ("http://[::1]:9200", "ann", False),
    ("http://ann:secret@127.0.0.1:9200", None, False),
])
def test_plaintext_credentials_warning(url, username, warned):
    text = r.plaintext_credentials_warning(url, username)
    assert (text is not None) == warned, text
    if text:
        assert "http://" in text and "https://" in text and "secret" not in text


def test_index_settings_warning_reads_the_index_settings():
    warn = r.index_credentials_warning
    assert warn({"backend": "opensearch", "url": "http://search.example.com:9200", "username": "ann"})
    assert warn({"opensearch": {"url": "http://search.example.com:9200", "username": "ann"}})
    assert warn({"backend": "sqlite", "url": "http://search.example.com:9200", "username": "ann"}) is None
    # AWS SigV4 signs the requests instead of sending the user's password
    assert warn({"backend": "opensearch", "url": "http://search.example.com:9200", "username": "ann",
                 "aws_region": "eu-west-1"}) is None
    assert warn(None) is None and warn({"backend": "opensearch"}) is None


def test_log_records_are_redacted_messages_args_and_tracebacks():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    logger = logging.getLogger("mediaapp.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        r.install_log_redaction(handler)
        r.install_log_redaction(handler)  # idempotent
        assert sum(isinstance(f, r.RedactingFilter) for f in handler.filters) == 1
        logger.warning("cannot reach %s", "http://ann:s3cret@search.example.com:9200")
        try:
            raise ConnectionError("OpenSearch at http://ann:s3cret@search.example.com:9200: refused")
        except ConnectionError:
            logger.exception("background task failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    assert "s3cret" not in text
    assert "cannot reach http://ann:***@search.example.com:9200" in text
    assert "ConnectionError: OpenSearch at http://ann:***@search.example.com:9200: refused" in text
