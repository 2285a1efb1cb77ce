"""Price table, estimates, and results imported from other pipelines."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest

from mediaapp.cloud.pricing import DEFAULT_PRICES, Budget, Ledger, PriceTable
from mediaapp.core.types import Query
from mediaapp.library import Library

from .stubs import sample


def test_bundled_price_table_has_date_source_and_tiers():
    prices = PriceTable.load()
    assert prices.path == str(DEFAULT_PRICES) and prices.date and "aws.amazon.com/rekognition/pricing" in prices.source
    assert prices.price("DetectLabels") == 0.001
    assert prices.price("DetectText", used_this_month=1_000_000) == 0.0008
    # 10 images straddling the first tier boundary: 4 at $0.001 and 6 at $0.0008
    assert prices.cost("RecognizeCelebrities", 10, used_this_month=999_996) == pytest.approx(0.0088)
    assert prices.group("CompareFaces") == prices.group("IndexFaces") == "group1"  # the face-collection APIs
    with pytest.raises(ValueError, match="no price for DetectCustomLabels"):
        prices.price("DetectCustomLabels")


def test_user_price_table_and_tiered_budget(tmp_path):
    data = json.loads(DEFAULT_PRICES.read_text())
    data["rekognition"]["groups"]["group2"]["tiers"] = [{"up_to_images": 2, "usd_per_image": 0.5},
                                                       {"up_to_images": None, "usd_per_image": 0.1}]
    (tmp_path / "prices.json").write_text(json.dumps(data))
    prices = PriceTable.load(tmp_path / "prices.json")
    ledger = Ledger(tmp_path / "usage.sqlite")
    budget = Budget(prices, ledger, per_run=1.15)
    spent = []
    for _ in range(3):
        usd = budget.reserve(["DetectText"])
        budget.commit(["DetectText"], usd, "ab" * 32)
        spent.append(usd)
    assert spent == [0.5, 0.5, 0.1]  # the third is past the tier's 2 images this month
    with pytest.raises(Exception, match=r"run budget of \$1\.15"):
        budget.reserve(["DetectLabels"])  # same group: $0.1 more would pass $1.15
    assert ledger.month_spend() == pytest.approx(1.1)


def _write(tmp_path, name, record):
    path = tmp_path / name
    path.write_text(json.dumps(record))
    return path


def test_results_from_another_pipeline_are_matched_validated_and_searchable(tmp_path, testdata):
    photos = tmp_path / "photos"
    photos.mkdir()
    a = shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "a.jpg")
    b = shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000005.jpg", photos / "b.jpg")
    sha_a = hashlib.sha256(open(a, "rb").read()).hexdigest()
    sha_b = hashlib.sha256(open(b, "rb").read()).hexdigest()
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        lib.import_paths([photos], engines=[])
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        # a flat record keyed by an S3 key naming the sha256, with two operations
        _write(inbox, "one.json", {"S3Object": {"Bucket": "x", "Name": f"elsewhere/{sha_a[:2]}/{sha_a}.jpg"},
                                   "DetectLabels": sample(testdata, "awscli/detect-labels.json"),
                                   "DetectText": sample(testdata, "awscli/detect-text.json")})
        # a bare awscli response, named by sha256
        _write(inbox, f"{sha_b}.json", sample(testdata, "awscli/recognize-celebrities.json"))
        # moto's canned labels as written in its source: not a valid response, refused
        _write(inbox, f"{sha_b}.labels.json", sample(testdata, "moto_canned/DetectLabels.json"))
        # nothing identifies the image
        _write(inbox, "anonymous.json", sample(testdata, "awscli/detect-text.json"))
        report = lib.results.import_([inbox])
        assert (report.stored, report.images) == (3, 2)
        reasons = dict((p.rsplit("/", 1)[-1], r) for p, r in report.problems)
        assert reasons.keys() == {f"{sha_b}.labels.json", "anonymous.json"}
        assert "invalid DetectLabels response" in reasons[f"{sha_b}.labels.json"] and "CssColor" in \
            reasons[f"{sha_b}.labels.json"]
        assert "no sha256" in reasons["anonymous.json"]
        assert lib.search(Query(labels=("Car",))).hits[0].sha256 == sha_a
        assert lib.search(Query(persons=("Celeb C",))).hits[0].sha256 == sha_b
        assert lib.results.import_([inbox]).already == 3  # importing twice stores nothing new

        est = lib.costs.estimate([photos], ["labels", "text", "celebrities"])
        # a: labels+text stored, celebrities missing; b: celebrities stored, labels+text missing
        assert (est.images, est.cached, est.calls) == (2, 3, 3)
        assert est.by_api == {"RecognizeCelebrities": 1, "DetectLabels": 1, "DetectText": 1}
        assert est.usd == pytest.approx(0.003) and est.s3_usd == 0  # no bucket: no S3 cost
        assert lib.costs.estimate([photos], ["labels"], engine_name="local").usd == 0
    finally:
        lib.close()


def test_every_bundled_price_has_a_date_a_source_url_and_says_what_was_verified():
    data = json.loads(DEFAULT_PRICES.read_text())
    sections = [*data["rekognition"]["groups"].values(), data["s3"]]
    for section in sections:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", section["date"])
        assert section["source"].startswith("https://aws.amazon.com/")
        assert isinstance(section["verified"], str) and section["verified"]
    prices = PriceTable.load()
    assert prices.source_of("DetectText")["source"].startswith("https://aws.amazon.com/rekognition/pricing/")
    assert prices.source_of("DetectLabels:IMAGE_PROPERTIES")["verified"].startswith("no")
    assert prices.s3_source["verified"].startswith("no")


def test_a_user_price_table_replaces_the_bundled_one_everywhere(tmp_path, testdata):
    from mediaapp.analysis.registry import create_engine

    data = json.loads(DEFAULT_PRICES.read_text())
    data["rekognition"]["groups"]["group2"].update(
        date="2030-01-01", source="https://example.org/my-negotiated-prices", verified="by me",
        tiers=[{"up_to_images": None, "usd_per_image": 0.5}])
    mine = tmp_path / "my-prices.json"
    mine.write_text(json.dumps(data))
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "a.jpg")
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engine_config": {"rekognition": {
        "prices_path": str(mine), "upload": "none"}}})
    try:
        est = lib.costs.estimate([photos], ["labels", "text"])
        assert est.usd == pytest.approx(1.0) and est.price_sources["DetectLabels"]["source"] == \
            "https://example.org/my-negotiated-prices"
        engine = create_engine("rekognition", lib.engine_config("rekognition"))
        assert engine.prices.price("DetectText") == 0.5  # the budget counts with the same prices
    finally:
        lib.close()


def test_estimate_before_an_import_follows_the_folder_rules(tmp_path, testdata):
    from mediaapp.cloud.config import folder_rules
    from mediaapp.services.costs import needs_cloud
    from mediaapp.settings import engines_for_paths

    photos = tmp_path / "photos"
    (photos / "cloud" / "but not this").mkdir(parents=True)
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "local.jpg")
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000005.jpg", photos / "cloud" / "a.jpg")
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000002.jpg", photos / "cloud" / "but not this" / "b.jpg")
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engines": ["local"], "apis": ["DetectText"]})
    try:
        assert not needs_cloud(lib.settings) and lib.costs.estimate_import([photos]) is None
        lib.update_settings(folder_engines={str(photos / "cloud"): ["rekognition", "local"],
                                            str(photos / "cloud" / "but not this") + "/": ["local"]})
        assert needs_cloud(lib.settings)
        est = lib.costs.estimate_import([photos])
        assert (est.images, est.calls, est.usd) == (1, 1, pytest.approx(0.001))  # only cloud/a.jpg
        assert lib.costs.estimate_import([photos / "cloud" / "but not this"]) is None
        # the library applies the same rules to the same files (Library.engines_for)
        lib.import_paths([photos], engines=[])
        rules = folder_rules(lib.settings)
        for asset in lib.assets(lib.catalog.all_sha256s()).values():
            assert lib.engines_for(asset) == engines_for_paths(asset.paths[:1], rules, ["local"])
    finally:
        lib.close()


def test_a_reanalysis_estimate_counts_stored_answers_as_calls(tmp_path, testdata):
    photos = tmp_path / "photos"
    photos.mkdir()
    a = shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "a.jpg")
    sha = hashlib.sha256(open(a, "rb").read()).hexdigest()
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        lib.import_paths([photos], engines=[])
        (tmp_path / "in").mkdir()
        _write(tmp_path / "in", f"{sha}.json", sample(testdata, "awscli/detect-text.json"))
        assert lib.results.import_([tmp_path / "in"]).stored == 1
        assert (lib.costs.estimate([photos], ["text"]).calls, lib.costs.estimate([photos], ["text"]).cached) == (0, 1)
        again = lib.costs.estimate([photos], ["text"], reanalyse=True)
        assert (again.calls, again.cached, again.usd) == (1, 0, pytest.approx(0.001))
    finally:
        lib.close()


def test_clear_engines_closes_their_ledgers_and_a_closed_ledger_reopens(tmp_path):
    from mediaapp.analysis import registry

    config = {"upload": "none", "ledger_path": str(tmp_path / "usage.sqlite")}
    engine = registry.create_engine("rekognition", config)
    assert registry.create_engine("rekognition", config) is engine  # cached per process
    engine.ledger.record("DetectText", 0.001)
    assert engine.ledger._conn is not None
    assert registry.clear_engines() >= 1
    assert engine.ledger._conn is None  # the SQLite connection is released
    assert registry.create_engine("rekognition", config) is not engine
    assert engine.ledger.month_spend() == pytest.approx(0.001)  # a straggler still works: it reopens
    engine.close()


def test_an_import_limited_to_some_analyses_is_estimated_for_those_only(tmp_path, testdata, monkeypatch):
    """The window's "Relabel now" imports with ``apis=["DetectLabels"]`` and ``engines=["local"]``: an estimate
    with an API list prices those APIs alone (the settings name three), and the download check asks only the
    engines and APIs named."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("000004.jpg", "000005.jpg"):
        shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages" / name, photos / name)
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                              "apis": ["DetectLabels", "DetectText", "DetectModerationLabels"]})
    try:
        every = lib.costs.estimate_import([photos])       # moderation is opt-in in the cloud unless named
        assert (every.images, every.calls, sorted(every.apis)) == (2, 4, ["DetectLabels", "DetectText"])
        labels = lib.costs.estimate_import([photos], apis=["DetectLabels"])
        assert (labels.images, labels.calls, labels.apis) == (2, 2, ["DetectLabels"])
        lib.update_settings(engines=["local"])
        monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path / "no-models-yet"))
        assert lib.pending_downloads()                                  # the object detector, for DetectLabels
        assert lib.pending_downloads(apis=["DetectText"]) == {}         # text's models ship with rapidocr
        lib.update_settings(engines=["rekognition"])
        assert lib.pending_downloads() == {}                            # the cloud downloads no model
        assert lib.pending_downloads(apis=["DetectLabels"], engines=["local"])   # a relabel's local run does
    finally:
        lib.close()
