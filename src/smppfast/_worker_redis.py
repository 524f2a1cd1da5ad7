"""What ``smppfast worker`` asks of Redis, in as few round trips as it can: one script call takes a
batch of entries and writes their markers, one finishes a batch (acknowledges, writes the outcome
records, counts them by status, removes the markers).

A *marker* is a key per stream entry, ``smppfast:sent:<stream>:<group>:<entry id>``, written
(``SET NX`` with an expiry) before the entry's submit goes out; its value is the token of the
worker that wrote it (``?<consumer>/<nonce>``). The outcome, with the message ids, is written in
the same script call that acknowledges the entry and removes its marker, so at any moment an
entry is in one of three states: no marker (never sent: whoever holds it may send it), a marker
(its submit may have reached the SMSC: never sent again without notice), or acknowledged with
its one outcome record. A worker that claims another's entry with a marker records
``maybe_sent`` instead of sending.

The scripts return their batches as one JSON document (Lua's ``cjson``): the worker decodes it
with ``json.loads`` in C instead of redis-py parsing every field of every entry in Python, which
costs several times more than everything else the worker does per entry.

One Redis server (or a primary with replicas), not a Redis Cluster: the scripts touch marker
keys they build from the entry ids. For the guarantees to hold across a restart of Redis, Redis
must persist its writes (``appendonly yes``; ``appendfsync always`` loses nothing, ``everysec``
up to a second).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

__all__ = ["Outcome", "Taken", "WorkerRedis", "GroupStatus", "ConsumerStatus"]

# Takes up to COUNT new entries for this consumer and marks each one (SET NX with an expiry). An
# entry that already had a marker (the group's position was moved back, or the marker of an
# earlier delivery survived) comes back with the marker's value instead of ''.
_TAKE = """
local res = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
local out = {}
if res then
    for _, e in ipairs(res[1][2]) do
        local key = ARGV[4] .. e[1]
        local m = ''
        if not redis.call('SET', key, ARGV[5], 'NX', 'PX', ARGV[6]) then
            m = redis.call('GET', key) or ''
        end
        out[#out + 1] = {e[1], e[2], m}
    end
end
return cjson.encode(out)
"""

# Marks entries read by a blocking XREADGROUP (scripts cannot block): the same SET NX as _TAKE.
_MARK = """
local out = {}
for i = 4, #ARGV do
    local key = ARGV[1] .. ARGV[i]
    local m = ''
    if not redis.call('SET', key, ARGV[2], 'NX', 'PX', ARGV[3]) then
        m = redis.call('GET', key) or ''
    end
    out[#out + 1] = m
end
return out
"""

# Moves entries idle for more than MIN_IDLE ms from any consumer of the group (this one included)
# to this consumer, with the value of each one's marker: '' when it had none, and then it gets
# this worker's marker at once, before the submit. Returns [next cursor, entries, deleted ids].
_CLAIM = """
local res = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out = {}
for _, e in ipairs(res[2]) do
    local key = ARGV[6] .. e[1]
    local m = redis.call('GET', key)
    if not m then
        m = ''
        if e[2] then redis.call('SET', key, ARGV[7], 'PX', ARGV[8]) end
    end
    out[#out + 1] = {e[1], e[2] or false, m}
end
return cjson.encode({res[1], out, res[3] or {}})
"""

# This consumer's own pending entries after START (XREADGROUP with an id reads them again): after
# a lost connection (a take whose reply never came) and at the start (a consumer name used again),
# with their marker values as in _CLAIM. A deleted entry comes back with false for its fields.
_OWN = """
local res = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], ARGV[4])
local out = {}
if res then
    for _, e in ipairs(res[1][2]) do
        local key = ARGV[5] .. e[1]
        local m = redis.call('GET', key)
        if not m then
            m = ''
            if e[2] then redis.call('SET', key, ARGV[6], 'PX', ARGV[7]) end
        end
        out[#out + 1] = {e[1], e[2] or false, m}
    end
end
return cjson.encode(out)
"""

# Per entry, from one JSON argument (a list of [id, ref, status, message ids, error]): XACK, and
# only when that entry was still pending (no other worker finished it meanwhile) the outcome record
# and its count; then the marker goes. One record per entry, whichever worker finishes first. One
# JSON string instead of five arguments per entry: redis-py packs each argument in Python.
_FINISH = """
local skipped = {}
local counts = {}
local markers = {}
for i, o in ipairs(cjson.decode(ARGV[3])) do
    local id = o[1]
    if redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
        redis.call('XADD', KEYS[2], '*', 'ref', o[2], 'status', o[3], 'message_ids', o[4], 'error', o[5],
                   'entry', id)
        counts[o[3]] = (counts[o[3]] or 0) + 1
    else
        skipped[#skipped + 1] = i - 1
    end
    markers[#markers + 1] = ARGV[2] .. id
    if #markers == 500 then
        redis.call('DEL', unpack(markers))
        markers = {}
    end
end
if #markers > 0 then redis.call('DEL', unpack(markers)) end
for status, n in pairs(counts) do redis.call('HINCRBY', KEYS[3], status, n) end
return skipped
"""

# Entries this worker marked but never sent (it is stopping): remove its own markers, so the
# worker that claims them sends them instead of recording maybe_sent.
_RELEASE = """
local n = 0
for i = 2, #ARGV do
    local key = ARGV[1] .. ARGV[i]
    if redis.call('GET', key) == KEYS[1] then
        redis.call('DEL', key)
        n = n + 1
    end
end
return n
"""


def _import_redis() -> Any:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError("smppfast worker needs redis-py: pip install 'smppfast[redis]'") from exc


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _loads(raw: Any) -> Any:
    """A script's JSON reply. Stream values are bytes, not necessarily UTF-8: an entry whose text
    is not gets it with surrogate escapes, which the entry check then refuses by name."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        return json.loads(raw.decode("utf-8", "surrogateescape"))


def _pairs(flat: Any) -> Optional[dict[str, str]]:
    """A stream entry's ``[field, value, ...]`` as a dict (a later duplicate field wins); None for
    an entry deleted from the stream while pending."""
    if not isinstance(flat, list):
        return None
    return dict(zip(flat[0::2], flat[1::2]))


#: One entry handed to the worker: ``(entry id, fields, marker)``; ``fields`` is None for an entry
#: deleted from the stream while it was pending; ``marker`` is '' when this worker's marker was
#: just written (or the entry had none), else the value of the marker already there.
Taken = tuple[str, Optional[dict[str, str]], str]

#: One outcome record: ``(entry id, ref, status, message ids joined by ',', error)``.
Outcome = tuple[str, str, str, str, str]


@dataclass
class ConsumerStatus:
    name: str
    pending: int
    idle: float  # seconds since the consumer last read or claimed


@dataclass
class GroupStatus:
    """What ``smppfast worker --status`` prints: the group's position in its stream, its pending
    entries per consumer and the outcome records written so far, counted by status."""

    stream: str
    group: str
    length: int  # entries in the stream now (trimmed ones are gone)
    lag: Optional[int]  # entries not yet delivered to the group (None: Redis cannot tell)
    pending: int  # delivered, not yet acknowledged
    last_delivered: str
    consumers: list[ConsumerStatus] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    results: str = ""
    results_length: int = 0


class WorkerRedis:
    """The worker's Redis commands on one ``redis.Redis`` client (its connection pool gives each
    thread its own connection). Every command is bounded by ``timeout`` seconds; a blocking read
    by its block time plus that. Errors are redis-py's (``redis.RedisError``): the worker backs
    off and tries again."""

    def __init__(self, url: str, *, stream: str, group: str, consumer: str, token: str, results: str,
                 receipts: str, marker_ttl: float, timeout: float = 5.0) -> None:
        redis = _import_redis()
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis_mod = redis
        # No retries inside redis-py: the worker decides when to try again, and what.
        retry = importlib.import_module("redis.retry").Retry(importlib.import_module("redis.backoff").NoBackoff(), 0)
        try:
            self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                               retry=retry, retry_on_timeout=False)
        except ValueError as exc:
            raise ValueError(f"not a usable Redis URL: {exc}") from None
        self.timeout = timeout
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.token = token
        self.results = results
        self.receipts = receipts
        self.counts = f"{results}:counts"
        self.marker_prefix = f"smppfast:sent:{stream}:{group}:"
        self.marker_ms = max(1, int(marker_ttl * 1000))
        self._take = self.client.register_script(_TAKE)
        self._mark = self.client.register_script(_MARK)
        self._claim = self.client.register_script(_CLAIM)
        self._finish = self.client.register_script(_FINISH)
        self._release = self.client.register_script(_RELEASE)
        self._own = self.client.register_script(_OWN)
        #: Commands sent (each one round trip; a script that had to be loaded again counts once).
        self.calls = 0

    def close(self) -> None:
        self.client.close()

    def ensure_group(self) -> bool:
        """Create the consumer group (reading from the stream's start), and the stream if missing.
        True when it was created."""
        self.calls += 1
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            return True
        except self._redis_mod.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise

    def take(self, count: int) -> list[Taken]:
        """Up to ``count`` new entries, marked, without waiting."""
        self.calls += 1
        raw = self._take(keys=[self.stream], args=[self.group, self.consumer, count, self.marker_prefix,
                                                   self.token, self.marker_ms])
        out = _loads(raw)
        return [(e[0], _pairs(e[1]), e[2]) for e in out] if out else []

    def take_blocking(self, count: int, block: float) -> list[Taken]:
        """Waits up to ``block`` seconds (less than the command timeout) for new entries
        (XREADGROUP BLOCK: scripts cannot block), then marks them."""
        self.calls += 1
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count,
                                       block=max(1, int(block * 1000)))
        if not reply:
            return []
        entries = reply[0][1]
        ids = [_text(e[0]) for e in entries]
        self.calls += 1
        markers = self._mark(args=[self.marker_prefix, self.token, self.marker_ms, *ids])
        out: list[Taken] = []
        for entry_id, (_, values), marker in zip(ids, entries, markers):
            fields: dict[str, str] = {}
            for k, v in (values or {}).items():
                try:
                    fields[_text(k)] = v.decode("utf-8") if isinstance(v, bytes) else str(v)
                except UnicodeDecodeError:
                    fields[_text(k)] = v.decode("utf-8", "surrogateescape")
            out.append((entry_id, fields, _text(marker)))
        return out

    def claim(self, min_idle: float, start: str, count: int) -> tuple[str, list[Taken], list[str]]:
        """``XAUTOCLAIM`` entries idle for ``min_idle`` seconds from ``start``: (next cursor,
        entries with their marker values, ids of pending entries that were deleted from the stream)."""
        self.calls += 1
        raw = self._claim(keys=[self.stream], args=[self.group, self.consumer, max(0, int(min_idle * 1000)), start,
                                                    count, self.marker_prefix, self.token, self.marker_ms])
        cursor, entries, deleted = _loads(raw)
        taken = [(e[0], _pairs(e[1]), e[2]) for e in entries] if entries else []
        return cursor, taken, list(deleted) if deleted else []

    def own_pending(self, start: str, count: int) -> list[Taken]:
        """This consumer's pending entries after ``start``, with their marker values."""
        self.calls += 1
        raw = self._own(keys=[self.stream], args=[self.group, self.consumer, count, start, self.marker_prefix,
                                                  self.token, self.marker_ms])
        out = _loads(raw)
        return [(e[0], _pairs(e[1]), e[2]) for e in out] if out else []

    def touch(self, ids: Sequence[str]) -> None:
        """Reset the idle time of entries this worker still holds, so that no other worker claims
        them while they wait for a response (XCLAIM to itself, JUSTID)."""
        if ids:
            self.calls += 1
            self.client.execute_command("XCLAIM", self.stream, self.group, self.consumer, 0, *ids, "JUSTID")

    def finish(self, outcomes: Sequence[Outcome]) -> list[int]:
        """Acknowledge the entries and write their records (one call); returns the positions of the
        outcomes not written because another worker had finished their entries first."""
        self.calls += 1
        # An error may quote an entry's bytes that were not UTF-8 (surrogate escapes here): they
        # become '?' rather than a batch that cannot be encoded. Refs are valid by then.
        payload = json.dumps(outcomes, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
        skipped = self._finish(keys=[self.stream, self.results, self.counts],
                               args=[self.group, self.marker_prefix, payload])
        return [int(i) for i in skipped] if skipped else []

    def release(self, ids: Sequence[str]) -> int:
        """Remove this worker's markers of entries it never sent."""
        if not ids:
            return 0
        self.calls += 1
        return int(self._release(keys=[self.token], args=[self.marker_prefix, *ids]))

    def write_receipts(self, receipts: Sequence[dict[str, str]]) -> None:
        self.calls += 1
        pipe = self.client.pipeline(transaction=False)
        for fields in receipts:
            pipe.xadd(self.receipts, fields)
        pipe.execute()

    def group_counts(self) -> tuple[int, Optional[int]]:
        """(pending entries, lag) of the group, for the progress line."""
        self.calls += 1
        for g in self.client.xinfo_groups(self.stream):
            if _text(g.get("name")) == self.group:
                lag = g.get("lag")
                return int(g.get("pending", 0)), None if lag is None else int(lag)
        return 0, None

    def status(self) -> GroupStatus:
        return group_status(self.client, self.stream, self.group, self.results)


def group_status(client: Any, stream: str, group: str, results: str) -> GroupStatus:
    """The group's state, read with a few commands (none of them scans a stream)."""
    redis = _import_redis()
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError as exc:
        if "no such key" in str(exc).lower():
            raise LookupError(f"there is no stream {stream!r}") from None
        raise
    info = next((g for g in groups if _text(g.get("name")) == group), None)
    if info is None:
        raise LookupError(f"stream {stream!r} has no consumer group {group!r}")
    lag = info.get("lag")
    status = GroupStatus(
        stream=stream, group=group, length=int(client.xlen(stream)),
        lag=None if lag is None else int(lag), pending=int(info.get("pending", 0)),
        last_delivered=_text(info.get("last-delivered-id", "")), results=results,
    )
    for c in client.xinfo_consumers(stream, group):
        status.consumers.append(ConsumerStatus(_text(c.get("name")), int(c.get("pending", 0)),
                                               int(c.get("idle", 0)) / 1000.0))
    counts = client.hgetall(f"{results}:counts")
    status.outcomes = {_text(k): int(v) for k, v in sorted(counts.items())}
    status.results_length = int(client.xlen(results))
    return status
