"""settings.json as a checked, frozen Settings: earlier files keep opening; a bad value is named."""

from __future__ import annotations

import json

import pytest

from mediaapp.cli.main import main
from mediaapp.settings import DEFAULTS, Settings, SettingsError, read_settings, save_settings


def test_defaults_live_in_one_place_and_round_trip(tmp_path):
    assert Settings().to_dict() == DEFAULTS
    custom = Settings().replace(engines=["local", "rekognition"], min_confidence=70, folder_engines={"/a": ["local"]},
                                a_key_from_a_newer_version={"kept": True})
    save_settings(tmp_path, custom)
    again = read_settings(tmp_path)
    assert again == custom and again.extra == {"a_key_from_a_newer_version": {"kept": True}}
    assert again.engines == ("local", "rekognition") and again.folder_engines == {"/a": ("local",)}


def test_files_written_by_earlier_versions_open_as_they_did(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({
        "workers": 0, "max_labels": 0,              # 0 meant "one per core" / "the engine's default"
        "folder_engines": None, "index": None,       # null tables
        "face_match_threshold": "85",               # edited by hand, as the README invites
        "min_confidence": 40}))
    s = read_settings(tmp_path)
    assert (s.workers, s.max_labels, s.folder_engines, s.index) == (None, None, {}, {"backend": "sqlite"})
    assert (s.face_match_threshold, s.min_confidence) == (85.0, 40.0)


@pytest.mark.parametrize(("saved", "named"), [
    ({"min_confidence": "high"}, "setting 'min_confidence' must be a number from 0 to 100, not 'high'"),
    ({"min_confidence": 150}, "setting 'min_confidence' must be a number from 0 to 100, not 150"),
    ({"engines": "local"}, "setting 'engines' must be a list of names, not 'local'"),
    ({"workers": -2}, "setting 'workers' must be a whole number of at least 1 or null, not -2"),
    ({"engine_config": {"rekognition": 3}}, "setting 'engine_config.rekognition' must be a JSON object"),
])
def test_a_bad_value_is_refused_with_its_key_named_and_the_cli_says_so(tmp_path, capsys, saved, named):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "settings.json").write_text(json.dumps(saved))
    with pytest.raises(SettingsError, match="settings.json: " + named.replace("(", r"\(").replace(")", r"\)")):
        read_settings(lib)
    assert main(["--library", str(lib), "search", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mediaapp: error: ") and named in err and "Traceback" not in err


def test_a_file_that_is_not_json_is_named(tmp_path):
    (tmp_path / "settings.json").write_text("{bad")
    with pytest.raises(SettingsError, match=r"settings\.json is not valid JSON"):
        read_settings(tmp_path)


def test_a_password_in_the_search_servers_url_is_never_written_to_settings_json(tmp_path):
    save_settings(tmp_path, {"index": {"backend": "opensearch", "url": "https://ann:s3cret@search.example:9200",
                                       "password": "pa55", "opensearch": {"url": "http://bob:hunter2@10.0.0.5:9200/",
                                                                          "password": "pa66"}}})
    written = (tmp_path / "settings.json").read_text()
    assert "s3cret" not in written and "hunter2" not in written and "pa5" not in written and "pa6" not in written
    stored = json.loads(written)["index"]
    assert stored["url"] == "https://ann@search.example:9200"          # the user name stays
    assert stored["opensearch"]["url"] == "http://bob@10.0.0.5:9200/"
