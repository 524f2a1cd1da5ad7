"""One home for what a command_status means: ``status_description`` and ``format_status``."""

from __future__ import annotations

import pickle

import pytest

import smppfast
from smppfast import BindError, CommandStatusError, Status, format_status, status_description
from smppfast.constants import VENDOR_STATUSES


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.name)
def test_every_status_has_a_description_of_its_own(status: Status) -> None:
    text = status_description(status)
    assert text and text not in ("Reserved", "Vendor-specific")
    assert status.description == text
    assert status_description(int(status)) == text  # a plain int from the wire works too
    assert format_status(status) == f"{status.name} (0x{int(status):08X}): {text}"


def test_descriptions_are_distinct() -> None:
    texts = [status_description(s) for s in Status]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (0x00, "No Error"),
        (0x0E, "Invalid Password"),
        (0x58, "Throttling error (ESME has exceeded allowed message limits)"),
        (0x64, "ESME Receiver Temporary App Error Code"),
        (0x65, "ESME Receiver Permanent App Error Code"),
        (0x66, "ESME Receiver Reject Message Error Code"),
        (0xC0, "Error in the optional part of the PDU Body"),
        (0xFF, "Unknown Error"),
    ],
)
def test_descriptions_are_the_specifications(status: int, text: str) -> None:
    assert status_description(status) == text


@pytest.mark.parametrize("status", [0x09, 0x10, 0x16, 0x4A, 0x59, 0x68, 0xBF, 0xC5, 0x100, 0x3FF, 0x500, 0xFFFFFFFF])
def test_unassigned_values_are_reserved(status: int) -> None:
    assert status_description(status) == "Reserved"
    assert format_status(status) == f"0x{status:08X} (unknown status)"


@pytest.mark.parametrize("status", [0x400, 0x401, 0x4FF])
def test_vendor_range(status: int) -> None:
    assert status in VENDOR_STATUSES
    assert status_description(status) == "Vendor-specific"
    assert format_status(status) == f"0x{status:08X} (vendor-specific)"


def test_formats_named_in_the_contract() -> None:
    assert format_status(0x0E) == "ESME_RINVPASWD (0x0000000E): Invalid Password"
    assert format_status(Status.ESME_RTHROTTLED) == (
        "ESME_RTHROTTLED (0x00000058): Throttling error (ESME has exceeded allowed message limits)")
    assert format_status(0x599) == "0x00000599 (unknown status)"
    assert format_status(0x401) == "0x00000401 (vendor-specific)"


def test_values_that_are_no_status_at_all() -> None:
    assert status_description(-1) == "" and status_description(1 << 32) == ""
    assert format_status(-1) == "-1 (unknown status)"


def test_package_exports_them() -> None:
    assert smppfast.format_status is format_status and smppfast.status_description is status_description
    assert {"format_status", "status_description"} <= set(smppfast.__all__)


def test_command_status_error_names_the_description() -> None:
    resp = smppfast.SubmitSmResp(sequence_number=3, command_status=Status.ESME_RTHROTTLED)
    err = CommandStatusError(resp.command_status, resp)
    assert str(err) == (
        "command failed with status ESME_RTHROTTLED (0x00000058): "
        "Throttling error (ESME has exceeded allowed message limits)")
    assert err.status == 0x58 and err.response is resp
    assert str(CommandStatusError(0x402)) == "command failed with status 0x00000402 (vendor-specific)"
    assert str(CommandStatusError(8, None, "own words")) == "own words"


def test_bind_error_names_the_description_and_pickles() -> None:
    err = BindError(Status.ESME_RINVPASWD, smppfast.BindTransceiverResp(command_status=0x0E))
    assert str(err) == "bind refused with status ESME_RINVPASWD (0x0000000E): Invalid Password"
    assert isinstance(err, CommandStatusError)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is BindError and str(back) == str(err) and back.status == 0x0E
