"""The command line's one-time line about photos an older label model labelled (issue 10, existing libraries).

``say_once(library)`` prints ``RelabelOffer.cli_line`` to stderr the first
time ``import`` or ``search`` runs on a library after its label model changed
(``mediaapp.services.relabel``), then remembers it in ``settings.json``
(``relabel_notice["cli"]``) so it is not said again for that model.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any, TextIO

__all__ = ["say_once"]


def say_once(library: Any, stream: TextIO | None = None) -> bool:
    """Print the relabelling line to ``stream`` (stderr) once per library and label model; True when printed.

    A catalog or settings file that cannot be read or written prints one
    ``mediaapp: cannot ...`` line instead and returns False; the command
    carries on (the notice is then tried again next time).
    """
    out = stream if stream is not None else sys.stderr
    try:
        offer = library.relabel.notice("cli")
        if offer is None:
            return False
        print(offer.cli_line(), file=out)
        library.relabel.mark_shown("cli", offer)
        return True
    except (OSError, ValueError, sqlite3.Error) as exc:
        print(f"mediaapp: cannot check for photos labelled by an older model: {exc}", file=out)
        return False
