"""Helpers: a Rekognition client wrapped in botocore's Stubber and handed to the engine.

The Stubber validates every request against the real service model (and
``expected_params`` when given) and every canned response against the
operation's output shape, then answers without any network traffic.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from botocore.stub import Stubber

from mediaapp.cloud import clients

#: (sample file under 4_rekognition, operation) of every real sample the engine must carry end to end.
SAMPLES = [
    ("awscli/detect-labels.json", "DetectLabels"),
    ("botocore_examples/DetectLabels.json", "DetectLabels"),
    ("awscli/detect-text.json", "DetectText"),
    ("moto_canned/DetectText.json", "DetectText"),
    ("awscli/recognize-celebrities.json", "RecognizeCelebrities"),
    ("asyncaws_tests/RecognizeCelebrities.json", "RecognizeCelebrities"),
]

METHOD = {"DetectLabels": "detect_labels", "DetectText": "detect_text",
          "RecognizeCelebrities": "recognize_celebrities"}


def sample(testdata: Path, rel: str) -> dict:
    """A real sample response."""
    return json.loads((testdata / "4_rekognition" / rel).read_text(encoding="utf-8"))


class StubbedRekognition:
    """A real boto3 Rekognition client under a Stubber, installed as the engine's client.

    ``calls`` counts the API calls the client was asked to make (stubbed or not).
    Other services (``s3``) get ``s3_factory(config)`` when given.
    """

    def __init__(self, s3_factory=None):
        self.s3_factory = s3_factory
        self.client = boto3.client("rekognition", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.calls: list[tuple[str, dict]] = []
        self.client.meta.events.register("provide-client-params.rekognition.*", self._count)
        self.stubber.activate()
        clients.set_client_factory(self._client)

    def _client(self, service: str, config):
        if service == "rekognition":
            return self.client
        if self.s3_factory is None:
            raise AssertionError(f"this test expects no {service} client (pass s3_factory)")
        return self.s3_factory(config)

    def _count(self, params, model, **kwargs):
        self.calls.append((model.name, dict(params)))

    def respond(self, operation: str, response: dict, expected: dict | None = None) -> None:
        """Queue ``response`` for the next ``operation`` (validated against its output shape)."""
        self.stubber.add_response(METHOD[operation], response, expected)

    def fail(self, operation: str, code: str, message: str = "", status: int = 400) -> None:
        """Queue a service error for the next ``operation`` (whatever its parameters)."""
        self.stubber.add_client_error(METHOD[operation], service_error_code=code, service_message=message,
                                      http_status_code=status)


def run_cli(argv: list[str]) -> int:
    """``mediaapp.cli.main.main(argv)`` with only the command modules that exist in this tree.

    (Other engineers' command modules may still be missing while the tree is
    being built; the parser imports every listed one.)
    """
    import importlib.util

    from mediaapp.cli import main as cli_main

    present = [m for m in cli_main.COMMAND_MODULES
               if importlib.util.find_spec(f"mediaapp.cli.commands.{m}") is not None]
    saved = cli_main.COMMAND_MODULES
    cli_main.COMMAND_MODULES = present
    try:
        return cli_main.main(argv)
    finally:
        cli_main.COMMAND_MODULES = saved
