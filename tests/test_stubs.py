"""The ``_codec.pyi`` stub: generated from the layout table, and true to the runtime module."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import smppfast
from smppfast import _layout

ROOT = Path(__file__).resolve().parent.parent
# The package under test: the source tree's or an installed wheel's, whichever was imported.
PACKAGE_DIR = Path(smppfast.__file__).resolve().parent
STUB = PACKAGE_DIR / "_codec.pyi"
SOURCE_STUB = ROOT / "src" / "smppfast" / "_codec.pyi"
GENERATOR = ROOT / "tools" / "gen_codec_stub.py"
HAVE_MYPY = importlib.util.find_spec("mypy") is not None
needs_mypy = pytest.mark.skipif(not HAVE_MYPY, reason="mypy is not installed (pip install mypy)")

# stubtest allowlist: only what the stub cannot express.
# The generated PDU classes and their Pdu base inherit Cython's ``__init__(self, *args, **kwargs)``
# wrapper; the stub gives the real keyword-only parameters (positional arguments raise TypeError).
PDU_NAMES = ["Pdu", *(name for name, _, _, _ in _layout.PDUS)]
ALLOWLIST = "smppfast\\._codec\\.(" + "|".join(PDU_NAMES) + ")\\.__init__\n"


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not GENERATOR.exists(), reason="needs the source tree's tools/")
def test_committed_stub_matches_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "_codec.pyi"
    result = _run(str(GENERATOR), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == SOURCE_STUB.read_text(encoding="utf-8"), (
        "src/smppfast/_codec.pyi is stale: run python tools/gen_codec_stub.py")


def test_stub_covers_every_class_and_field() -> None:
    text = STUB.read_text(encoding="utf-8")
    for name, _, fields, _ in _layout.PDUS:
        assert f"\nclass {name}(Pdu):" in text
        for fname, _, _ in fields:
            assert f"    {fname}: " in text
    for public in ("def encode(", "def decode(", "class Decoder:", "class SmeAddress(NamedTuple):",
                   "class DistributionList(NamedTuple):", "class UnsuccessSme(NamedTuple):",
                   "def sm_length(self) -> int:", "def number_of_dests(self) -> int:",
                   "def no_unsuccess(self) -> int:", "command_id: ClassVar[int]",
                   "fields: ClassVar[tuple[str, ...]]", "dest_address: list[SmeAddress | DistributionList]",
                   "unsuccess_sme: list[UnsuccessSme]", "short_message: bytes"):
        assert public in text, public
    assert set(smppfast._codec.__all__) <= set(text.split('"'))
    assert "has_response: ClassVar[bool]" in text


def test_stub_keeps_internals_out() -> None:
    # The request window and its registration hooks are not part of the codec's interface.
    text = STUB.read_text(encoding="utf-8")
    for internal in ("RequestWindow", "_register_future_class", "_set_response_event_class", "@generated"):
        assert internal not in text, internal


@needs_mypy
def test_stubtest(tmp_path: Path) -> None:
    (tmp_path / "none.ini").write_text("[mypy]\n", encoding="utf-8")  # not the project's config
    allow = tmp_path / "allowlist.txt"
    allow.write_text(ALLOWLIST, encoding="utf-8")
    # Every compiled module's stub against the module itself.
    result = _run("-m", "mypy.stubtest", "smppfast._codec", "smppfast._text", "smppfast._window",
                  "smppfast._futures", "smppfast._memstore", "--allowlist", str(allow),
                  "--mypy-config-file", str(tmp_path / "none.ini"))
    assert result.returncode == 0, result.stdout + result.stderr


GOOD_USE = """
from typing import Literal
import {mod} as smppfast
from {mod} import SubmitSm, SubmitSmResp, SmeAddress, DistributionList, Decoder

pdu = SubmitSm(source_addr="1", short_message=b"hi", esm_class=3, tlvs={{0x1400: b"x"}})
n: int = pdu.sm_length + pdu.esm_class + pdu.sequence_number
text: str = pdu.source_addr
resp: SubmitSmResp = pdu.response(message_id="m")
multi = smppfast.SubmitMulti(dest_address=[SmeAddress(1, 1, "2"), DistributionList("d")])
count: int = multi.number_of_dests
data: bytes = smppfast.encode(pdu)
back: smppfast.Pdu = smppfast.decode(data)
got: list[smppfast.Pdu] = Decoder(max_pdu_size=1024).feed(memoryview(data))
cid: int = SubmitSm.command_id
names: tuple[str, ...] = SubmitSm.fields
answered: Literal[True] = SubmitSm.has_response
unanswered: Literal[False] = smppfast.AlertNotification.has_response
any_pdu: bool = back.has_response
"""

BAD_USE = """
from smppfast._codec import SubmitSm, SubmitMulti
SubmitSm(source_addr=5)
SubmitSm(no_such_field=1)
SubmitSm("positional")
pdu = SubmitSm()
pdu.sm_length = 3
pdu.short_message = "text"
SubmitMulti(dest_address=["123"])
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "none.ini").write_text("[mypy]\n", encoding="utf-8")  # not the project's config
    (tmp_path / "use.py").write_text(source, encoding="utf-8")
    return _run("-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
                "--config-file", str(tmp_path / "none.ini"), "use.py", cwd=tmp_path)


