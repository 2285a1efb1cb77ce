"""Read and mutate operations over a window's ``BackgroundRunner``, and what a mutation changed.

In the manner of Anki's ``QueryOp`` / ``CollectionOp``: a *query* reads on a
worker thread and hands its result to the GUI thread; only the newest run of
each key delivers (a view never shows an answer older than the one it asked
for last, and keeps no generation counter of its own). A *mutation* writes on
a worker, then announces an ``OpChanges`` saying what changed; each view
refreshes only what concerns it (the grid's boxes after a face was named, not
the whole search). One ``Operations`` belongs to one window: no app-wide
singleton.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from mediaapp.ui.background import BackgroundRunner, BackgroundTask, Generation, TaskContext

__all__ = ["OpChanges", "Operations"]


@dataclass(frozen=True)
class OpChanges:
    """What a mutation changed.

    ``library``: files came, went or were analysed (search, facets, folders,
    errors may all differ); ``people``: person names or face groups (person
    facets, the names on face boxes, the People panel); ``settings``: the
    library's settings (nothing shown depends on them today).
    """

    library: bool = False
    people: bool = False
    settings: bool = False


class Operations(QObject):
    """Queries and mutations of one window, run by its ``runner``.

    ``changed(OpChanges)`` is emitted on the GUI thread after each mutation
    succeeded (and by ``announce`` for changes made elsewhere).
    """

    changed = Signal(object)

    def __init__(self, runner: BackgroundRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self._latest: dict[str, Generation] = {}

    def query(self, key: str, fn: Callable[[TaskContext], Any], on_success: Callable[[Any], None],
              on_failure: Callable[[BaseException], None] | None = None, *,
              on_stale: Callable[[Any], None] | None = None, label: str | None = None,
              on_progress: Callable[[Any], None] | None = None) -> BackgroundTask:
        """Run the read ``fn(ctx)`` on a worker; ``on_success(result)`` gets it on the GUI thread.

        A result (or failure) of a run of ``key`` that a newer run of the same
        key superseded is not delivered; ``on_stale(result)`` gets it instead,
        to release what it holds (a library opened too late). ``on_progress``
        gets what ``fn`` reports through ``ctx.progress`` while its run is current.
        """
        generation = self._latest.setdefault(key, Generation()).bump()

        def current() -> bool:
            return self._latest[key].is_current(generation)

        def success(result: Any) -> None:
            if current():
                on_success(result)
            elif on_stale is not None:
                on_stale(result)

        def failure(exc: BaseException) -> None:
            if current() and on_failure is not None:
                on_failure(exc)

        def progress(value: Any) -> None:
            if current() and on_progress is not None:
                on_progress(value)

        return self.runner.run(fn, on_success=success, on_failure=failure if on_failure else None,
                               on_progress=progress if on_progress else None, label=label or key)

    def supersede(self, key: str) -> None:
        """Drop the result of the run of ``key`` in flight, if any (as a newer run would)."""
        self._latest.setdefault(key, Generation()).bump()

    def mutate(self, fn: Callable[[TaskContext], Any], changes: OpChanges | Callable[[Any], OpChanges],
               on_success: Callable[[Any], None] | None = None,
               on_failure: Callable[[BaseException], None] | None = None, *,
               label: str = "change") -> BackgroundTask:
        """Run the write ``fn(ctx)`` on a worker; on success, ``on_success(result)`` then ``changed(changes)``.

        ``changes`` is an ``OpChanges``, or a function of the result giving one.
        """
        def success(result: Any) -> None:
            if on_success is not None:
                on_success(result)
            self.changed.emit(changes(result) if callable(changes) else changes)

        return self.runner.run(fn, on_success=success, on_failure=on_failure, label=label)

    def announce(self, changes: OpChanges) -> None:
        """Emit ``changed(changes)`` for a change made outside ``mutate`` (an import's stages)."""
        self.changed.emit(changes)
