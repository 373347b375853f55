"""Preparing batches in worker processes, so that the next batch is parsed while this one commits.

    pool = PreparePool(ingestor.preparer, workers=1); await pool.ready()
    await pool.prepare(items) -> prepared (in order); pool.close()

Parsing, validating, normalising and sealing (`Preparer`) need no database and give plain picklable
values, so worker processes take them off the committing process, each a share of every batch: the
ingestion rate tends to max(prepare / workers, commit) instead of their sum. Ordering and exactly-once
are the caller's, as before: batches are still committed one after the other, in stream order, then
acknowledged.

A worker that dies (killed, out of memory, a crash in a C library) must not stall nor lose anything:
its batch is prepared again in this process, and the pool is started afresh for the next ones.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from adapters.ingest.ingestion import Incoming, Preparer
from adapters.logs import error_site

log = logging.getLogger(__name__)

_preparer: Preparer | None = None  # in a worker process: set by _start_worker


def default_workers() -> int:
    """One per core, at most 4. Preparing a message takes more CPU than committing it (this process,
    PostgreSQL and NATS together), so with a core left to the committing side alone, the single worker of
    a 2-core machine was the bottleneck and the other core partly idle; a worker per core keeps both busy."""
    return max(1, min(4, os.cpu_count() or 2))


PREPARE_TIMEOUT = 30.0  # seconds for a batch in the workers before it is prepared here instead


class PreparePool:
    def __init__(self, preparer: Preparer, workers: int | None = None) -> None:
        self.preparer = preparer  # also prepares here when a worker fails
        self.workers = default_workers() if workers is None else workers
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: this process has threads (connection pool, NATS, asyncio's executor), and
        # forking them can copy a lock held by one of them. Nor forkserver: its workers keep it alive,
        # so they could not notice that this process was killed.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker,
            initargs=(self.preparer.max_bytes, self.preparer.seal, self.preparer.geography.cache_dir),
        )

    async def ready(self) -> None:
        """Start every worker and let it load what it needs (geography, schemas: about a second) before the
        first batch."""
        started = [self._executor.submit(_prepare_batch, []) for _ in range(self.workers)]
        await asyncio.gather(*(asyncio.wrap_future(f) for f in started))

    async def prepare(self, items: Sequence[Incoming]) -> list:
        """`Preparer` results for `items`, in order: from a worker, else (should it fail) from this process."""
        executor = self._executor
        items = list(items)
        try:
            share = -(-len(items) // self.workers) or 1  # each worker a slice, in order
            slices = [items[i : i + share] for i in range(0, len(items), share)] or [items]
            futures = [asyncio.wrap_future(executor.submit(_prepare_batch, s)) for s in slices]
            # Bounded: a worker killed at the wrong moment can leave a process pool that never answers,
            # and ingestion must not wait on it forever.
            done = await asyncio.wait_for(asyncio.gather(*futures), PREPARE_TIMEOUT)
            prepared = [result for part in done for result in part]
            for result, item in zip(prepared, items, strict=True):
                result.incoming = item
            return prepared
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("preparing a batch failed in a worker process (%s): batch prepared here instead",
                      error_site(error))
            if executor is self._executor:  # the other batch in flight may have restarted it already
                self._restart()
        return await asyncio.to_thread(self.preparer.many, items)

    def worker_pids(self) -> list[int]:
        # ProcessPoolExecutor does not publish its processes; tests and operators need their pids.
        return [p.pid for p in list((self._executor._processes or {}).values()) if p.pid]

    def _restart(self) -> None:
        old, self._executor = self._executor, self._start()
        old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _start_worker(max_bytes: int, seal: Callable[[bytes], bytes], cache_dir: Path | None) -> None:
    from adapters.geography import get_geography

    global _preparer
    geography = get_geography(cache_dir)
    geography.warm_up()
    _preparer = Preparer(geography, max_bytes, seal)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A killed ingester (SIGKILL) cannot stop its workers: they notice they were orphaned and leave."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _prepare_batch(items: list[Incoming]) -> list:
    assert _preparer is not None
    prepared = _preparer.many(items)
    for result in prepared:
        # The caller has it: not sent back through the pipe (raw bytes, a datetime…); it puts it back.
        result.incoming = None  # type: ignore[assignment]
    return prepared
