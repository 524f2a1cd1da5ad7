"""The ``smppfast`` command: ``simulator``, ``send``, ``bench``, ``decode``, ``count`` and ``worker``.

Run ``smppfast <command> --help`` for the options. Exit codes are part of the interface, so
scripts can tell failures apart:

* 0 - success;
* 1 - the command ran but something it did failed: ``send``: a part was refused or got no
  response, a receipt never came; ``bench``: any submit was refused (by status) or got no
  response, or some were never sent;
* 2 - bad input or no link: a bad option or argument, a value too long for its SMPP field
  (the option and the limit are named; a password's characters never are), an empty or
  non-numeric destination (alphanumeric needs ``--dest-ton 5``), bad hex, a malformed PDU,
  an unreachable host, a TLS or bind-timeout failure, and any other library error
  (``SmppError``), with its status in plain words where there is one;
* 3 - the SMSC refused the bind (the status is printed in plain words);
* 130 - interrupted (Ctrl-C); ``bench`` first prints what it measured until then.

Errors are one line on stderr (``smppfast: error: ...``), never a traceback or the usage
text (only ``smppfast`` with no arguments shows the usage). The command's own results go to
stdout; logs (``-v``/``-vv``), the bench progress line and bench's count of failed submits
go to stderr so stdout stays parseable. ``-vv`` logs every PDU in and out: the simulator
through its trace hook, ``send`` and ``bench`` through the library's ``smppfast.pdu`` logger.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from .. import __version__
from ..errors import SmppError
from . import bench, count, decode, send, simulator, worker
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    Parser,
    _error_line,
    _setup_logging,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="smppfast",
        description="SMPP 3.4 tools: a test SMSC, a sender, a benchmark, a PDU decoder, a text counter and a worker "
        "serving a Redis Stream.",
        epilog="Exit codes: 0 ok, 1 something failed, 2 bad input or no connection, 3 bind refused, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"smppfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # -vv promises only what it shows: the simulator traces every PDU through its hook, send
    # and bench through the session's smppfast.pdu logger; decode exchanges no PDU.
    def verbose(detail: str) -> argparse.ArgumentParser:
        parent = argparse.ArgumentParser(add_help=False)
        parent.add_argument("-v", "--verbose", action="count", default=0, help=f"-v: info log, -vv: debug log ({detail})")
        return parent

    traced = verbose("every PDU in and out")
    untraced = verbose("the library's debug log")
    # One module per subcommand, each adding its own parser; the order is the order of --help.
    for command, parent in ((simulator, traced), (send, traced), (bench, traced), (decode, untraced),
                            (count, untraced), (worker, traced)):
        command.register(sub, [parent])
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``smppfast`` command; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):
        # Decoded texts can hold any character; a console that cannot show one should get
        # an escape, not a UnicodeEncodeError.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_usage(sys.stderr)  # no command at all: show what there is
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except CliError as err:
        sys.stdout.flush()
        sys.stderr.write(f"smppfast: error: {err}\n")
        return err.code
    except SmppError as err:
        # The commands turn the errors they expect into a CliError in their own words; any
        # other error of the library is still the user's input or the link: one line, exit 2.
        sys.stdout.flush()
        sys.stderr.write(f"smppfast: error: {_error_line(err)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("smppfast: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout went away (e.g. `| head`): exit quietly, and keep Python's shutdown
        # flush from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED

