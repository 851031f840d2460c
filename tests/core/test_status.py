"""The operator status table against the seed documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smscd import status
from smscd.smpp.constants import MessageState
from smscd.status import STATUS_CODES, Code, StatusGroup, is_final, lookup, lookup_name

# The seed table, (code, name), copied here so the test runs without the seed directory too.
SEED_CODES = {
    101: "Accepted",
    102: "Queued",
    103: "Funded",
    104: "Refunded",
    110: "Sending",
    111: "DeliveredToGateway",
    112: "DeliveredToCarrier",
    113: "DeliveredToGSM",
    114: "QueuedAtGateway",
    201: "DeliveredToHandset",
    202: "Expired",
    203: "Canceled",
    402: "InsufficientFunds",
    403: "SenderRejected",
    404: "ContentRejected",
    405: "RecipientRejected",
    406: "GenericRejected",
    407: "InvalidSender",
    408: "InvalidContent",
    409: "InvalidRecipient",
    410: "MissingSmsSubscription",
    500: "InternalError",
    501: "UnknownSubscriber",
    502: "SubscriberUnreachable",
    503: "SubscriberOffline",
    511: "DeliveryToGatewayFailed",
    512: "DeliveryToCarrierFailed",
    513: "DeliveryToGSMFailed",
    514: "DeliveryToHandsetFailed",
    515: "GenericDeliveryFailure",
    516: "GatewayError",
    599: "Unknown",
}

SEED_TABLE = Path(__file__).parent / "data" / "seed_status_codes.txt"
_SEED_ROW = re.compile(r"^(\w+) \| (\d{3}) \| (Info|Success|Rejection|Error) \| (.+?) \|$")


def seed_rows() -> list[tuple[int, str, str, str]]:
    """(code, name, group, comment) from the pipe-table seed page."""
    rows = []
    for line in SEED_TABLE.read_text("utf-8").splitlines():
        match = _SEED_ROW.match(line.strip())
        if match:
            name, code, group, comment = match.groups()
            rows.append((int(code), name, group, comment))
    return rows


def test_table_has_exactly_the_seed_codes_and_names() -> None:
    assert {c: row.name for c, row in STATUS_CODES.items()} == SEED_CODES
    assert list(STATUS_CODES) == sorted(STATUS_CODES)


def test_table_matches_seed_text_verbatim() -> None:
    rows = seed_rows()
    assert len(rows) == len(SEED_CODES)
    for code, name, group, comment in rows:
        row = STATUS_CODES[code]
        assert row.name == name
        assert row.group.name == group.upper()
        assert row.meaning == comment


def test_groups_follow_the_hundreds_digit() -> None:
    for code, row in STATUS_CODES.items():
        assert row.code == code
        assert row.group.value == code // 100


@pytest.mark.parametrize(
    ("code", "state", "stat"),
    [
        (101, MessageState.ENROUTE, "ENROUTE"),
        (114, MessageState.ENROUTE, "ENROUTE"),
        (201, MessageState.DELIVERED, "DELIVRD"),
        (202, MessageState.EXPIRED, "EXPIRED"),
        (203, MessageState.DELETED, "DELETED"),
        (402, MessageState.REJECTED, "REJECTD"),
        (410, MessageState.REJECTED, "REJECTD"),
        (500, MessageState.UNDELIVERABLE, "UNDELIV"),
        (514, MessageState.UNDELIVERABLE, "UNDELIV"),
        (599, MessageState.UNKNOWN, "UNKNOWN"),
    ],
)
def test_smpp_mapping(code: int, state: MessageState, stat: str) -> None:
    row = lookup(code)
    assert row.message_state is state
    assert row.stat == stat


def test_mapping_rules_for_every_row() -> None:
    for code, row in STATUS_CODES.items():
        assert len(row.stat) == 7
        assert row.stat == status.STAT_BY_STATE[row.message_state]
        if code < 200:
            assert row.message_state is MessageState.ENROUTE
        elif code >= 400 and code != 599:
            expected = MessageState.REJECTED if code < 500 else MessageState.UNDELIVERABLE
            assert row.message_state is expected


def test_every_message_state_has_a_stat_word() -> None:
    assert set(status.STAT_BY_STATE) == set(MessageState)
    assert len(set(status.STAT_BY_STATE.values())) == len(MessageState)


def test_is_final() -> None:
    finals = {code for code in STATUS_CODES if is_final(code)}
    assert finals == {code for code in STATUS_CODES if code >= 200}
    assert not is_final(101)
    assert is_final(201)
    assert is_final(599)
    assert StatusGroup.INFO.final is False
    assert lookup(405).final


def test_lookup_unknown_code_says_what_is_wrong() -> None:
    with pytest.raises(KeyError, match="unknown operator status code 200"):
        lookup(200)
    with pytest.raises(KeyError):
        is_final(0)


def test_lookup_by_name_ignores_case() -> None:
    assert lookup_name("SubscriberOffline").code == 503
    assert lookup_name("deliveredtohandset").code == 201
    with pytest.raises(KeyError, match="Delivered"):
        lookup_name("Delivered")


def test_code_enum_names_every_row() -> None:
    assert {int(c) for c in Code} == set(STATUS_CODES)
    for member in Code:
        # DELIVERED_TO_HANDSET <-> DeliveredToHandset
        assert member.name.replace("_", "") == lookup(member).name.upper()


def test_rows_are_frozen() -> None:
    row = lookup(201)
    with pytest.raises(AttributeError):
        row.code = 202  # type: ignore[misc]
    with pytest.raises(TypeError):
        STATUS_CODES[999] = row  # type: ignore[index]
