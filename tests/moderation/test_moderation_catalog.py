"""Which images were checked for unsafe content is a catalog question (``Catalog.answered``); the moderation
service asks it and holds no SQL of its own."""

from __future__ import annotations

import inspect

from mediaapp.core.types import Api, Query
from mediaapp.services import moderation


def test_checked_images_come_from_the_catalogs_answered(library):
    shas = {hit.path.rsplit("/", 1)[-1]: hit.sha256 for hit in library.search(Query()).hits}
    every = list(shas.values())
    asked = {shas["flagged.jpg"], shas["undecided.jpg"]}          # never.jpg: the stub could not check it
    assert library.catalog.answered(every, moderation.MODERATION_APIS) == asked
    assert moderation.checked(library.catalog, every) == asked
    assert library.catalog.answered(every, [Api.DETECT_TEXT.value]) == set()   # that API was not asked
    assert library.catalog.answered(every, []) == set() and library.catalog.answered([], ["x"]) == set()
    assert library.catalog.answered(every * 400, moderation.MODERATION_APIS) == asked   # chunked, no duplicates


def test_the_service_holds_no_sql():
    source = inspect.getsource(moderation)
    assert "current_analyses" not in source and ".execute(" not in source and ".read()" not in source
