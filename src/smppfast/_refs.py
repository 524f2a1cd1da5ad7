"""The sender's own reference, from a submit's response to its receipt: what both drivers do.

A submit given ``ref=`` is registered with the :class:`RefKeeper` of the client's store before
it is sent. When its ``submit_sm_resp`` is settled (in C, for a whole received buffer: see
``_futures.settle``), the keeper puts ``message_id -> ref`` into the store. A receipt whose id
the store knows is handed to ``on_receipt`` with ``.ref`` set, and a final receipt takes the
entry out. The store decides how ids are compared (hex and decimal alike) and how long entries
live. Clients that share a store (a pool's members) share its keeper.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import threading
import time
import weakref
from typing import Any, Callable, Generator, Iterable, Optional

from ._ratelimit import LogLimiter
from .errors import StoreError
from .receipt import DeliveryReceipt
from .stores import Store

log = logging.getLogger("smppfast.refs")

Callback = Callable[[Any], Any]

# A receipt can overtake its own submit_sm_resp: an SMSC that spreads receipts over an account's
# binds sends the receipt on bind B while bind A's reader has not yet handled the response that
# names the message id. A receipt the store does not know therefore waits, at most this long,
# for the submits with a ref that were already awaiting their response when it arrived.
OVERTAKE_GRACE = 2.0


class RefKeeper:
    """The requests sent with a ref and still awaiting their response, for one store.

    ``pending`` maps a request's token (its future) to ``(ref, parts, submit time, number)``,
    in the order they were sent; the drivers' compiled ``settle`` looks tokens up in it. Plain
    dict operations, atomic under the GIL, so threads of several clients may share it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: dict[Any, tuple[str, int, float, int]] = {}
        self._numbers = itertools.count(1)
        self._issued = 0
        self._cond = threading.Condition()
        self._waiters = 0
        self._warn = LogLimiter(log)  # a failing store, said at most once per interval

    def add(self, token: Any, ref: str, parts: int) -> None:
        """Before ``token``'s request is sent: remember its ref until the response comes."""
        if ref.__class__ is not str:
            raise TypeError(f"ref must be a str, not {type(ref).__name__}")
        number = self._issued = next(self._numbers)
        self.pending[token] = (ref, parts, time.time(), number)

    def settled(self, events: Iterable[Any]) -> None:
        """Responses (``ResponseReceived``) to requests sent with a ref: keep each accepted id."""
        pending = self.pending
        put = self.store.put
        for ev in events:
            entry = pending.pop(ev.token, None)
            if entry is None:
                continue
            response = ev.response
            message_id = getattr(response, "message_id", "") if response.command_status == 0 else ""
            if message_id:
                try:
                    put((message_id,), entry[0], entry[2], entry[1])
                except StoreError as exc:  # its receipt will come without the ref; the link goes on
                    self._warn.log(logging.WARNING, "store-put", time.monotonic(), "%s not kept for its receipt: %s",
                              message_id, exc)
        if self._waiters:
            with self._cond:
                self._cond.notify_all()

    def drop(self, token: Any) -> None:
        """A request sent with a ref that ended without an accepted response: no receipt comes."""
        if self.pending.pop(token, None) is not None and self._waiters:
            with self._cond:
                self._cond.notify_all()

    def _earlier_pending(self, mark: int) -> bool:
        for entry in self.pending.values():  # sent in order: the first is the oldest
            return entry[3] <= mark
        return False

    def _search(self, message_id: str) -> Generator[float, None, Any]:
        """The store's entry for ``message_id``, as a generator that yields the seconds left
        whenever it must wait for earlier responses (the two lookups below wait their own way).

        The id's own spelling is looked for first, waiting (bounded by ``OVERTAKE_GRACE``) while
        a request sent before the receipt arrived still awaits its response; only then the
        cross-base readings (hex for decimal), so an entry that is merely late never loses to
        another id that happens to read the same in the other base.
        """
        store = self.store
        entry = store.get(message_id, exact=True)
        if entry is None and self.pending:
            deadline = time.monotonic() + OVERTAKE_GRACE
            mark = self._issued
            while entry is None and self._earlier_pending(mark):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                yield left
                entry = store.get(message_id, exact=True)
        if entry is None:
            entry = store.get(message_id)
        return entry

    def lookup(self, receipt: DeliveryReceipt) -> DeliveryReceipt:
        """``receipt`` with its ref when the store has its id (see :meth:`_search`), blocking
        while it waits. A store that fails costs the receipt its ref, never the receipt."""
        steps = self._search(receipt.message_id)
        try:
            with self._cond:  # held while looking, so no response's notify falls in between
                self._waiters += 1
                try:
                    while True:
                        self._cond.wait(min(next(steps), 0.05))
                except StopIteration as done:
                    return self._attach(receipt, done.value)
                finally:
                    self._waiters -= 1
        except StoreError as exc:
            return self._without_ref(receipt, exc)

    async def lookup_async(self, receipt: DeliveryReceipt) -> DeliveryReceipt:
        """:meth:`lookup` on the event loop (for a store that does no I/O), whose own iterations
        settle the responses it waits for: it polls between them instead of blocking."""
        steps = self._search(receipt.message_id)
        try:
            try:
                while True:
                    next(steps)
                    await asyncio.sleep(0.001)
            except StopIteration as done:
                return self._attach(receipt, done.value)
        except StoreError as exc:
            return self._without_ref(receipt, exc)

    def _without_ref(self, receipt: DeliveryReceipt, exc: StoreError) -> DeliveryReceipt:
        self._warn.log(logging.WARNING, "store-get", time.monotonic(),
                       "receipt for %s delivered without its ref: %s", receipt.message_id, exc)
        return receipt

    def _attach(self, receipt: DeliveryReceipt, entry: Any) -> DeliveryReceipt:
        if entry is None:
            return receipt
        if receipt.is_final:
            self.store.discard(receipt.message_id)  # no later receipt is expected for this id
        return dataclasses.replace(receipt, ref=entry.ref)


_keepers: "weakref.WeakKeyDictionary[Any, RefKeeper]" = weakref.WeakKeyDictionary()
_keepers_lock = threading.Lock()


def keeper_for(store: Store) -> RefKeeper:
    """The one keeper of ``store``, shared by every client that uses it."""
    with _keepers_lock:
        keeper = _keepers.get(store)
        if keeper is None:
            keeper = _keepers[store] = RefKeeper(store)
        return keeper


def threaded_on_receipt(keeper: RefKeeper, callback: Optional[Callback]) -> Optional[Callback]:
    """The user's ``on_receipt``, called with the matched reference (on the callback thread)."""
    if callback is None:
        return None

    def on_receipt(receipt: DeliveryReceipt) -> Any:
        return callback(keeper.lookup(receipt))

    return on_receipt


def async_on_receipt(keeper: RefKeeper, callback: Optional[Callback]) -> Optional[Callback]:
    """As :func:`threaded_on_receipt` for asyncio: a store that does I/O is asked from a thread,
    so a Redis or SQLite round trip never stalls the event loop."""
    if callback is None:
        return None

    async def on_receipt(receipt: DeliveryReceipt) -> Any:
        if keeper.store.blocking:
            receipt = await asyncio.get_running_loop().run_in_executor(None, keeper.lookup, receipt)
        else:
            receipt = await keeper.lookup_async(receipt)
        result = callback(receipt)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        return result

    return on_receipt
