"""The pytest plugin, used the way a user's project uses it: a test file run by pytest in a subprocess.

When smppfast is installed the plugin arrives through its ``pytest11`` entry point (that is
what is tested then); from a source checkout it is loaded with ``-p smppfast.pytest_plugin``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from importlib import metadata
from pathlib import Path

import smppfast

USER_TESTS = '''
import threading

import pytest

import smppfast
from smppfast.simulator import Faults, Simulator


def test_send_through_the_fixture(smsc):
    assert isinstance(smsc, Simulator)
    assert smsc.host == "127.0.0.1" and smsc.port > 0
    with smppfast.Client(smsc.host, smsc.port, system_id="app", password="pw") as client:
        futures = client.send_message("15551234", "hello " * 40, source_addr="Shop")
        ids = [f.result(10).message_id for f in futures]
    assert len(ids) == 2 and all(ids)
    assert smsc.submits == 2
    assert [p.destination_addr for p in smsc.received if type(p) is smppfast.SubmitSm] == ["15551234"] * 2


def test_each_test_gets_a_fresh_simulator(smsc):
    assert smsc.submits == 0


def test_receipts_and_mo(smsc):
    receipts, messages = [], []
    got = threading.Event()

    def on_receipt(r):
        receipts.append(r)
        got.set()

    with smppfast.Client(smsc.host, smsc.port, system_id="app", password="pw",
                         on_receipt=on_receipt, on_message=messages.append) as client:
        client.submit(smppfast.SubmitSm(destination_addr="1555", short_message=b"hi",
                                        registered_delivery=1)).result(10)
        assert got.wait(10)
        smsc.send_mo("1555", "app", "reply")
        assert smsc.wait_for(lambda: messages, 10)
    assert receipts[0].delivered
    assert messages[0].text == "reply"


@pytest.mark.smsc(credentials={"app": "secret"}, faults={"status": smppfast.Status.ESME_RINVDSTADR})
def test_marker_configures_the_fixture(smsc):
    with pytest.raises(smppfast.BindError) as info:
        smppfast.Client(smsc.host, smsc.port, system_id="app", password="nope").connect()
    assert info.value.status == smppfast.Status.ESME_RINVPASWD
    with smppfast.Client(smsc.host, smsc.port, system_id="app", password="secret") as client:
        fut = client.submit(smppfast.SubmitSm(destination_addr="1", short_message=b"x"))
        with pytest.raises(smppfast.CommandStatusError) as err:
            fut.result(10)
    assert err.value.status == smppfast.Status.ESME_RINVDSTADR


@pytest.mark.smsc(faults={"status": "ESME_RINVDSTADR"})
def test_marker_takes_status_names_and_long_mo_is_split(smsc):
    messages = []
    with smppfast.Client(smsc.host, smsc.port, system_id="app", password="pw",
                         on_message=messages.append) as client:
        fut = client.submit(smppfast.SubmitSm(destination_addr="1", short_message=b"x"))
        with pytest.raises(smppfast.CommandStatusError) as err:
            fut.result(10)
        assert err.value.status == smppfast.Status.ESME_RINVDSTADR
        assert smsc.send_mo("1555", "app", "long reply " * 30) == 3
        assert smsc.wait_for(lambda: messages, 10)
    assert messages[0].text == "long reply " * 30
    with pytest.raises(ValueError, match="throttle_every"):
        smsc.set_faults(throttle_every=-1)


def test_factory_starts_several(smsc_factory):
    a = smsc_factory(credentials={"a": "1"})
    b = smsc_factory(faults=Faults(throttle_every=2), system_id="other")
    assert a.port != b.port
    with smppfast.Client(b.host, b.port, system_id="x", password="y", throttle_backoff=0.01) as client:
        for _ in range(4):
            client.submit(smppfast.SubmitSm(destination_addr="1", short_message=b"x")).result(10)
        assert client.stats.throttled >= 1
    pytest.stopped = (a, b)  # checked by the next test


def test_factory_stopped_them(smsc_factory):
    a, b = pytest.stopped
    assert a._thread is None and b._thread is None


def test_bad_faults_are_reported(smsc_factory):
    with pytest.raises(TypeError, match="unknown Faults field"):
        smsc_factory(faults={"throttle_evry": 2})
'''


def _plugin_installed() -> bool:
    return any(ep.value == "smppfast.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(smppfast.__file__)))
    installed = {os.path.abspath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def test_users_tests_run_with_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_my_app.py").write_text(textwrap.dedent(USER_TESTS))
    # Loading the plugin by its module name when the entry point already loaded it would
    # register it twice (an error), so -p only when it is not installed.
    load = [] if _plugin_installed() else ["-p", "smppfast.pytest_plugin"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *load, "-p", "no:cacheprovider", "--strict-markers",
         "-W", "error", "-q", "test_my_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # --strict-markers above also proves the plugin registers its `smsc` marker.
    assert "8 passed" in result.stdout

