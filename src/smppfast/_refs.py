"""The sender's own reference, from a submit's response to its receipt: what both drivers do.

A submit given ``ref=`` puts its message id (one per part) into the store when its
``submit_sm_resp`` arrives; a receipt whose message id the store knows is handed to
``on_receipt`` with ``.ref`` set, and a final receipt takes the entry out. The store decides how
ids are compared (hex and decimal alike) and how long entries live.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, Callable, Optional

from .receipt import DeliveryReceipt
from .stores import Store

Callback = Callable[[Any], Any]


def remember(store: Store, ref: str, parts: int) -> Callable[[Any], None]:
    """A done-callback for a submit's future: keep ``message_id -> ref`` once it was accepted.

    Runs where the future is settled, before any later PDU of the same stream is handled, so a
    receipt that follows its response at once still finds the entry.
    """
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a str, not {type(ref).__name__}")
    submitted_at = time.time()

    def done(fut: Any) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # refused or lost: no receipt will come for it
        message_id = getattr(fut.result(), "message_id", "")
        if message_id:
            store.put((message_id,), ref, submitted_at, parts)

    return done


def with_ref(store: Store, receipt: DeliveryReceipt) -> DeliveryReceipt:
    """``receipt`` with the sender's reference, when the store has its message id."""
    entry = store.get(receipt.message_id)
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
            receipt = with_ref(store, receipt)
        result = callback(receipt)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        return result

    return on_receipt
