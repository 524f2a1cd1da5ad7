"""``smppfast bench --asyncio`` / ``--uvloop``: the same measurement through ``AsyncClient``.

Without ``--batch``, each bind gets ``--tasks`` tasks (default: its window) that each await
``submit`` in a loop, the way an asyncio service sends. With ``--batch B``, one task per bind
sends ``submit_many`` batches and settles the futures from the head of a bounded FIFO.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import sys
import time
from typing import Any, Coroutine, Sequence, TypeVar

from .._codec import Pdu
from ..aio import AsyncClient, wait_all
from ..pool import AsyncPool
from ..errors import CommandStatusError
from ._common import CliError, bind_errors
from .bench import Tally, _progress_line, _report, _result, sender_options

_T = TypeVar("_T")


class _AsyncSubmitter(Tally):
    """One submitting task's share of -n, and what it saw."""

    def __init__(self, client: AsyncClient | AsyncPool, templates: Sequence[Pdu], count: int, batch: int, limit: int) -> None:
        super().__init__(count)
        self.client = client
        self.templates = templates
        self.batch = batch
        self.limit = limit

    async def run(self) -> None:
        try:
            if self.batch > 1:
                await self._run_batches()
            else:
                await self._run_awaiting()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.abort(err)

    async def _run_awaiting(self) -> None:
        submit = self.client.submit
        templates = self.templates
        k = len(templates)
        for i in range(self.count):
            if self.stopping:
                return
            self.sent += 1
            try:
                await submit(copy.copy(templates[i % k]))
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.record(err)
                if not isinstance(err, CommandStatusError) and not self.client.bound:
                    # The link is gone (and not coming back): stop, as the threaded bench does.
                    if not self.stopping:
                        self.aborted = f"{type(err).__name__}: {err}"
                    return
            else:
                self.record(None)

    async def _run_batches(self) -> None:
        # Whole batches settle together: wait_all waits on one future per batch, not on each.
        pending: collections.deque[Sequence[asyncio.Future[Any]]] = collections.deque()
        held = 0
        templates = self.templates
        k = len(templates)
        try:
            while self.sent < self.count and not self.stopping:
                n = min(self.batch, self.count - self.sent)
                base = self.sent
                batch = await self.client.submit_many([copy.copy(templates[(base + j) % k]) for j in range(n)])
                pending.append(batch)
                held += len(batch)
                self.sent += n
                while held > self.limit - self.batch:
                    held -= await self._settle_oldest(pending)
        finally:
            while pending and not self.stopping:
                await self._settle_oldest(pending)

    async def _settle_oldest(self, pending: collections.deque[Sequence[asyncio.Future[Any]]]) -> int:
        batch = await wait_all(pending.popleft())
        for fut in batch:
            self.record(asyncio.CancelledError() if fut.cancelled() else fut.exception())
        return len(batch)


def run_async_bench(args: argparse.Namespace, where: list[tuple[str, int]], password: str, target: str,
                    templates: Sequence[Pdu]) -> int:
    driver = "uvloop" if args.uvloop else "asyncio"
    loop_factory: Any = None
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            raise CliError("--uvloop needs uvloop: pip install 'smppfast[uvloop]'") from None
        loop_factory = uvloop.new_event_loop
    return _run(_bench(args, where, password, target, templates, driver), loop_factory)


def _run(main: Coroutine[Any, Any, _T], loop_factory: Any) -> _T:
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(main)
    loop = loop_factory() if loop_factory else asyncio.new_event_loop()  # pragma: no cover - 3.10
    try:  # pragma: no cover - 3.10
        return loop.run_until_complete(main)
    finally:  # pragma: no cover - 3.10
        loop.close()


async def _bench(args: argparse.Namespace, where: list[tuple[str, int]], password: str, target: str,
                 templates: Sequence[Pdu], driver: str) -> int:
    binds = len(where) * args.binds
    options = sender_options(args, password, binds)
    sender: AsyncClient | AsyncPool
    if binds == 1:
        sender = AsyncClient(*where[0], **options)
        members: list[AsyncClient] = [sender]
    else:  # as the threaded bench: a pool, without reconnect so that failures show
        sender = AsyncPool(where, binds=args.binds, reconnect=False, **options)
        members = sender.members
    opened: AsyncClient | AsyncPool | None = None
    try:
        with bind_errors(target):
            await sender.connect()
        opened = sender
        if args.batch > 1:
            per_bind = 1
        else:
            per_bind = args.tasks or args.window
        n_tasks = per_bind * binds
        counts = [args.n // n_tasks + (1 if i < args.n % n_tasks else 0) for i in range(n_tasks)]
        # A batching task may hold twice the window: it never starves the window while it settles.
        limit = max(2 * args.window, args.batch + 1)
        submitters = [_AsyncSubmitter(sender, templates, counts[i], args.batch, limit) for i in range(n_tasks)]
        show = sys.stderr.isatty() and not args.json and not args.no_progress
        interrupted = False
        start = time.perf_counter()
        tasks = [asyncio.ensure_future(s.run()) for s in submitters]
        try:
            while True:
                done, _ = await asyncio.wait(tasks, timeout=0.2)
                if show:
                    sys.stderr.write(_progress_line(sum(s.done for s in submitters), args.n, time.perf_counter() - start))
                    sys.stderr.flush()
                if len(done) == len(tasks):
                    break
        except asyncio.CancelledError:
            # Ctrl-C (asyncio.Runner cancels the main task): keep what was measured.
            interrupted = True
            for s in submitters:
                s.stopping = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - start
        if show:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
        result = _result(args, submitters, members, elapsed, interrupted, target, len(templates), driver)
        return _report(args, result)
    finally:
        if opened is not None:
            await opened.close()
