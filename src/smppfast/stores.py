"""Where a client keeps ``message_id -> (ref, submit time, parts)`` from the ``submit_sm_resp``
until the message's delivery receipt comes, so that the receipt can carry the sender's own
reference: hours or days later, on any bind, possibly after the sender's process restarted.

Three stores behind one small interface, :class:`Store`:

* :class:`MemoryStore` (the default): in the process, bounded by count and by ttl.
* :class:`SqliteStore`: a SQLite file (stdlib ``sqlite3``, WAL mode, batched writes); survives a
  restart of the process.
* :class:`RedisStore`: a Redis server (redis-py, ``pip install 'smppfast[redis]'``), shared by many
  processes and machines, so a receipt that arrives on another process's bind is still matched.

Every id of a message (one per part) maps to the message's ref. Ids are compared as
:func:`smppfast.receipt.message_ids_match` compares them: case, leading zeros and a ``0x``
prefix do not matter, and with ``cross_base=True`` (the default) an id the SMSC answered in hex
matches the same number reported in decimal in the receipt, or the other way round. The exact
spelling is always preferred; ``cross_base=False`` turns the cross-base reading off for an SMSC
known to use one base, which removes the rare false match between short all-digit ids (``"10"``
read as hex is 16). Entries go away after ``ttl`` seconds (default 7 days) by themselves.
"""

from __future__ import annotations

from ._memstore import MemoryStore
from ._redis_store import RedisStore
from ._sqlite_store import SqliteStore
from ._storebase import Store, StoredRef

__all__ = ["MemoryStore", "RedisStore", "SqliteStore", "Store", "StoredRef"]
