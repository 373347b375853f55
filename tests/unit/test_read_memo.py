"""The read model's memo: one computation per key, dropped at once when the data moves on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from projections.read.memo import Generation, Memo


def counted(calls: list[int], value: int) -> Callable[[], int]:
    """A computation that notes each time it runs."""

    def compute() -> int:
        calls.append(value)
        return value

    return compute


def test_a_value_is_computed_once_until_the_generation_moves():
    generation = Generation()
    memo: Memo[str, int] = Memo(generation, ttl=60)
    calls: list[int] = []
    assert memo.get("a", counted(calls, 1)) == 1
    assert memo.get("a", counted(calls, 2)) == 1
    assert memo.peek("a") == 1 and len(calls) == 1
    generation.advance()
    assert memo.peek("a") is None
    assert memo.get("a", counted(calls, 3)) == 3


def test_a_value_derived_from_older_reads_is_not_kept():
    generation = Generation()
    memo: Memo[str, bytes] = Memo(generation, ttl=60)
    read_at = generation.value
    generation.advance()
    memo.remember("page", b"old", read_at)
    assert memo.peek("page") is None
    memo.remember("page", b"new", generation.value)
    assert memo.peek("page") == b"new"


def test_an_aged_value_is_served_while_another_caller_recomputes_it():
    memo: Memo[str, str] = Memo(Generation(), ttl=0.01)
    memo.get("k", lambda: "first")
    time.sleep(0.02)
    assert memo.peek("k") is None  # past its TTL
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "second"

    worker = threading.Thread(target=lambda: memo.get("k", slow))
    worker.start()
    assert started.wait(5)
    assert memo.get("k", lambda: "never") == "first"  # not blocked behind the recomputation
    release.set()
    worker.join(5)
    assert memo.peek("k") == "second"
