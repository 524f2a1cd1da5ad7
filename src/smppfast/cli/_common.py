"""What the subcommands share: exit codes, the one-line error, argument types, logging,
the password, TLS and bind helpers, and the names given to statuses and receipts."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import ssl
import sys
from typing import Callable, Iterator, NoReturn, Optional, TypeAlias, TypeVar

from .. import _layout
from ..constants import DataCoding, Npi, Status, Ton, format_status, status_name
from ..errors import (
    BindError,
    CommandStatusError,
    ConnectionClosedError,
    SmppError,
    SmppTimeoutError,
)
from ..receipt import DeliveryReceipt

log = logging.getLogger("smppfast.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BIND_REFUSED = 3
EXIT_INTERRUPTED = 130

_E = TypeVar("_E", Status, Ton, Npi, DataCoding)

#: What ``add_subparsers`` returns; each subcommand module adds its parser to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line in the command's error format, not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"smppfast: error: {message} (see '{self.prog} --help')\n")


class CliError(Exception):
    """A failure reported as one line on stderr, with the exit code to return."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _error_line(err: SmppError) -> str:
    """What the command line says about a library error that no command expected: one line,
    with the status in plain words when there is one."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, CommandStatusError):
        described = format_status(err.status)
        if described not in text:
            text = f"{text}: {described}"
    return text


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _status_name(status: int) -> str:
    """The one place the command line names a command_status (every subcommand calls this)."""
    return status_name(status)


def _format_receipt(receipt: DeliveryReceipt) -> str:
    parts = [f"receipt: message_id={receipt.message_id}", f"stat={receipt.stat or '-'}"]
    if receipt.state is not None:
        parts.append(f"state={receipt.state.name}")
    if receipt.err is not None:
        parts.append(f"err={receipt.err}")
    if receipt.done_date is not None:
        parts.append(f"done={receipt.done_date.isoformat(sep=' ')}")
    return " ".join(parts)


# -- argument types -----------------------------------------------------------------------


def _enum_arg(enum: type[_E], aliases: Optional[dict[str, int]] = None, *, octets: int = 1) -> Callable[[str], int]:
    """An argparse type: an integer (decimal or 0x hex) that fits ``octets``, or a member name of ``enum``."""
    top = (1 << (8 * octets)) - 1

    def parse(text: str) -> int:
        value = text.strip()
        try:
            number = int(value, 0)
        except ValueError:
            pass
        else:
            if not 0 <= number <= top:
                raise argparse.ArgumentTypeError(f"{text!r} is out of range: a {enum.__name__} is 0 to {top:#x}")
            return number
        key = value.upper().replace("-", "_")
        if aliases and key in aliases:
            return aliases[key]
        for candidate in (key, "ESME_" + key, "ESME_R" + key):
            if candidate in enum.__members__:
                return int(enum[candidate])
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor a {enum.__name__} name")

    parse.__name__ = enum.__name__  # argparse shows this in "invalid <name> value"
    return parse


_status_arg = _enum_arg(Status, octets=4)
_ton_arg = _enum_arg(Ton)
_npi_arg = _enum_arg(Npi)
# Users say "gsm" or "ucs2" rather than SMPP's "DEFAULT"; both work.
_data_coding_arg = _enum_arg(
    DataCoding, {"GSM": 0, "GSM7": 0, "GSM0338": 0, "ASCII": 1, "LATIN_1": 3, "ISO_8859_1": 3, "UTF_16BE": 8}
)


def _languages_arg(text: str) -> tuple[int, ...]:
    """An argparse type: national languages, comma-separated (``tr,es``, ``turkish``, ``1``)."""
    from .._text import language_ids  # the compiled codec: imported where it is needed
    from ..errors import TextError

    try:
        return language_ids(text)
    except TextError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


_languages_arg.__name__ = "languages"


_N = TypeVar("_N", int, float)


def _number_arg(kind: Callable[[str], _N], noun: str, *, above: Optional[float] = None,
                at_least: Optional[float] = None) -> Callable[[str], _N]:
    """An argparse type: ``kind(text)`` (int or float), finite, above or at least a bound."""

    def parse(text: str) -> _N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"{text} must be a number above {above:g}")
        if at_least is not None and not value >= at_least:
            rule = "must not be negative" if at_least == 0 else f"must be at least {at_least:g}"
            raise argparse.ArgumentTypeError(f"{value} {rule}")
        return value

    parse.__name__ = noun.split()[-1]
    return parse


_positive_int = _number_arg(int, "an integer", at_least=1)
_non_negative_int = _number_arg(int, "an integer", at_least=0)
_positive_float = _number_arg(float, "a number", above=0)
_non_negative_float = _number_arg(float, "a number", at_least=0)


def _port_arg(lowest: int) -> Callable[[str], int]:
    """An argparse type: a TCP port from ``lowest`` (0 lets the system pick one) to 65535."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(f"{value} is not a port: {lowest} to 65535")
        return value

    parse.__name__ = "port"
    return parse


