"""A ``concurrent.futures.Future`` that costs no lock until someone waits on it.

``concurrent.futures.Future.__init__`` builds a ``Condition`` (and its ``RLock``) per
future, which at hundreds of thousands of submits per second is most of the cost of a
submit. ``SubmitFuture`` creates its Condition on first use by a waiter, and
``set_result`` / ``set_exception`` skip the lock entirely when nobody is waiting.

The race this must survive: a waiter creates the Condition and checks the state while the
resolver finishes. Conditions are created under ``_create_lock``; a resolver that finds
none publishes the state under that lock (so no waiter can appear half-way), and one that
finds a Condition publishes the state and tells the waiters under the Condition, which is
what ``concurrent.futures.wait`` and ``as_completed`` hold while they read the state and
install their waiters. The compiled ``settle`` resolves in place only a future with no
Condition, holding the GIL from the check to the store.

A thread blocking in ``result()`` or ``exception()`` alone does not even need the Condition:
it parks on one plain lock (``_parked``) that the resolver releases, the cheapest wake-up
the threading module has. The same publish-then-look ordering covers it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures._base import FINISHED, InvalidStateError
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from ._futures import FutureState

if TYPE_CHECKING:
    from concurrent.futures._base import _Waiter

    from ._codec import Pdu

__all__ = ["SubmitFuture", "set_wait_hook"]

_create_lock = threading.Lock()
# Per thread, an optional hook told when the thread starts (True) and stops (False) waiting
# for a future: the client's callback thread uses it to let the reader read on meanwhile.
_wait_hooks = threading.local()


def set_wait_hook(hook: Optional[Callable[[bool], None]]) -> None:
    """Install (or with None remove) the calling thread's wait hook (see ``_wait_hooks``)."""
    _wait_hooks.hook = hook
_TERMINAL = frozenset({"CANCELLED", "CANCELLED_AND_NOTIFIED", FINISHED})


#: The response PDU a future resolves to (SubmitSmResp for a SubmitSm, ...).
_R = TypeVar("_R", bound="Pdu")


class SubmitFuture(FutureState, Future[_R]):
    """The future ``Client.submit`` returns; resolves to the response PDU.

    Its state (``_state``, ``_result``, ``_exception``, ``_cond``, ``_parked``,
    ``_done_callbacks``, ``request``, ``retries``) lives in the C fields of ``FutureState``,
    where the client's compiled ``settle`` resolves an unwatched future in place.
    """

    # __init__ is FutureState's (C): Future.__init__, which builds a Condition at once, never runs.

    def add_done_callback(self, fn: Any) -> None:
        with self._condition:
            if self._state not in _TERMINAL:
                if not self._done_callbacks:
                    self._done_callbacks = []
                self._done_callbacks.append(fn)
                return
        fn(self)

    if TYPE_CHECKING:
        # What concurrent.futures.as_completed and wait expect of a future, as plain
        # attributes (typeshed's protocol); at run time they are the lazy properties below.
        _condition: threading.Condition
        _waiters: list[_Waiter]
    else:
        # Built lazily, where Future sets them in __init__.
        @property
        def _condition(self) -> threading.Condition:
            cond = self._cond
            if cond is None:
                with _create_lock:
                    cond = self._cond
                    if cond is None:
                        cond = self._cond = threading.Condition()
            return cond

        @property
        def _waiters(self) -> list[Any]:
            waiters = self._waiters_list
            if waiters is None:
                waiters = self._waiters_list = []
            return waiters

    def _resolve(self, result: Any, exception: Optional[BaseException]) -> None:
        cond = self._cond
        if cond is None:
            # No Condition can appear while _create_lock is held, so with none there is no
            # waiter list and no callback to tell: publishing the state is all there is.
            with _create_lock:
                cond = self._cond
                if cond is None:
                    self._publish(result, exception)
            if cond is None:
                self._wake_parked()
                return
        # concurrent.futures.wait reads the state and installs its waiter under this
        # Condition: changing the state and telling the waiters under it too makes the two
        # one step for every waiter, so none counts this future twice.
        with cond:
            self._publish(result, exception)
            if self._waiters_list:
                for waiter in self._waiters_list:
                    if exception is None:
                        waiter.add_result(self)
                    else:
                        waiter.add_exception(self)
            cond.notify_all()
        self._wake_parked()
        if self._done_callbacks:
            self._invoke_callbacks()  # type: ignore[attr-defined]

    def _publish(self, result: Any, exception: Optional[BaseException]) -> None:
        if self._state in _TERMINAL:
            raise InvalidStateError(f"{self._state}: {self!r}")
        self._result = result
        self._exception = exception
        self._state = FINISHED

    def _wake_parked(self) -> None:
        """After the state was published: wake the thread parked in result(), if any."""
        parked = self._parked
        if parked is not None:
            self._parked = None
            try:
                parked.release()
            except RuntimeError:  # the waiter timed out and let go; nothing to wake
                pass

    def set_result(self, result: Any) -> None:
        self._resolve(result, None)

    def set_exception(self, exception: Optional[BaseException]) -> None:
        self._resolve(None, exception)

    def _park(self, timeout: Optional[float]) -> bool:
        """Block until resolved; False when a plain lock cannot serve (another waiter is here)."""
        with _create_lock:
            if self._parked is not None or self._cond is not None:
                return False
            parked = threading.Lock()
            parked.acquire()
            self._parked = parked  # published before the state is read again below
        if self._state != FINISHED:
            if not parked.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
                if self._state != FINISHED:
                    raise TimeoutError()
        return True

    def _wait(self, timeout: Optional[float]) -> None:
        """Block until resolved (or raise TimeoutError), telling this thread's wait hook."""
        hook: Optional[Callable[[bool], None]] = getattr(_wait_hooks, "hook", None)
        if hook is not None:
            hook(True)
        try:
            if not self._park(timeout):
                super().exception(timeout)  # a Condition's wait: raises TimeoutError on time-out
        finally:
            if hook is not None:
                hook(False)

    def result(self, timeout: Optional[float] = None) -> _R:
        # Fast path: already resolved, no lock needed.
        if self._state != FINISHED:
            self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[no-any-return]

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        if self._state != FINISHED:
            self._wait(timeout)
        return self._exception

    def cancel(self) -> bool:
        # Running from birth (its bytes are on their way), so, as for any running Future, no.
        return False

    def done(self) -> bool:
        return self._state in _TERMINAL

