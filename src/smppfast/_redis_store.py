"""``RedisStore``: message references in Redis, shared by every process and machine that sends."""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._buffered_store import BufferedStore
from ._storebase import Entry, StoredRef, logger, positive_seconds
from .errors import StoreError

__all__ = ["RedisStore"]

_SCHEMES = ("redis", "rediss", "unix")
# One call sets a whole chunk of keys, each with its own expiry in milliseconds: a pipeline of SETs
# would cost redis-py several microseconds of Python per key to build.
_PUT_SCRIPT = """
for i = 1, #KEYS do
    redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
return #KEYS
"""
_CHUNK = 1000  # keys per script call or DEL


def _import_redis() -> Any:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError("RedisStore needs redis-py: pip install 'smppfast[redis]'") from exc


def redact_url(url: str) -> str:
    """``url`` with its password (in the authority or as a ``password=`` option) shown as ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if "password" in query.lower():
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(query)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<a URL that does not parse>"


def _encode(entry: Entry) -> str:
    # The ref goes last, so it may hold any character, spaces included; repr() keeps the float exact.
    ref, submitted_at, parts, _ = entry
    return f"{parts} {submitted_at!r} {ref}"


def _decode(value: bytes) -> StoredRef:
    parts, submitted_at, ref = value.decode("utf-8").split(" ", 2)
    return StoredRef(ref, float(submitted_at), int(parts))


class RedisStore(BufferedStore):
    """Message references in Redis: one key per message id, ``prefix`` + the normalised id, each
    set with an expiry of ``ttl`` (so Redis removes expired entries itself).

    Many processes and machines may share one store, so that a receipt arriving on a bind of
    another process still finds the ref. Writes are batched: ``put`` and ``discard`` only buffer,
    and a writer thread sends the buffer when ``batch_size`` ids are waiting or ``flush_interval``
    seconds after the first of them came (one script call per 1,000 keys). An entry is therefore
    visible to *other* processes up to ``flush_interval`` seconds after ``put``; this process's own
    ``get`` sees it at once. ``url`` is what ``redis.Redis.from_url`` takes (``redis://``,
    ``rediss://``, ``unix://``); one server, not a Redis Cluster (a script's keys must share one
    node). Every command is bounded by ``timeout`` seconds, unless the URL sets its own
    ``socket_timeout``. The constructor checks the server answers. Needs
    ``pip install 'smppfast[redis]'``.
    """

    _kind = "redis"

    def __init__(
        self,
        url: str,
        ttl: float = 7 * 86400.0,
        prefix: str = "smppfast:ref:",
        *,
        flush_interval: float = 0.01,
        batch_size: int = 5000,
        max_pending: int = 1_000_000,
        timeout: float = 5.0,
        cross_base: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str such as 'redis://host:6379/0', not {type(url).__name__}")
        self._url = redact_url(url)
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in _SCHEMES:
            raise ValueError(f"url must start with redis://, rediss:// or unix://, not {self._url!r}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        self._prefix = prefix
        timeout = positive_seconds("timeout", timeout)
        redis = _import_redis()
        super().__init__(ttl=ttl, flush_interval=flush_interval, batch_size=batch_size, max_pending=max_pending,
                         prune_interval=None, cross_base=cross_base, clock=clock)
        try:
            self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        except ValueError as exc:
            # redis-py's message names the option, never the password; the URL is shown redacted.
            raise ValueError(f"not a usable Redis URL {self._url!r}: {exc}") from None
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._client.close()
            raise StoreError(f"RedisStore cannot reach {self._url}: {exc}") from exc
        self._put_script = self._client.register_script(_PUT_SCRIPT)
        self._start()

    def __repr__(self) -> str:
        return f"RedisStore({self._url!r}, ttl={self._ttl:g}, prefix={self._prefix!r}{', closed' if self._closed else ''})"

    # -- the backend ---------------------------------------------------------------------------------

    def _write(self, puts: Mapping[str, Entry], deletes: Any, now: float) -> None:
        prefix = self._prefix
        if deletes:
            doomed = [prefix + key for key in deletes]
            for i in range(0, len(doomed), _CHUNK):
                self._client.delete(*doomed[i : i + _CHUNK])
        keys: list[str] = []
        args: list[Any] = []
        for key, entry in puts.items():
            ms = math.ceil((entry[3] - now) * 1000.0)
            if ms > 0:
                keys.append(prefix + key)
                args.append(_encode(entry))
                args.append(ms)
        for i in range(0, len(keys), _CHUNK):
            self._put_script(keys=keys[i : i + _CHUNK], args=args[2 * i : 2 * (i + _CHUNK)])

    def _read(self, keys: list[str], now: float) -> dict[str, StoredRef]:
        values = self._client.mget([self._prefix + key for key in keys])
        found: dict[str, StoredRef] = {}
        for key, value in zip(keys, values):
            if value is not None:
                try:
                    found[key] = _decode(value)
                except (ValueError, UnicodeDecodeError):
                    logger.warning("%r: key %r holds %r, not a stored ref; ignored", self, self._prefix + key, value[:80])
        return found

    def _close_backend(self) -> None:
        self._client.close()
