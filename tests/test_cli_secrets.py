"""CLI output never shows the password of an OpenSearch URL, and warns before credentials go out unencrypted.

"Server down" is a closed port on 127.0.0.1; a remote host that does not
exist (the reserved ``.invalid`` domain) fails at once without a network.
"""

from __future__ import annotations

import pytest
from support import free_port

from mediaapp.cli.main import main
from mediaapp.settings import load_settings, save_settings

SECRET = "s3cret-Pa55"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def library_dir(tmp_path):
    root = tmp_path / "lib"
    main(["--library", str(root), "show", str(tmp_path / "nothing.jpg")])  # creates the library
    return root


def test_reindex_against_a_down_server_never_prints_the_password(library_dir, capsys):
    url = f"http://ann:{SECRET}@127.0.0.1:{free_port()}"
    code, out, err = run(capsys, "--library", library_dir, "reindex", "--to", "opensearch", "--url", url, "--quiet")
    assert code == 1
    assert SECRET not in out + err
    assert "reindex failed, settings unchanged" in err and "connection refused" in err
    assert "http://ann:***@127.0.0.1:" in err  # the user name stays, to say which account
    assert "warning" not in err  # loopback: nothing leaves the machine


def test_reindex_warns_before_sending_credentials_over_plain_http(library_dir, capsys, monkeypatch):
    monkeypatch.setenv("MEDIAAPP_OPENSEARCH_PASSWORD", SECRET)
    code, out, err = run(capsys, "--library", library_dir, "reindex", "--to", "opensearch", "--quiet",
                         "--url", "http://search.example.invalid:9200", "--username", "ann")
    assert code == 1 and SECRET not in out + err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("mediaapp: warning: ") and "search.example.invalid" in warnings[0]
    assert "unencrypted" in warnings[0] and "https://" in warnings[0]
    assert err.index("warning") < err.index("reindex failed")  # said before anything was sent

    code, out, err = run(capsys, "--library", library_dir, "reindex", "--to", "opensearch", "--quiet",
                         "--url", "https://search.example.invalid:9200", "--username", "ann")
    assert code == 1 and "warning" not in err and SECRET not in out + err


def test_commands_on_a_library_with_a_password_url_warn_once_and_never_print_it(library_dir, capsys):
    settings = load_settings(library_dir)
    settings["index"] = {"backend": "opensearch", "url": f"http://ann:{SECRET}@search.example.invalid:9200",
                         "timeout": 1}
    save_settings(library_dir, settings)
    code, out, err = run(capsys, "--library", library_dir, "search", "anything")
    assert code == 0 and SECRET not in out + err
    assert err.count("warning") == 1 and "'ann'" in err and "to search.example.invalid:" in err
    code, out, err = run(capsys, "--library", library_dir, "reindex", "--to", "opensearch", "--quiet")
    assert code == 1 and SECRET not in out + err
    assert err.count("warning") == 1  # the stored settings and the reindex target are the same: said once
