"""``AnswerCache``: answers kept for one write generation and a short time, errors never, one request at a time."""

from __future__ import annotations

import threading

import pytest

from mediaapp.search.answer_cache import AnswerCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Asker:
    """``compute`` functions that count their calls and answer ``(question, call number)``."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, question: str):
        def compute():
            self.calls += 1
            return (question, self.calls)
        return compute


def test_kept_until_it_expires():
    clock, ask = Clock(), Asker()
    cache: AnswerCache[str, tuple] = AnswerCache(clock=clock)
    assert cache.get("q", ask("q"), 5.0) == ("q", 1)
    clock.now += 4.99
    assert cache.get("q", ask("q"), 5.0) == ("q", 1)
    clock.now += 0.01
    assert cache.get("q", ask("q"), 5.0) == ("q", 2)  # 5 s after it was asked: asked again
    assert cache.get("q", ask("q"), 0.0) == ("q", 3)  # max_age 0: never reused
    clock.now -= 1.0  # a clock that went back does not make an answer young
    assert cache.get("q", ask("q"), 5.0) == ("q", 4)


def test_a_write_drops_every_answer():
    clock, ask = Clock(), Asker()
    cache: AnswerCache[str, tuple] = AnswerCache(clock=clock)
    cache.get("a", ask("a"), 5.0)
    cache.get("b", ask("b"), 5.0)
    generation = cache.generation
    with cache.writing():
        assert cache.generation == generation + 1 and len(cache) == 0
        assert cache.get("a", ask("a"), 5.0) == ("a", 3)  # asked during the write ...
    assert cache.generation == generation + 2
    assert cache.get("a", ask("a"), 5.0) == ("a", 4)  # ... not reused after it
    with pytest.raises(OSError), cache.writing():
        raise OSError("a write that failed half-way")
    assert cache.get("a", ask("a"), 5.0) == ("a", 5)


def test_an_answer_asked_before_a_write_that_lands_after_it_is_not_kept():
    ask = Asker()
    cache: AnswerCache[str, tuple] = AnswerCache(clock=Clock())

    def slow():
        cache.invalidate()  # a write by another thread while the question is out
        return ask("q")()

    assert cache.get("q", slow, 5.0) == ("q", 1)  # the caller still gets it ...
    assert cache.get("q", ask("q"), 5.0) == ("q", 2)  # ... but nobody else


def test_errors_are_not_kept():
    ask = Asker()
    cache: AnswerCache[str, tuple] = AnswerCache(clock=Clock())

    def fail():
        ask("q")()
        raise ConnectionError("cluster down")

    with pytest.raises(ConnectionError):
        cache.get("q", fail, 5.0)
    assert len(cache) == 0
    assert cache.get("q", ask("q"), 5.0) == ("q", 2)
    assert cache.get("q", ask("q"), 5.0) == ("q", 2)


def test_bounded_least_recently_used_goes_first():
    ask = Asker()
    cache: AnswerCache[str, tuple] = AnswerCache(max_entries=2, clock=Clock())
    cache.get("a", ask("a"), 5.0)
    cache.get("b", ask("b"), 5.0)
    cache.get("a", ask("a"), 5.0)  # used: "b" is now the oldest
    cache.get("c", ask("c"), 5.0)
    assert len(cache) == 2
    assert cache.get("a", ask("a"), 5.0) == ("a", 1)
    assert cache.get("b", ask("b"), 5.0) == ("b", 4)
    with pytest.raises(ValueError):
        AnswerCache(max_entries=0)


@pytest.mark.parametrize("outcome", ["answer", "error"])
def test_concurrent_callers_share_one_computation(outcome):
    cache: AnswerCache[str, str] = AnswerCache(clock=Clock())
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []
    results: dict[str, object] = {}

    def compute(who):
        def run():
            calls.append(who)
            started.set()
            assert release.wait(30)
            if outcome == "error":
                raise ConnectionError(f"down ({who})")
            return f"answer of {who}"
        return run

    def ask(who):
        try:
            results[who] = cache.get("q", compute(who), 5.0)
        except ConnectionError as exc:
            results[who] = exc

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the first one's answer, not asking itself
    release.set()
    first.join(30)
    second.join(30)
    assert calls == ["first"]
    if outcome == "answer":
        assert results == {"first": "answer of first", "second": "answer of first"}
    else:
        assert str(results["first"]) == str(results["second"]) == "down (first)"
        assert cache.get("q", lambda: "asked again", 5.0) == "asked again"  # the failure is not kept
