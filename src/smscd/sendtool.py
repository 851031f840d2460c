"""`smscd send`: bind, submit one (possibly long) text, wait for and print its receipts."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import trio

from smscd.client import Esme, EsmeError
from smscd.receipt import parse_receipt
from smscd.smpp.constants import BindType, CommandStatus, EsmClass, status_name
from smscd.smpp.pdus import SubmitSm
from smscd.sms.coding import Alphabet, data_coding_for
from smscd.sms.segments import split

_ALPHABETS = {"gsm": Alphabet.GSM7, "ucs2": Alphabet.UCS2, "latin1": Alphabet.LATIN1}


@attrs.frozen
class SendRequest:
    host: str
    port: int
    system_id: str
    password: str = attrs.field(repr=False)
    source: str
    destination: str
    text: str
    coding: str = "auto"
    want_receipt: bool = True
    timeout: float = 30.0


async def send_message(request: SendRequest, echo: Callable[[str], None]) -> bool:
    """Returns True when every part was accepted (and, if asked, delivered)."""
    alphabet = _ALPHABETS.get(request.coding)
    segments = split(request.text, alphabet=alphabet, reference=random.randrange(256))
    esme = await Esme.open(request.host, request.port)
    ok = True
    async with trio.open_nursery() as nursery:
        await nursery.start(esme.run)
        try:
            await esme.bind(request.system_id, request.password, BindType.TRANSCEIVER)
            echo(f"bound to {request.host}:{request.port} as {request.system_id}")
            waiting: set[str] = set()
            for segment in segments:
                response = await esme.request(
                    SubmitSm(
                        source_addr=request.source,
                        source_addr_ton=5 if not request.source.isdigit() else 1,
                        source_addr_npi=0 if not request.source.isdigit() else 1,
                        destination_addr=request.destination,
                        dest_addr_ton=1,
                        dest_addr_npi=1,
                        esm_class=EsmClass.UDHI if segment.udh else 0,
                        data_coding=data_coding_for(segment.alphabet),
                        registered_delivery=1 if request.want_receipt else 0,
                        short_message=segment.short_message,
                    )
                )
                label = f"part {segment.sequence}/{segment.total}"
                if response.command_status != CommandStatus.ESME_ROK:
                    echo(f"{label}: refused with {status_name(response.command_status)}")
                    ok = False
                    continue
                message_id: str = getattr(response, "message_id", "")
                echo(f"{label}: accepted, message_id {message_id}")
                waiting.add(message_id)
            if request.want_receipt and waiting:
                ok = await _await_receipts(esme, waiting, request.timeout, echo) and ok
            await esme.unbind()
        except EsmeError as exc:
            echo(f"error: {exc}")
            ok = False
        finally:
            await esme.aclose()
            nursery.cancel_scope.cancel()
    return ok


async def _await_receipts(
    esme: Esme, waiting: set[str], timeout: float, echo: Callable[[str], None]
) -> bool:
    delivered = True
    with trio.move_on_after(timeout) as scope:
        async for pdu in esme.deliveries:
            if not pdu.esm_class & EsmClass.TYPE_SMSC_DELIVERY_RECEIPT:
                continue
            text = pdu.short_message.decode("latin-1")
            fields = parse_receipt(text)
            echo(f"receipt: {text}")
            if fields.message_id in waiting:
                waiting.discard(fields.message_id)
                delivered = delivered and fields.stat == "DELIVRD"
            if not waiting:
                break
    if scope.cancelled_caught:
        echo(f"no receipt within {timeout:g} s for: {', '.join(sorted(waiting))}")
        return False
    return delivered
