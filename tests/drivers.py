"""One test body, both drivers: a synchronous face over ``AsyncClient`` that looks like ``Client``.

The client behaviour tests are written against ``Client``'s API (``connect``/``close``/``with``,
``submit`` -> a ``concurrent.futures.Future``, ``submit_many``, ``send_message``, ``stats``,
``bound``, ``in_flight``, ``callbacks_waiting``). ``make_client(driver, ...)`` returns a plain
``Client`` for ``"threads"`` and an ``AsyncFace`` for ``"asyncio"``: an ``AsyncClient`` whose event
loop runs in a thread of its own, each call handed to it with ``run_coroutine_threadsafe`` and
waited for with a bound, so a test thread drives it the way it drives ``Client``.

What the face keeps of ``Client``'s meaning:

* ``submit`` returns once the request is in the window (the PDU has been numbered) and raises
  what stopped it getting there (``WindowFull``, ``ConnectionClosedError``, an encoding or
  state error), as ``Client.submit`` does; the future it returns carries the outcome of
  ``await client.submit(pdu)``: the response, or the error that await raised.
* ``submit_many`` returns one future per PDU, in order, from ``await client.submit_many``.
* ``send_message`` returns a handle whose ``result(timeout)`` / ``message_ids(timeout)`` wait
  for ``await client.send_message(...)`` (the list of responses, or its first failure), as
  ``MessageHandle`` does for ``Client``.
* callbacks: a plain function is handed over as it is (the asyncio driver runs it on the
  loop, so it must not block); one marked with ``blocking()`` may block or submit through
  the face, and the asyncio driver gets it as a coroutine function that awaits it in a
  worker thread. So both kinds of callback that ``AsyncClient`` takes are exercised.

The face's loop runs in debug mode; whatever reaches its exception handler ("Task was
destroyed but it is pending", "exception was never retrieved", ...) and any task still
pending once ``close()`` returned fail the test at ``close()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import gc
import threading
from typing import Any, Callable, Coroutine, Iterable, Optional, TypeVar

from smppfast import AsyncClient, Client
from smppfast._codec import Pdu

__all__ = ["DRIVERS", "AsyncFace", "blocking", "make_client", "read_size"]

DRIVERS = ("threads", "asyncio")

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

# Slack over the library's own bounds: if a face call outlives its client's timeouts by this
# much, the client hangs, and the test says so rather than hanging too.
_SLACK = 10.0


def blocking(callback: _F) -> _F:
    """Mark a callback that blocks or calls the client (waits on an event, submits and waits).

    The threaded client runs every callback on its own thread, so the mark changes nothing
    there; the asyncio face runs a marked callback in a worker thread, awaited by a coroutine
    callback, so it does not stop the event loop.
    """
    callback._test_blocking = True  # type: ignore[attr-defined]
    return callback


def read_size(driver: str) -> int:
    """The most octets one read hands to the session: how far past ``callback_queue`` the
    inbox can grow before reading stops (the queue is checked between reads)."""
    if driver == "threads":
        from smppfast.client import _RECV_SIZE

        return _RECV_SIZE
    # asyncio's selector transport reads up to 256 KiB per data_received.
    return 256 * 1024


def make_client(driver: str, host: str, port: int, **kwargs: Any) -> Any:
    """A ``Client``, or an ``AsyncFace`` over an ``AsyncClient``, built with the same arguments."""
    if driver == "threads":
        return Client(host, port, **kwargs)
    if driver == "asyncio":
        return AsyncFace(host, port, **kwargs)
    raise ValueError(f"unknown driver {driver!r}; expected one of {DRIVERS}")


class FaceFuture(cf.Future):  # type: ignore[type-arg]
    """A ``concurrent.futures.Future`` with the ``request`` it answers, as ``SubmitFuture`` has."""

    def __init__(self, request: Optional[Pdu]) -> None:
        super().__init__()
        self.request = request
        self.set_running_or_notify_cancel()  # on its way: cancel() cannot take it back


def _copy_outcome(source: "asyncio.Future[Any]", target: cf.Future) -> None:  # type: ignore[type-arg]
    """Done callback on the loop thread: ``target`` ends as ``source`` did."""
    if target.done():
        return
    if source.cancelled():
        target.set_exception(asyncio.CancelledError())
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


class AsyncMessage:
    """What ``AsyncFace.send_message`` returns: waits for the whole message like ``MessageHandle``."""

    def __init__(self, future: cf.Future) -> None:  # type: ignore[type-arg]
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: Optional[float] = None) -> list[Any]:
        return list(self._future.result(timeout))

    def message_ids(self, timeout: Optional[float] = None) -> list[str]:
        return [response.message_id for response in self.result(timeout)]


class AsyncFace:
    """An ``AsyncClient`` driven from ordinary threads (see the module's docstring)."""

    def __init__(self, host: str, port: int, **kwargs: Any) -> None:
        for name in ("on_message", "on_receipt", "on_incomplete"):
            callback = kwargs.get(name)
            if callback is not None and getattr(callback, "_test_blocking", False):
                kwargs[name] = _in_worker_thread(callback)
        self.client = AsyncClient(host, port, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._problems: list[str] = []
        c = self.client
        # How long a connect or a close may take at most, by the client's own bounds.
        self._connect_bound = c.connect_timeout + c.bind_timeout + _SLACK
        self._close_bound = c.close_timeout + c.unbind_timeout + 6.0 + _SLACK  # close() gives callbacks 5 s

    def __repr__(self) -> str:
        return repr(self.client)

    def __getattr__(self, name: str) -> Any:  # stats, bound, in_flight, reconnect, ...
        return getattr(self.client, name)

    def __enter__(self) -> "AsyncFace":
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the loop thread ------------------------------------------------------------

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = self._loop = asyncio.new_event_loop()
            loop.set_debug(True)
            loop.set_exception_handler(self._exception_handler)
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="smppfast-test-loop", daemon=True)
            self._thread.start()
            if not ready.wait(5.0):
                raise RuntimeError("the test event loop did not start within 5 s")
        return self._loop

    def _exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self._problems.append(f"{context.get('message')}: {context.get('exception') or context.get('task') or ''}")
        loop.default_exception_handler(context)

    def _run(self, coro: Coroutine[Any, Any, _T], bound: float, what: str) -> _T:
        """Run ``coro`` on the loop and wait for it, at most ``bound`` seconds."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(f"{what} called on the event loop's own thread: mark the callback with blocking()")
        loop = self._start_loop()
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(bound)
        except cf.TimeoutError:
            future.cancel()
            raise AssertionError(f"AsyncClient: {what} did not return within {bound} s") from None

    def _stop_loop(self) -> None:
        """Let the loop finish what is scheduled, stop it and close it; report what was left."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        leftover = self._run(self._settle(), 15.0, "winding down the loop")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if thread.is_alive():
            raise AssertionError("the test event loop did not stop within 5 s")
        loop.close()
        self._loop = None
        self._thread = None
        gc.collect()  # a destroyed pending task or an unretrieved exception reports now
        problems = self._problems + [f"task still pending after close(): {t!r}" for t in leftover]
        self._problems = []
        if problems:
            raise AssertionError("the event loop reported: " + "; ".join(problems))

    @staticmethod
    async def _settle() -> list["asyncio.Task[Any]"]:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        end = loop.time() + 2.0
        while True:
            others = [t for t in asyncio.all_tasks() if t is not me]
            if not others or loop.time() >= end:
                break
            await asyncio.sleep(0.01)
        for _ in range(5):  # transports' connection_lost and close callbacks
            await asyncio.sleep(0)
        await asyncio.wait_for(loop.shutdown_default_executor(), 10.0)
        return others

    # -- lifecycle --------------------------------------------------------------------

    def connect(self) -> None:
        fresh = self._loop is None
        try:
            self._run(self.client.connect(), self._connect_bound, "connect()")
        except BaseException:
            if fresh:  # as an asyncio.run() whose connect failed would end: nothing goes on
                self._stop_loop()
            raise

    def close(self) -> None:
        if self._loop is None:
            # Never connected, or the connect failed and its loop ended: close() runs on a
            # loop of its own, as a user's later asyncio.run(client.close()) would.
            asyncio.run(asyncio.wait_for(self.client.close(), self._close_bound), debug=True)
            return
        try:
            self._run(self.client.close(), self._close_bound, "close()")
        finally:
            self._stop_loop()

    # -- submitting -------------------------------------------------------------------

    def submit(self, pdu: Pdu, *, timeout: Optional[float] = None) -> FaceFuture:
        out = FaceFuture(pdu)
        self._run(self._submit(pdu, timeout, out), self._slot_bound(timeout), "submit()")
        return out

    async def _submit(self, pdu: Pdu, timeout: Optional[float], out: FaceFuture) -> None:
        # The window numbers a PDU as it takes it (and puts the old number back if it cannot
        # encode it), so a new number means the request is in the window. The tests' PDUs
        # come unnumbered (0), which no session gives out.
        before = pdu.sequence_number
        task = asyncio.ensure_future(self.client.submit(pdu, timeout=timeout))
        task.add_done_callback(lambda t: _copy_outcome(t, out))
        await asyncio.sleep(0)  # room in the window: it is sent in this first step
        while not task.done() and pdu.sequence_number == before:
            await asyncio.sleep(0.001)  # waiting for a slot, a bind or the rate limit
        if task.done() and pdu.sequence_number == before and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error  # it never went out: raised by submit itself, as Client does

    def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> list[FaceFuture]:
        pending = list(pdus)
        return self._run(self._submit_many(pending, timeout), self._slot_bound(timeout) + len(pending) * 0.01,
                         "submit_many()")

    async def _submit_many(self, pdus: list[Pdu], timeout: Optional[float]) -> list[FaceFuture]:
        futures = await self.client.submit_many(pdus, timeout=timeout)
        assert len(futures) == len(pdus), f"submit_many gave {len(futures)} futures for {len(pdus)} PDUs"
        out = []
        for fut, pdu in zip(futures, pdus):
            face = FaceFuture(pdu)
            fut.add_done_callback(lambda f, face=face: _copy_outcome(f, face))  # type: ignore[misc]
            out.append(face)
        return out

    def send_message(self, destination_addr: str, text: str, **fields: Any) -> AsyncMessage:
        out: cf.Future = cf.Future()  # type: ignore[type-arg]
        out.set_running_or_notify_cancel()

        async def start() -> None:
            task = asyncio.ensure_future(self.client.send_message(destination_addr, text, **fields))
            task.add_done_callback(lambda t: _copy_outcome(t, out))

        self._run(start(), 5.0, "send_message()")
        return AsyncMessage(out)

    def _slot_bound(self, timeout: Optional[float]) -> float:
        wait = timeout if timeout is not None else self.client.window_timeout
        return (wait if wait is not None else 60.0) + _SLACK


def _in_worker_thread(callback: Callable[[Any], _T]) -> Callable[[Any], Coroutine[Any, Any, _T]]:
    """A coroutine callback that runs ``callback`` in a worker thread and awaits it."""

    async def run_in_thread(argument: Any) -> _T:
        return await asyncio.to_thread(callback, argument)

    return run_in_thread

