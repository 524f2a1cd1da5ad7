"""What both drivers (the threaded ``Client`` and the asyncio ``AsyncClient``) do alike,
written once: checking their options, building a text's SubmitSm parts, and the error a
request without a response ends in. Protocol rules stay in the session; this is only the
drivers' shared glue.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Union

from ._codec import Pdu, SubmitSm
from ._text import language_ids, split_text
from .constants import Status
from .errors import SmppTimeoutError, TextError
from .session import BIND_TYPES

#: ``languages=``: national language names, ISO 639-1 codes or 3GPP TS 23.038 ids.
Languages = Union[str, Iterable[Union[str, int]], None]

__all__ = ["Languages", "THROTTLE_STATUSES", "check_languages", "check_options", "message_pdus", "response_timeout_error"]

#: Statuses that mean "slow down": the request is sent again after a pause.
THROTTLE_STATUSES = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})

# The constructor options and what each must be.
_COUNTS = {"window": 1, "callback_queue": 1, "throttle_retries": 0}  # whole numbers, at least this
_SECONDS_OR_NONE = ("window_timeout", "response_timeout", "enquire_link_interval", "inactivity_timeout", "rate_limit")
_SECONDS = ("connect_timeout", "bind_timeout", "unbind_timeout", "close_timeout", "throttle_backoff",
            "throttle_max_backoff", "reconnect_max_delay", "reassembly_timeout")
_STORE_METHODS = ("put", "get", "discard", "blocking")


def check_options(options: Mapping[str, Any]) -> None:
    """A driver constructor's values (its ``locals()``), checked where they are given."""
    bind_type = options["bind_type"]
    if bind_type not in BIND_TYPES:
        raise ValueError(f"bind_type must be one of {', '.join(sorted(BIND_TYPES))}, not {bind_type!r}")
    for name, least in _COUNTS.items():
        count = options[name]
        if not isinstance(count, int) or isinstance(count, bool) or count < least:
            raise ValueError(f"{name} must be a whole number of at least {least}, not {count!r}")
    for name in _SECONDS_OR_NONE + _SECONDS:
        value = options[name]
        if value is None:
            if name in _SECONDS:
                raise ValueError(f"{name} must be a number of seconds; None is not allowed here")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            unit = "per second" if name == "rate_limit" else "seconds"
            raise ValueError(f"{name} must be a positive number ({unit}) or None, not {value!r}")
    store = options["store"]
    if store is not None and not all(hasattr(store, attr) for attr in _STORE_METHODS):
        raise TypeError(f"store must be a smppfast store (with {', '.join(_STORE_METHODS)}), "
                        f"such as MemoryStore, SqliteStore or RedisStore; not {type(store).__name__}")
    check_languages(options["languages"])


def check_languages(languages: Languages) -> tuple[int, ...]:
    """A driver's ``languages=`` default, checked where it is given; returns the 23.038 language
    ids in the caller's order."""
    try:
        return language_ids(languages)
    except (TextError, TypeError) as exc:
        raise ValueError(f"languages: {exc}") from None


def message_pdus(destination_addr: str, text: str, data_coding: Optional[int], method: Any,
                 reference: Optional[int], fields: dict[str, Any], languages: Languages = ()) -> list[SubmitSm]:
    """One SubmitSm per part of ``text``; ``fields`` go on every part (its ``tlvs`` and
    ``esm_class`` are merged with each part's own). ``languages`` enables national language
    tables (split_text adds their UDH elements to every part)."""
    extra_tlvs = fields.pop("tlvs", None) or {}
    esm_extra = fields.pop("esm_class", 0)
    pdus = []
    for part in split_text(text, data_coding=data_coding, method=method, reference=reference, languages=languages):
        tlvs = dict(extra_tlvs)
        tlvs.update(part.tlvs)
        pdus.append(SubmitSm(destination_addr=destination_addr, short_message=part.short_message,
                             esm_class=part.esm_class | esm_extra, data_coding=part.data_coding, tlvs=tlvs, **fields))
    return pdus


def response_timeout_error(request: Pdu, timeout: Optional[float]) -> SmppTimeoutError:
    return SmppTimeoutError(
        f"no response to {type(request).__name__} seq {request.sequence_number} within {timeout} s; "
        "the SMSC may have accepted it",
        maybe_accepted=True,
    )
