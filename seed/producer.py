"""Generates the large cluster's chunks in a child process, so generation and writing use both cores.

Building and validating the records costs as much Python time as handing them to the driver; in one
process the two share one interpreter lock. The child runs the same deterministic generator from the same
seed and passes finished chunks through a bounded queue, so at most a few chunks are in memory at once.
The child is spawned, which imports the parent's main module again: a script that calls ``load_large``
must keep its top-level work under ``if __name__ == "__main__":`` (console-script entry points do).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from multiprocessing.context import SpawnProcess
from types import TracebackType
from typing import Final

from seed.cluster import Batch
from seed.large import LargeCluster
from seed.plan import event_batches

QUEUE_CHUNKS: Final = 3
_POLL_SECONDS: Final = 1.0

Chunk = tuple[list[Batch], int]  # the chunk's write batches in order, and the days done so far


def _generate(seed: int, days: int | None, batch_size: int, out: multiprocessing.Queue[Chunk | None]) -> None:
    large = LargeCluster(seed, days=days)
    site_firms = {site.gln: site.firm_id for site in large.directory.sites}
    for events, days_done in large.chunks(lots_per_chunk=batch_size * 2):
        batches = event_batches(events, site_firms=site_firms, size=batch_size, earlier_lots_known=True)
        out.put((list(batches), days_done))
    out.put(None)


class ChunkProducer:
    """The large cluster's event batches, made and planned by a child process; ``async with``, then ``next_chunk``."""

    def __init__(self, seed: int, *, days: int | None, batch_size: int) -> None:
        # spawn, not fork: the parent holds the driver's threads and sockets, which a fork would copy.
        context = multiprocessing.get_context("spawn")
        self._queue: multiprocessing.Queue[Chunk | None] = context.Queue(maxsize=QUEUE_CHUNKS)
        self._process: SpawnProcess = context.Process(
            target=_generate, args=(seed, days, batch_size, self._queue), name="seed-generator", daemon=True
        )

    async def __aenter__(self) -> ChunkProducer:
        self._process.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process.is_alive():
            self._process.terminate()
        await asyncio.to_thread(self._process.join, 10)
        self._queue.close()

    async def next_chunk(self) -> Chunk | None:
        """The next chunk's batches with the days done so far, or None when the generator has finished."""
        while True:
            try:
                return await asyncio.to_thread(self._queue.get, True, _POLL_SECONDS)
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError(
                        f"the seed generator process stopped unexpectedly (exit code {self._process.exitcode})"
                    ) from None
