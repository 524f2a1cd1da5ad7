"""A real ``redis-server`` for the tests: a child process on a free port of 127.0.0.1, with no
persistence, its files in a temporary directory, stopped at the end.

The ``redis_server`` fixture (tests/conftest.py, one per session) is the way tests get one. A
missing ``redis-server`` fails the tests that need it, never skips them: ``.ci/run`` installs
Debian's ``redis-server`` package when it is not on PATH.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["RedisServer", "missing_reason"]

_START_TIMEOUT = 10.0


def missing_reason() -> Optional[str]:
    """Why no redis-server can be started here, or None."""
    if shutil.which("redis-server") is None:
        return ("redis-server is not on PATH, and the Redis tests need a real one: install Debian's "
                "redis-server package (apt-get install -y redis-server; .ci/run does it)")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pong(port: int) -> bool:
    """True when a server on ``port`` answers PING (bounded: one second). A server with a password
    answers "-NOAUTH": that is an answer too."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """``redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no`` in a child process.

    ``persistent=True`` turns the append-only file on (``appendfsync always``), so that
    :meth:`restart` (a stop and a start on the same port, the same files) keeps every write: what
    a Redis restart in production looks like.
    """

    def __init__(self, password: Optional[str] = None, *, persistent: bool = False) -> None:
        reason = missing_reason()
        if reason:
            raise RuntimeError(reason)
        self.port = 0
        self.password = password
        self.persistent = persistent
        self._dir = tempfile.TemporaryDirectory(prefix="smppfast-redis-")
        self._proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        for _ in range(5):  # another process may take the free port between our look and redis' bind
            if self._launch(_free_port()):
                return self
        raise RuntimeError(f"redis-server did not answer PING within {_START_TIMEOUT:g} s; its log:\n"
                           + self._log.read_text(errors="replace")[-2000:])

    def restart(self, down: float = 0.0) -> None:
        """Stop the server (SIGTERM: it writes its files and exits), stay down ``down`` seconds, and
        start it again on the same port with the same files."""
        proc, self._proc = self._proc, None
        if proc is None:
            raise RuntimeError("the server is not running")
        self._end(proc)
        time.sleep(down)
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._launch(self.port):  # the old socket may linger for a moment
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not come back on port {self.port}; its log:\n"
                                   + self._log.read_text(errors="replace")[-2000:])
            time.sleep(0.1)

    @property
    def _log(self) -> Path:
        return Path(self._dir.name) / "redis.log"

    def _launch(self, port: int) -> bool:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        with open(self._log, "ab") as out:
            proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", *persistence,
                 "--dir", self._dir.name, "--daemonize", "no",
                 *(["--requirepass", self.password] if self.password else [])],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            if _pong(port):
                self._proc, self.port = proc, port
                return True
            time.sleep(0.05)
        self._end(proc)
        return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._end(proc)
        self._dir.cleanup()

    @staticmethod
    def _end(proc: "subprocess.Popen[bytes]") -> None:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