@needs_mypy
def test_stub_types_user_code(tmp_path: Path) -> None:
    ok = _mypy(tmp_path, GOOD_USE.format(mod="smppfast._codec"))
    assert ok.returncode == 0, ok.stdout + ok.stderr


@needs_mypy
def test_stub_rejects_wrong_user_code(tmp_path: Path) -> None:
    fails = _mypy(tmp_path, BAD_USE)
    lines = [line for line in fails.stdout.splitlines() if ": error:" in line]
    # every line but the plain ``pdu = SubmitSm()`` is an error
    assert {int(line.split(":")[1]) for line in lines} == {3, 4, 5, 7, 8, 9}, fails.stdout


@needs_mypy
def test_public_names_type_check_under_strict(tmp_path: Path) -> None:
    # ``from smppfast import SubmitSm`` must work for users running mypy --strict
    # (no implicit re-export): the package has to list its public names in __all__.
    ok = _mypy(tmp_path, GOOD_USE.format(mod="smppfast"))
    assert ok.returncode == 0, ok.stdout + ok.stderr


CLIENT_USE = """
import concurrent.futures as cf
import smppfast
from smppfast import Client, SubmitSm, DeliverSm

def on_message(message: smppfast.CompleteMessage) -> int:
    return smppfast.Status.ESME_ROK if message.text else smppfast.Status.ESME_RX_P_APPN

def on_receipt(receipt: smppfast.DeliveryReceipt) -> None:
    print(receipt.message_id, receipt.stat)

def send(port: int) -> list[str]:
    with Client("127.0.0.1", port, system_id="me", password="pw", window=100,
                on_message=on_message, on_receipt=on_receipt) as client:
        futures = client.submit_many([SubmitSm(destination_addr="447700900123", short_message=b"hi")])
        ids: list[str] = []
        for fut in cf.as_completed(futures):
            response: smppfast.SubmitSmResp = fut.result()
            ids.append(response.message_id)
        one: str = client.submit(SubmitSm(destination_addr="1")).result(5).message_id
        other: smppfast.Pdu = client.submit(smppfast.EnquireLink()).result(5)
        parts = client.send_message("447700900123", "hello", source_addr="me")
        done, _ = cf.wait(parts, timeout=5)
        ids += parts.message_ids(timeout=5)
        return ids
"""


ASYNC_USE = """
import asyncio
import smppfast
from smppfast import AsyncClient, SubmitSm

async def on_message(message: smppfast.CompleteMessage) -> None:
    print(message.text)

async def main(port: int) -> list[str]:
    async with AsyncClient("127.0.0.1", port, system_id="me", password="pw", on_message=on_message) as client:
        response = await client.submit(SubmitSm(destination_addr="1", short_message=b"hi"))
        futures = await client.submit_many([SubmitSm(destination_addr="1")])
        done: list[smppfast.SubmitSmResp] = list(await asyncio.gather(*futures))
        parts = await client.send_message("447700900123", "hello")
        return [response.message_id] + [r.message_id for r in done] + [p.message_id for p in parts]
"""


@needs_mypy
def test_async_client_use_type_checks_under_strict(tmp_path: Path) -> None:
    ok = _mypy(tmp_path, ASYNC_USE)
    assert ok.returncode == 0, ok.stdout + ok.stderr


@needs_mypy
def test_client_use_as_the_readme_shows_type_checks_under_strict(tmp_path: Path) -> None:
    ok = _mypy(tmp_path, CLIENT_USE)
    assert ok.returncode == 0, ok.stdout + ok.stderr


POOL_USE = """
import asyncio
import threading
import smppfast
from smppfast import AsyncPool, MemoryStore, Pool, SqliteStore, SubmitSm
from smppfast.aio import wait_all

def on_receipt(receipt: smppfast.DeliveryReceipt) -> None:
    ref: str | None = receipt.ref
    print(ref, receipt.message_id)

def send(port: int, path: str) -> list[str]:
    with Pool([("127.0.0.1", port), ("127.0.0.1", port)], binds=2, system_id="me", password="pw",
              window=20, rate_limit=100.0, store=SqliteStore(path, ttl=3600.0), on_receipt=on_receipt) as pool:
        one: str = pool.submit(SubmitSm(destination_addr="1"), ref="r1").result(5).message_id
        many = pool.submit_many([SubmitSm(destination_addr="1")])
        handle = pool.send_message("447700900123", "hello", ref="r2", registered_delivery=1)
        bound: int = pool.bound_members
        submitted: int = pool.stats.submitted
        return [one] + [f.result().message_id for f in many] + handle.message_ids(timeout=5)

async def main(port: int) -> list[str]:
    async with AsyncPool([("127.0.0.1", port)], binds=2, system_id="me", password="pw",
                         store=MemoryStore(ttl=60.0)) as pool:
        response = await pool.submit(SubmitSm(destination_addr="1"), ref="r3")
        futures = await pool.submit_many([SubmitSm(destination_addr="1")])
        done = await wait_all(futures)
        parts = await pool.send_message("447700900123", "hello", ref="r4")
        return [response.message_id] + [f.result().message_id for f in done] + [p.message_id for p in parts]
"""


@needs_mypy
def test_pool_and_stores_use_type_checks_under_strict(tmp_path: Path) -> None:
    ok = _mypy(tmp_path, POOL_USE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
