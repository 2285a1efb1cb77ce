"""The worker pool: results come back in the caller's thread, crashes fail one task, cancel stops."""

import os
import threading

from mediaapp.tasks import CancelToken, WorkerPool


def square_or_crash(n: int) -> int:
    """Square ``n``; ``n == 13`` kills its worker process the way a native crash would."""
    if n == 13:
        os._exit(1)
    if n == 7:
        raise ValueError("seven is bad input")
    return n * n


def test_results_failures_and_a_crashed_worker():
    pool = WorkerPool(2)
    results, failures = {}, {}
    caller = threading.get_ident()
    threads = set()

    def on_result(item, result):
        threads.add(threading.get_ident())
        results[item[0]] = result

    try:
        finished = pool.run(square_or_crash, [(n,) for n in range(20)], on_result,
                            lambda item, exc: failures.__setitem__(item[0], str(exc)))
    finally:
        pool.close()
    assert finished is True
    assert threads == {caller}
    assert set(failures) == {7, 13}
    assert "seven is bad input" in failures[7] and "crashed" in failures[13]
    # Tasks that shared the pool with the crash were retried and succeeded.
    assert results == {n: n * n for n in range(20) if n not in (7, 13)}


def test_a_pool_that_broke_before_a_submission_runs_every_item_on_a_new_one():
    """A worker can die between two submissions (``submit`` then raises ``BrokenProcessPool``): the item not yet
    submitted must still run, on a new pool, and so must the rest."""
    import time
    from concurrent.futures.process import BrokenProcessPool

    pool = WorkerPool(2)
    results, failures = {}, {}
    try:
        broken = pool.processes()
        broken.submit(square_or_crash, 13)              # a worker dies: the executor breaks
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                broken.submit(square_or_crash, 1).result()
            except BrokenProcessPool:
                break
        else:
            raise AssertionError("the pool never broke")
        finished = pool.run(square_or_crash, [(n,) for n in range(20, 26)],
                            lambda item, result: results.__setitem__(item[0], result),
                            lambda item, exc: failures.__setitem__(item[0], str(exc)))
    finally:
        pool.close()
    assert finished is True and failures == {}
    assert results == {n: n * n for n in range(20, 26)}


def test_cancel_stops_submitting():
    cancel = CancelToken()
    done = []

    def on_result(item, result):
        done.append(result)
        if len(done) == 3:
            cancel.cancel()

    pool = WorkerPool(2)
    try:
        finished = pool.run(square_or_crash, [(n,) for n in range(100, 400)], on_result,
                            lambda item, exc: None, cancel=cancel, threads=2)
    finally:
        pool.close()
    assert finished is False
    assert 3 <= len(done) < 20


def sleep_or_square(n: int) -> int:
    """Square ``n``; ``n == 5`` hangs (a decoder stuck on a pathological file)."""
    import time
    if n == 5:
        time.sleep(3600)
    return n * n


def test_a_task_past_its_timeout_is_stopped_and_the_rest_goes_on():
    import time

    pool = WorkerPool(2)
    results, failures = {}, {}
    began = time.monotonic()
    try:
        finished = pool.run(sleep_or_square, [(n,) for n in range(10)],
                            lambda item, result: results.__setitem__(item[0], result),
                            lambda item, exc: failures.__setitem__(item[0], exc),
                            timeout=lambda item: 3.0)
    finally:
        pool.close()
    assert finished is True
    assert time.monotonic() - began < 60
    assert set(failures) == {5} and isinstance(failures[5], TimeoutError)
    assert "took too long" in str(failures[5])
    # the tasks that shared the killed workers ran again and succeeded
    assert results == {n: n * n for n in range(10) if n != 5}


def sleep_then_square(n: int, seconds: float) -> int:
    """Square ``n`` after ``seconds`` of (healthy) work."""
    import time
    time.sleep(seconds)
    return n * n


def test_time_waiting_for_a_free_worker_does_not_count_against_the_timeout():
    """With one worker busy for 4 s, a quick task queued behind it must not time out at 2 s."""
    pool = WorkerPool(1)
    results, failures = {}, {}
    try:
        pool.run(sleep_then_square, [(1, 4.0), (2, 0.1), (3, 0.1)],
                 lambda item, result: results.__setitem__(item[0], result),
                 lambda item, exc: failures.__setitem__(item[0], exc),
                 timeout=lambda item: 2.0 if item[1] < 1 else 10.0)
    finally:
        pool.close()
    assert failures == {}
    assert results == {1: 1, 2: 4, 3: 9}
