"""The sender's own reference, from a submit's response to its receipt: what both drivers do.

A submit given ``ref=`` puts its message id (one per part) into the store when its
``submit_sm_resp`` arrives; a receipt whose message id the store knows is handed to
``on_receipt`` with ``.ref`` set, and a final receipt takes the entry out. The store decides how
ids are compared (hex and decimal alike) and how long entries live.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
import weakref
from typing import Any, Callable, Optional

from .receipt import DeliveryReceipt
from .stores import Store

Callback = Callable[[Any], Any]

# A receipt can overtake its own submit_sm_resp: an SMSC that spreads receipts over an account's
# binds sends the receipt on bind B while bind A's reader has not yet handled the response that
# names the message id. A receipt the store does not know therefore waits, at most this long,
# for the submits with a ref that were already awaiting their response when it arrived.
_OVERTAKE_GRACE = 2.0


class _Awaiting:
    """The submits with a ref still awaiting their response, per store, numbered in order."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.tickets = itertools.count(1)
        self.issued = 0
        self.pending: set[int] = set()

    def open(self) -> int:
        with self.cond:
            ticket = self.issued = next(self.tickets)
            self.pending.add(ticket)
            return ticket

    def close(self, ticket: int) -> None:
        with self.cond:
            self.pending.discard(ticket)
            self.cond.notify_all()

    def any_before(self, mark: int) -> bool:
        return any(t <= mark for t in self.pending)


_awaiting: "weakref.WeakKeyDictionary[Any, _Awaiting]" = weakref.WeakKeyDictionary()
_awaiting_lock = threading.Lock()


def _awaiting_for(store: Store) -> _Awaiting:
    with _awaiting_lock:
        a = _awaiting.get(store)
        if a is None:
            a = _awaiting[store] = _Awaiting()
        return a


def remember(store: Store, ref: str, parts: int) -> Callable[[Any], None]:
    """A done-callback for a submit's future: keep ``message_id -> ref`` once it was accepted.

    Runs where the future is settled, before any later PDU of the same stream is handled, so a
    receipt that follows its response at once still finds the entry.
    """
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a str, not {type(ref).__name__}")
    submitted_at = time.time()
    awaiting = _awaiting_for(store)
    ticket = awaiting.open()

    def done(fut: Any) -> None:
        try:
            if fut.cancelled() or fut.exception() is not None:
                return  # refused or lost: no receipt will come for it
            message_id = getattr(fut.result(), "message_id", "")
            if message_id:
                store.put((message_id,), ref, submitted_at, parts)
        finally:
            awaiting.close(ticket)

    return done


def with_ref(store: Store, receipt: DeliveryReceipt) -> DeliveryReceipt:
    """``receipt`` with the sender's reference, when the store has its message id (waiting,
    bounded, for the responses of earlier submits with a ref: see ``_OVERTAKE_GRACE``)."""
    entry = store.get(receipt.message_id)
    awaiting = _awaiting.get(store)
    if entry is None and awaiting is not None:
        deadline = time.monotonic() + _OVERTAKE_GRACE
        with awaiting.cond:
            mark = awaiting.issued
            while entry is None and awaiting.any_before(mark):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                awaiting.cond.wait(left)
                entry = store.get(receipt.message_id)
    return _attach(store, receipt, entry)


async def with_ref_async(store: Store, receipt: DeliveryReceipt) -> DeliveryReceipt:
    """:func:`with_ref` on the event loop: the responses it may wait for are settled by this
    very loop, so it polls between loop iterations instead of blocking."""
    entry = store.get(receipt.message_id)
    awaiting = _awaiting.get(store)
    if entry is None and awaiting is not None:
        deadline = time.monotonic() + _OVERTAKE_GRACE
        mark = awaiting.issued
        while entry is None and awaiting.any_before(mark) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
            entry = store.get(receipt.message_id)
    return _attach(store, receipt, entry)


def _attach(store: Store, receipt: DeliveryReceipt, entry: Any) -> DeliveryReceipt:
    if entry is None:
        return receipt
    if receipt.is_final:
        store.discard(receipt.message_id)  # no later receipt is expected for this id
    return dataclasses.replace(receipt, ref=entry.ref)


def threaded_on_receipt(store: Store, callback: Optional[Callback]) -> Optional[Callback]:
    """The user's ``on_receipt``, called with the matched reference (on the callback thread)."""
    if callback is None:
        return None

    def on_receipt(receipt: DeliveryReceipt) -> Any:
        return callback(with_ref(store, receipt))

    return on_receipt


def async_on_receipt(store: Store, callback: Optional[Callback]) -> Optional[Callback]:
    """As :func:`threaded_on_receipt` for asyncio: a store that does I/O is asked from a thread,
    so a Redis or SQLite round trip never stalls the event loop."""
    if callback is None:
        return None

    async def on_receipt(receipt: DeliveryReceipt) -> Any:
        if store.blocking:
            receipt = await asyncio.get_running_loop().run_in_executor(None, with_ref, store, receipt)
        else:
            receipt = await with_ref_async(store, receipt)
        result = callback(receipt)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        return result

    return on_receipt
