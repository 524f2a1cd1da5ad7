from threading import Condition
from typing import Any, Optional, TypeVar, final

from typing_extensions import Self, disjoint_base

from ._codec import Pdu

__all__ = ["FutureState", "LATENCY_BUCKETS", "LatencyRing", "settle", "settle_asyncio", "new_futures"]

_F = TypeVar("_F", bound="FutureState")

@disjoint_base
class FutureState:
    request: Any
    _state: str
    _result: Any
    _exception: Optional[BaseException]
    _cond: Optional[Condition]
    _waiters_list: Optional[list[Any]]
    _parked: Any
    _done_callbacks: Any
    retries: int
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __init__(self, request: Any = None) -> None: ...

LATENCY_BUCKETS: tuple[float, ...]

@final
class LatencyRing:
    @property
    def capacity(self) -> int: ...
    def __new__(cls, capacity: int = 65536) -> Self: ...
    def add(self, seconds: float) -> None: ...
    def __len__(self) -> int: ...
    def samples(self) -> list[float]: ...
    def histogram(self) -> tuple[list[int], float]: ...
    def merge(self, other: LatencyRing) -> None: ...
    def clear(self) -> None: ...

def new_futures(cls: type[_F], pdus: list[Pdu], start: int, stop: int) -> list[_F]: ...
def settle(events: list[Any], now: float, ring: LatencyRing, refs: dict[Any, Any] | None = None,
           refs_out: list[Any] | None = None) -> int: ...
def settle_asyncio(events: list[Any], now: float, ring: LatencyRing, refs: dict[Any, Any] | None = None,
                   refs_out: list[Any] | None = None) -> int: ...
