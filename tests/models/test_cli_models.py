"""``mediaapp models list`` / ``mediaapp models fetch``."""

from __future__ import annotations

import argparse
import json

import pytest

from mediaapp.cli.commands import models as models_cmd
from mediaapp.models import fetch as fetch_mod


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mediaapp")
    models_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args, None)


def test_list_shows_cache_state(model_cache, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(model_cache))
    assert _run(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "nanodet (default): nanodet-416@human-models-3.0.4, 416x416 input, cached" in out
    assert "centernet: mb3-centernet-512@human-models-3.0.4, 512x512 input, cached" in out
    assert _run(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in doc["models"]] == ["nanodet", "centernet"]


def test_fetch_cached_model_needs_no_network(model_cache, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(model_cache))
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    assert _run(["models", "fetch"]) == 0
    assert "nanodet: nanodet-416@human-models-3.0.4 ready at" in capsys.readouterr().out


def test_fetch_failures_exit_1_with_a_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path))
    assert _run(["models", "fetch", "yolo"]) == 1
    assert "unknown model 'yolo'" in capsys.readouterr().err
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: ["http://127.0.0.1:9/none.tgz"])
    assert _run(["models", "fetch", "centernet"]) == 1
    err = capsys.readouterr().err
    assert "mediaapp models fetch centernet" in err and "127.0.0.1:9" in err
    assert _run(["models", "list"]) == 0
    assert "not downloaded" in capsys.readouterr().out
