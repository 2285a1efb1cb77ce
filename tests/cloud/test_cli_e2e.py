"""End to end through the CLI against a moto server (real HTTP for S3, STS and Rekognition)."""

from __future__ import annotations

import hashlib
import json
import shutil

import boto3
import pytest

from mediaapp.analysis.validate import validate_response
from mediaapp.cloud import clients

from .stubs import run_cli, sample

PHOTOS = ["1_objects/voc/VOC2007/JPEGImages/000002.jpg", "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg"]


class CallLog:
    """Counts the API calls of every client the app makes (the real clients, wrapped by the factory)."""

    def __init__(self):
        self.calls: list[str] = []
        clients.set_client_factory(self._make)

    def _make(self, service, config):
        client = clients.default_client(service, config)
        client.meta.events.register("provide-client-params", lambda model, **kw: self.calls.append(
            f"{service}:{model.name}"))
        return client

    def count(self, prefix: str) -> int:
        return sum(1 for c in self.calls if c.startswith(prefix))


@pytest.fixture
def photos(tmp_path, testdata):
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in PHOTOS:
        shutil.copy2(testdata / rel, folder / rel.rsplit("/", 1)[-1])
    return folder


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_with_rekognition_uploads_stores_canned_labels_and_never_pays_twice(
        s3_bucket, photos, tmp_path, testdata, capsys):
    endpoint, bucket, s3 = s3_bucket
    lib = str(tmp_path / "lib")
    log = CallLog()
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint, "--prefix", "media/lib1", "--upload", "original",
                    "--sse", "AES256", "--budget-month", "5"]) == 0
    saved = json.loads(capsys.readouterr().out)["rekognition"]
    assert saved["bucket"] == bucket and saved["upload"] == "original"

    assert run_cli(["--library", lib, "cloud", "test"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK  ") == 3 and "FAIL" not in out
    assert log.count("rekognition:DetectLabels") == 1  # the one-byte probe
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # the probe object was removed

    assert run_cli(["--library", lib, "estimate", str(photos), "--apis", "labels", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert (est["images"], est["calls"], est["cached"]) == (2, 2, 0)
    assert est["usd"] == pytest.approx(0.002) and est["s3_usd"] > 0

    log.calls.clear()
    assert run_cli(["--library", lib, "import", "--engine", "rekognition", "--apis", "labels", "--quiet",
                    str(photos)]) == 0
    assert "analysed 2" in capsys.readouterr().out
    assert log.count("rekognition:DetectLabels") == 2 and log.count("s3:PutObject") == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    expected = sorted(f"media/lib1/{_sha(p)[:2]}/{_sha(p)}.jpg" for p in photos.iterdir())
    assert keys == expected
    head = s3.head_object(Bucket=bucket, Key=expected[0])
    assert head["ServerSideEncryption"] == "AES256" and head["Metadata"]["name"].endswith(".jpg")

    target = photos / "000002.jpg"
    assert run_cli(["--library", lib, "show", str(target), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    labels = shown["DetectLabels"]
    validate_response("DetectLabels", labels)
    canned = sample(testdata, "moto_canned/DetectLabels.json")
    assert [l["Name"] for l in labels["Labels"]] == ["Mobile Phone"] == [l["Name"] for l in canned["Labels"]]
    assert labels["Labels"][0]["Instances"][0]["BoundingBox"] == canned["Labels"][0]["Instances"][0]["BoundingBox"]
    assert run_cli(["--library", lib, "search", "--label", "Phone"]) == 0  # found through Parents
    assert len(capsys.readouterr().out.split()) == 2

    log.calls.clear()
    assert run_cli(["--library", lib, "import", "--engine", "rekognition", "--apis", "labels", "--quiet",
                    str(photos)]) == 0
    assert "cached 2" in capsys.readouterr().out
    assert log.count("rekognition:") == 0 and log.count("s3:") == 0

    assert run_cli(["--library", lib, "estimate", str(photos), "--apis", "labels", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert (est["calls"], est["cached"], est["usd"]) == (0, 2, 0.0)
    assert est["month_spent"] == pytest.approx(0.002)
    assert run_cli(["--library", lib, "cloud", "usage"]) == 0
    assert "$0.0020 spent; DetectLabels 2" in capsys.readouterr().out

    # results made here are imported into another library: its import makes no call at all
    assert run_cli(["--library", lib, "export", "--format", "rekognition", str(tmp_path / "out")]) == 0
    assert "exported 2 responses of 2 images" in capsys.readouterr().out
    record = json.loads((tmp_path / "out" / f"{_sha(target)}.json").read_text())
    assert record["s3_key"] in expected and record["responses"]["DetectLabels"][0]["Response"] == labels
    other = str(tmp_path / "lib2")
    assert run_cli(["--library", other, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint, "--upload", "proxy"]) == 0
    assert run_cli(["--library", other, "import-results", str(tmp_path / "out")]) == 0
    assert "stored 2 responses for 2 images" in capsys.readouterr().out
    log.calls.clear()
    assert run_cli(["--library", other, "import", "--engine", "rekognition", "--apis", "labels", "--quiet",
                    str(photos)]) == 0
    assert "cached 2" in capsys.readouterr().out and log.count("rekognition:") == 0


def test_proxy_upload_deleted_after_analysis(s3_bucket, photos, tmp_path, capsys):
    endpoint, bucket, s3 = s3_bucket
    lib = str(tmp_path / "lib")
    log = CallLog()
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint, "--upload", "proxy", "--proxy-max-side", "256",
                    "--delete-after", "--sse", "aws:kms"]) == 0
    assert run_cli(["--library", lib, "import", "--engine", "rekognition", "--apis", "labels,text", "--quiet",
                    str(photos)]) == 0
    assert "analysed 4" in capsys.readouterr().out
    puts = [c for c in log.calls if c == "s3:PutObject"]
    assert len(puts) == 2 and log.count("s3:DeleteObject") == 2
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_connection_failures_are_explained(s3_bucket, tmp_path, monkeypatch, capsys):
    endpoint, _bucket, _s3 = s3_bucket
    lib = str(tmp_path / "lib")
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", "no-such-bucket-here", "--region",
                    "us-east-1", "--endpoint-url", endpoint]) == 0
    capsys.readouterr()
    assert run_cli(["--library", lib, "cloud", "test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL bucket: s3://no-such-bucket-here: there is no bucket with this name" in out
    assert "OK   credentials" in out and "OK   rekognition" in out
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    clients.set_client_factory(None)
    assert run_cli(["--library", lib, "cloud", "test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL credentials: no AWS credentials found" in out and "skipped" in out


def test_invalid_settings_are_refused(tmp_path, capsys):
    lib = str(tmp_path / "lib")
    assert run_cli(["--library", lib, "cloud", "config", "--sse", "AES256", "--kms-key-id", "k"]) == 2
    assert "only applies with sse aws:kms" in capsys.readouterr().err
    assert run_cli(["--library", lib, "cloud", "config", "--engines", "local,rekognition", "--apis",
                    "labels,celebrities"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["engines"] == ["local", "rekognition"] and shown["apis"] == ["DetectLabels", "RecognizeCelebrities"]


def test_cloud_upload_counts_files_and_bytes_and_skips_what_is_there(s3_bucket, photos, tmp_path, capsys):
    from mediaapp.cloud.config import load_config
    from mediaapp.library import Library
    from mediaapp.services.upload import upload_images
    from mediaapp.tasks import CancelToken

    endpoint, bucket, s3 = s3_bucket
    lib = str(tmp_path / "lib")
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint, "--upload", "original"]) == 0
    capsys.readouterr()
    assert run_cli(["--library", lib, "cloud", "upload", "--quiet", str(photos)]) == 0  # nothing imported yet
    assert capsys.readouterr().out.startswith("uploaded 0, already there 0, failed 0")
    library = Library(lib, settings={"workers": 1})
    try:
        library.import_paths([photos], engines=[])
        images = library.queries.catalogued_images([photos])
        config = load_config(library.settings)
    finally:
        library.close()
    assert len(images) == 2
    cancel = CancelToken()
    cancel.cancel()
    assert upload_images(config, images, cancel=cancel).uploaded == 0  # cancelled before anything started
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert run_cli(["--library", lib, "cloud", "upload", "--quiet", str(photos)]) == 0
    size = sum(p.stat().st_size for p in photos.iterdir())
    assert capsys.readouterr().out.startswith(f"uploaded 2, already there 0, failed 0, {size} bytes sent")
    assert run_cli(["--library", lib, "cloud", "upload", "--quiet", str(photos)]) == 0
    assert capsys.readouterr().out.startswith("uploaded 0, already there 2, failed 0, 0 bytes sent")


def test_usage_says_no_calls_for_an_empty_month(tmp_path, capsys):
    assert run_cli(["--library", str(tmp_path / "lib"), "cloud", "usage", "--month", "2020-01"]) == 0
    assert capsys.readouterr().out.strip() == "2020-01: $0.0000 spent; no calls"


def test_folder_rules_are_set_shown_and_removed(tmp_path, capsys):
    lib = str(tmp_path / "lib")
    phone = tmp_path / "phone"
    assert run_cli(["--library", lib, "cloud", "config", "--folder", str(phone) + "/", "--engine", "rekognition",
                    "--engine", "local"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["folder_engines"] == {str(phone): ["rekognition", "local"]} and shown["engines"] == ["local"]
    assert run_cli(["--library", lib, "cloud", "config", "--folder", str(tmp_path / "scans"), "--engine",
                    "local", "--engines", "rekognition"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["folder_engines"] == {str(phone): ["rekognition", "local"], str(tmp_path / "scans"): ["local"]}
    assert shown["engines"] == ["rekognition"]
    assert run_cli(["--library", lib, "cloud", "config"]) == 0  # shown without changes
    assert json.loads(capsys.readouterr().out)["folder_engines"] == shown["folder_engines"]
    assert run_cli(["--library", lib, "cloud", "config", "--remove-folder", str(phone)]) == 0
    assert json.loads(capsys.readouterr().out)["folder_engines"] == {str(tmp_path / "scans"): ["local"]}

    for argv, words in ((["--folder", str(phone), "--engine", "gpu"], "not gpu"),
                        (["--engine", "local"], "--engine needs --folder"),
                        (["--folder", str(phone)], "needs at least one --engine"),
                        (["--remove-folder", str(phone)], "no folder rule for"),
                        (["--folder", str(phone), "--engine", "local", "--sse", "AES256", "--kms-key-id", "k"],
                         "only applies with sse aws:kms")):
        assert run_cli(["--library", lib, "cloud", "config", *argv]) == 2
        assert words in capsys.readouterr().err
    saved = json.loads((tmp_path / "lib" / "settings.json").read_text())
    assert saved["folder_engines"] == {str(tmp_path / "scans"): ["local"]}  # nothing of the refused runs


def test_import_shows_the_upload_bytes_and_files(s3_bucket, photos, tmp_path, capsys):
    endpoint, bucket, _s3 = s3_bucket
    lib = str(tmp_path / "lib")
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint, "--upload", "original"]) == 0
    capsys.readouterr()
    assert run_cli(["--library", lib, "import", "--engine", "rekognition", "--apis", "text", str(photos)]) == 0
    captured = capsys.readouterr()
    size = sum(p.stat().st_size for p in photos.iterdir())
    from mediaapp.cloud.transfers import format_bytes

    assert f"uploaded 2 files ({format_bytes(size)} sent)" in captured.out
    assert "upload:" in captured.err and "files=2" in captured.err  # the bytes bar, with the file count
    assert run_cli(["--library", lib, "import", "--engine", "rekognition", "--apis", "labels", str(photos)]) == 0
    assert "uploaded 0 files (0 B sent), 2 already in the bucket" in capsys.readouterr().out


def test_connection_test_explains_a_rekognition_access_denial(s3_bucket, tmp_path, capsys):
    from botocore.stub import Stubber

    endpoint, bucket, _s3 = s3_bucket
    lib = str(tmp_path / "lib")
    assert run_cli(["--library", lib, "cloud", "config", "--bucket", bucket, "--region", "us-east-1",
                    "--endpoint-url", endpoint]) == 0
    capsys.readouterr()
    rekognition = boto3.client("rekognition", region_name="us-east-1")
    stubber = Stubber(rekognition)
    stubber.add_client_error("detect_labels", "AccessDeniedException", "User: arn:aws:iam::123456789012:user/x is "
                             "not authorized to perform: rekognition:DetectLabels", 400)
    stubber.activate()
    clients.set_client_factory(lambda service, config: rekognition if service == "rekognition"
                               else clients.default_client(service, config))
    assert run_cli(["--library", lib, "cloud", "test"]) == 1
    out = capsys.readouterr().out
    assert "OK   credentials" in out and "OK   bucket" in out
    assert ("FAIL rekognition: your AWS identity is not allowed to call Rekognition: its IAM policy needs "
            "rekognition:DetectLabels, rekognition:DetectText and rekognition:RecognizeCelebrities") in out
    assert "[AccessDeniedException: User: arn:aws:iam::123456789012:user/x is not authorized" in out


def test_connection_test_reads_the_legacy_eu_location_as_eu_west_1(tmp_path, moto_server):
    from botocore.stub import ANY, Stubber

    from mediaapp.cloud.config import CloudConfig
    from mediaapp.services.connection import check_connection

    s3 = boto3.client("s3", region_name="eu-west-1")
    rekognition = boto3.client("rekognition", region_name="eu-west-1")
    with Stubber(s3) as s3_stub, Stubber(rekognition) as rek_stub:
        s3_stub.add_response("head_bucket", {}, {"Bucket": "old-bucket"})
        s3_stub.add_response("get_bucket_location", {"LocationConstraint": "EU"}, {"Bucket": "old-bucket"})
        s3_stub.add_response("put_object", {}, {"Bucket": "old-bucket", "Key": ANY, "Body": ANY,
                                                "ServerSideEncryption": "AES256"})
        s3_stub.add_response("delete_object", {}, {"Bucket": "old-bucket", "Key": ANY})
        rek_stub.add_client_error("detect_labels", "InvalidImageFormatException", "bad image")
        clients.set_client_factory(lambda service, config: {"s3": s3, "rekognition": rekognition}.get(service)
                                   or clients.default_client(service, config))
        checks = check_connection(CloudConfig(bucket="old-bucket", region="eu-west-1", endpoint_url=moto_server))
    bucket = next(c for c in checks if c.name == "bucket")
    assert bucket.ok and bucket.message == "s3://old-bucket (eu-west-1) can be written and read"
    assert all(c.ok for c in checks)
