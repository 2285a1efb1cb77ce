"""``core.text.human_size``: the one byte-count formatter of the detail view, the Duplicates view and the CLI."""

from __future__ import annotations

import pytest

from mediaapp.core.text import human_size


@pytest.mark.parametrize(("n", "text"), [
    (None, ""), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"),
    (1024 ** 2 * 1.25, "1.2 MB"),              # binary units: 1 MB = 1024 KB (1.25 rounds half to even)
    (1_000_000, "976.6 KB"),                   # not decimal: a million bytes is under 1 MB
    (3 * 1024 ** 3, "3.0 GB"), (5 * 1024 ** 4, "5.0 TB"), (2048 * 1024 ** 4, "2048.0 TB"),
])
def test_sizes_read_in_binary_units(n, text):
    assert human_size(None if n is None else int(n)) == text


def test_the_views_and_the_command_line_share_it():
    from mediaapp.cli.commands import duplicates as cli_duplicates
    from mediaapp.ui import detail, duplicates

    assert detail.human_size is duplicates.human_size is cli_duplicates.human_size is human_size
