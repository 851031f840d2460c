"""smpplib, a client we did not write, against `smscd run` over real sockets."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from tests.e2e.conftest import RunningDaemon, SmpplibEsme

pytestmark = pytest.mark.timeout(60)


class Esme(SmpplibEsme):
    """An smpplib client that submits texts and collects their receipts."""

    def submit(self, text: str, destination: str = "46700000001", **extra: Any) -> list[str]:
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        before = len(self.sent)
        for part in parts:
            self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                source_addr="46700000000",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr=destination,
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
                **extra,
            )
        while len(self.sent) < before + len(parts):
            self.client.read_once()
        return [_text(pdu.message_id) for pdu in self.sent[before:]]

    def receipts_for(self, message_ids: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        while True:
            for pdu in self.received:
                receipted = _text(getattr(pdu, "receipted_message_id", b"") or b"")
                if receipted in message_ids:
                    found[receipted] = pdu
            if len(found) == len(message_ids):
                return found
            self.client.read_once()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _get(daemon: RunningDaemon, path: str) -> Any:
    with urllib.request.urlopen(daemon.http_url(path), timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def esme(daemon: RunningDaemon) -> Any:
    client = Esme(daemon)
    client.client.bind_transceiver(system_id="smppclient1", password="password")
    yield client
    with contextlib.suppress(Exception):  # the test may have closed the link itself
        client.client.unbind()
    client.client.disconnect()


def test_gsm_text_with_extension_characters_round_trips_and_gets_receipt(
    daemon: RunningDaemon, esme: Esme
) -> None:
    text = "Price: 5€ [a]{b}^~|\\ ok"
    (message_id,) = esme.submit(text)
    receipt = esme.receipts_for([message_id])[message_id]
    body = _text(receipt.short_message)
    assert body.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
    assert " stat:DELIVRD err:201 text:" in body
    # Receipts are ASCII (IA5): the quoted text keeps GSM extension characters, not the euro.
    assert receipt.data_coding == 1
    assert body.endswith("text:" + text[:20].replace("€", "?"))
    assert receipt.esm_class == 0x04  # SMSC delivery receipt
    assert receipt.message_state == smpplib.consts.SMPP_MESSAGE_STATE_DELIVERED
    # Receipt addresses are the original's, swapped.
    assert _text(receipt.source_addr) == "46700000001"
    assert _text(receipt.destination_addr) == "46700000000"
    view = _get(daemon, f"/api/v1/messages/{message_id}")
    assert view["text"] == text
    assert [step["code"] for step in view["history"]] == [101, 102, 103, 110, 111, 112, 113, 201]


def test_ucs2_with_emoji_survives_as_surrogate_pairs(daemon: RunningDaemon, esme: Esme) -> None:
    text = "Hej 😀 världen 🎉 ✓"
    (message_id,) = esme.submit(text)
    esme.receipts_for([message_id])
    assert _get(daemon, f"/api/v1/messages/{message_id}")["text"] == text


def test_long_message_split_by_make_parts_gets_one_receipt_per_part(
    daemon: RunningDaemon, esme: Esme
) -> None:
    text = "".join(f"{i:03d} lorem ipsum. " for i in range(25))  # 450 GSM chars, 3 parts
    ids = esme.submit(text)
    assert len(ids) == 3
    assert len(set(ids)) == 3
    receipts = esme.receipts_for(ids)
    assert set(receipts) == set(ids)
    views = [_get(daemon, f"/api/v1/messages/{message_id}") for message_id in ids]
    assert all(view["parts"] == 3 for view in views)
    assert "".join(view["text"] for view in views) == text
    # Reassembled: every part knows its place and, once all arrived, the whole text.
    assert [view["concat"]["sequence"] for view in views] == [1, 2, 3]
    assert all(view["concat"]["text"] == text for view in views)


def test_query_sm_reports_the_final_state(daemon: RunningDaemon, esme: Esme) -> None:
    (message_id,) = esme.submit("query me")
    esme.receipts_for([message_id])
    pdu = smpplib.smpp.make_pdu(
        "query_sm",
        client=esme.client,
        message_id=message_id,
        source_addr="46700000000",
        source_addr_ton=smpplib.consts.SMPP_TON_INTL,
    )
    esme.client.send_pdu(pdu)
    response = esme.client.read_pdu()
    assert response.command == "query_sm_resp"
    assert response.status == 0
    assert _text(response.message_id) == message_id
    assert response.message_state == smpplib.consts.SMPP_MESSAGE_STATE_DELIVERED


def test_query_sm_for_unknown_id_fails(esme: Esme) -> None:
    pdu = smpplib.smpp.make_pdu(
        "query_sm", client=esme.client, message_id="42", source_addr="46700000000"
    )
    esme.client.send_pdu(pdu)
    response = esme.client.read_pdu()
    assert response.command == "query_sm_resp"
    assert response.status == smpplib.consts.SMPP_ESME_RQUERYFAIL


def test_enquire_link_is_answered(esme: Esme) -> None:
    pdu = smpplib.smpp.make_pdu("enquire_link", client=esme.client)
    esme.client.send_pdu(pdu)
    response = esme.client.read_pdu()
    assert response.command == "enquire_link_resp"
    assert response.sequence == pdu.sequence


def test_wrong_password_is_refused(daemon: RunningDaemon) -> None:
    client = Esme(daemon).client
    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        client.bind_transceiver(system_id="smppclient1", password="wrong")
    assert refused.value.args[1] == smpplib.consts.SMPP_ESME_RINVPASWD
    client.disconnect()


def test_unknown_system_id_is_refused(daemon: RunningDaemon) -> None:
    client = Esme(daemon).client
    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        client.bind_transmitter(system_id="nobody", password="password")
    assert refused.value.args[1] == smpplib.consts.SMPP_ESME_RINVSYSID
    client.disconnect()


def test_unbind_is_acknowledged(daemon: RunningDaemon) -> None:
    client = Esme(daemon).client
    client.bind_transmitter(system_id="smppclient1", password="password")
    response = client.unbind()
    assert response.command == "unbind_resp"
    assert response.status == 0
    client.disconnect()


def test_receipts_wait_for_a_receiver_to_bind(daemon: RunningDaemon) -> None:
    sender = Esme(daemon)
    sender.client.bind_transmitter(system_id="smppclient1", password="password")
    ids = sender.submit("for later")
    sender.client.unbind()
    sender.client.disconnect()
    receiver = Esme(daemon)
    receiver.client.bind_receiver(system_id="smppclient1", password="password")
    assert set(receiver.receipts_for(ids)) == set(ids)
    receiver.client.unbind()
    receiver.client.disconnect()


def test_http_api_lists_sessions_and_status_codes(daemon: RunningDaemon, esme: Esme) -> None:
    health = _get(daemon, "/api/v1/health")
    assert health["status"] == "ok"
    sessions = _get(daemon, "/api/v1/sessions")
    assert [s["system_id"] for s in sessions] == ["smppclient1"]
    assert sessions[0]["bind_type"] == "transceiver"
    codes = {row["code"]: row for row in _get(daemon, "/api/v1/status-codes")}
    assert codes[201]["stat"] == "DELIVRD"
    assert codes[202]["name"] == "Expired"
    assert len(codes) == 32
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(daemon, "/api/v1/messages/does-not-exist")
    assert missing.value.code == 404
    assert "does-not-exist" in json.loads(missing.value.read())["error"]


def test_sigterm_unbinds_sessions_and_exits_zero(daemon: RunningDaemon) -> None:
    client = Esme(daemon).client
    client.bind_transceiver(system_id="smppclient1", password="password")
    assert daemon.stop() == 0
    # The daemon said unbind before closing; smpplib sees it as a PDU (or a closed link).
    try:
        pdu = client.read_pdu()
        assert pdu.command == "unbind"
    except (OSError, smpplib.exceptions.ConnectionError):
        pytest.fail("daemon closed the link without an unbind")
    finally:
        client.disconnect()
    events = [event["event"] for event in daemon.log_events()]
    assert "shutdown_complete" in events