def _credential(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {text!r}")
    return user, password


# -- values checked where the user gives them ----------------------------------------------
#
# The codec refuses an over-long field too, but only when the PDU is encoded: after the
# connection and the bind, and as a traceback. Checked here, the message names the option.


def _max_chars(command: str, field: str) -> int:
    """The most characters SMPP 3.4 allows in the C-Octet String ``field`` of ``command``:
    its size in the codec's layout table, less the terminating NUL."""
    for layout in _layout.PDUS:
        if layout.name == command:
            for name, kind, size in layout.fields:
                if name == field and kind == _layout.CSTR:
                    return size - 1
    raise LookupError(f"{command} has no C-Octet String field {field!r}")


def _check_cstr(what: str, value: str, command: str, field: str, *, secret: bool = False) -> None:
    """Refuse ``value`` for ``field`` of ``command`` with a CliError naming ``what`` (the
    option) and the limit. A ``secret`` is never echoed, not even one character of it."""
    limit = _max_chars(command, field)
    if len(value) > limit:
        size = f"longer than {limit} characters" if secret else f"{len(value)} characters long"
        raise CliError(f"{what} is {size}; SMPP 3.4 allows at most {limit} for {field}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError as err:
        char = "" if secret else f" {value[err.start]!r}"
        raise CliError(f"{what} has a character{char} that SMPP cannot carry in {field} (Latin-1 only)") from None


def _endpoint_arg(text: str) -> tuple[str, int]:
    """An argparse type: ``HOST:PORT`` (``[v6addr]:PORT`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, _port_arg(1)(port)


def endpoints(args: argparse.Namespace) -> list[tuple[str, int]]:
    """The SMSCs a command binds to: every ``--smsc``, else ``--host``/``--port``."""
    return list(args.smsc) if args.smsc else [(args.host, args.port)]


def _check_bind_options(args: argparse.Namespace) -> None:
    """``--system-id`` and ``--system-type`` against the bind PDU's layout."""
    _check_cstr("--system-id", args.system_id, "BindTransceiver", "system_id")
    _check_cstr("--system-type", args.system_type, "BindTransceiver", "system_type")


def _check_destination(what: str, value: str, ton: int, *, ton_option: Optional[str] = "--dest-ton") -> None:
    """A destination must be a number unless its TON says alphanumeric; never empty.

    ``ton_option`` is the option that sets the TON, named in the hint (None: there is none).
    """
    if not value:
        raise CliError(f"{what} is empty: give the number to send to")
    if ton != Ton.ALPHANUMERIC and not (value.isascii() and value.isdigit()):
        hint = "without the '+'" if value.startswith("+") and value[1:].isdigit() else "digits only"
        if ton_option is not None:
            hint += f"; an alphanumeric address needs {ton_option} {int(Ton.ALPHANUMERIC)}"
        raise CliError(f"{what} {value!r} is not a number ({hint})")
    _check_cstr(what, value, "SubmitSm", "destination_addr")


def _add_link_options(p: argparse.ArgumentParser, *, host_default: Optional[str]) -> None:
    """The options of a command that binds to an SMSC (``send``, ``bench``)."""
    g = p.add_argument_group("connection")
    if host_default is None:
        g.add_argument("--host", help="the SMSC to benchmark (default: start the built-in simulator)")
    else:
        g.add_argument("--host", default=host_default, help="SMSC host (default: %(default)s)")
    g.add_argument("--port", type=_port_arg(1), default=2775, help="SMSC port (default: %(default)s)")
    g.add_argument("--smsc", type=_endpoint_arg, action="append", metavar="HOST:PORT",
                   help="an SMSC to bind to, instead of --host/--port; repeat it for a pool over several hosts")
    g.add_argument("--binds", type=_positive_int, default=1, metavar="N",
                   help="binds to each SMSC, sending as one pool (default: %(default)s)")
    g.add_argument("--system-id", default="smppfast", help="bind system_id (default: %(default)s)")
    g.add_argument(
        "--password-env",
        default="SMPP_PASSWORD",
        metavar="VAR",
        help="environment variable holding the password (default: %(default)s); when unset, "
        "a terminal prompts for it, otherwise the password is empty",
    )
    g.add_argument("--system-type", default="", help="bind system_type (default: empty)")
    g.add_argument(
        "--bind", choices=("transmitter", "transceiver"), default="transceiver", help="bind type (default: %(default)s)"
    )
    g.add_argument("--tls", action="store_true", help="connect over TLS")
    g.add_argument("--tls-insecure", action="store_true", help="with --tls: do not verify the certificate")
    g.add_argument(
        "--timeout", type=_non_negative_float, default=30.0, metavar="S", help="response timeout (default: %(default)s s)"
    )


# -- logging and the link -----------------------------------------------------------------


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger("smppfast")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _password(args: argparse.Namespace) -> str:
    """From the environment variable, else a prompt on a terminal, else empty.

    Never an option: a password on the command line leaks through ps and shell history.
    """
    value = os.environ.get(args.password_env)
    if value is not None:
        _check_cstr(f"the password in ${args.password_env}", value, "BindTransceiver", "password", secret=True)
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            value = getpass.getpass(f"password for {args.system_id}@{args.host}:{args.port}: ")
        except EOFError:
            return ""
        _check_cstr("the password typed", value, "BindTransceiver", "password", secret=True)
        return value
    log.info("$%s is not set and stdin is not a terminal; binding with an empty password", args.password_env)
    return ""


def _ssl_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    if not args.tls:
        return None
    context = ssl.create_default_context()
    if args.tls_insecure:
        # For test SMSCs with self-signed certificates; still encrypted, but not authenticated.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextlib.contextmanager
def bind_errors(where: str) -> Iterator[None]:
    """Turn each way a connect-and-bind to ``where`` can fail into a one-line CliError (any driver)."""
    try:
        yield
    except BindError as err:
        raise CliError(f"bind refused by {where}: {format_status(err.status)}", EXIT_BIND_REFUSED) from None
    except SmppTimeoutError:
        raise CliError(f"{where} accepted the connection but never answered the bind") from None
    except ConnectionClosedError as err:
        raise CliError(f"{where} closed the connection during the bind ({err})") from None
    except ssl.SSLError as err:
        raise CliError(f"TLS handshake with {where} failed: {err.reason or err}") from None
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise CliError(f"cannot connect to {where}: {reason}") from None
