"""One SmppConnection over trio memory streams, its peer an ESME-role Session; virtual time.

Every timer of the transport runs here in milliseconds of real time: autojump_clock skips
ahead whenever all tasks are idle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import attrs
import trio
import trio.testing

from smscd.config import parse_config
from smscd.daemon import Daemon
from smscd.smpp.constants import BindType
from smscd.smpp.pdus import DeliverSm, DeliverSmResp, EnquireLinkResp, SubmitSm
from smscd.smpp.session import (
    BindCompleted,
    Event,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
)
from smscd.transport.connection import SmppConnection

CONFIG = """
[smpp]
window = 2
response_timeout = "10s"
enquire_link_interval = "30s"
session_init_timeout = "20s"
inactivity_timeout = "5m"
[http]
listen = ""
[delivery]
delay = "1s"
receipt_retry = "15s"
[store]
backend = "memory"
[[accounts]]
system_id = "acme"
password = "secret"
[[carriers]]
name = "instant"
type = "instant"
"""


@attrs.define
class Peer:
    """The ESME end: a sans-IO session we drive by hand, and what it has seen."""

    stream: trio.abc.Stream
    session: Session
    events: list[Event] = attrs.Factory(list)
    closed: bool = False

    async def flush(self) -> None:
        data = self.session.data_to_send()
        if data:
            await self.stream.send_all(data)

    async def pump(self, answer_deliver: bool = True) -> None:
        """Read until EOF, answering deliver_sm if asked and recording events."""
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                self.closed = True
                return
            for event in self.session.receive_data(data, trio.current_time()):
                self.events.append(event)
                if (
                    answer_deliver
                    and isinstance(event, RequestReceived)
                    and isinstance(event.pdu, DeliverSm)
                ):
                    self.session.send_response(
                        DeliverSmResp(sequence_number=event.pdu.sequence_number)
                    )
            await self.flush()

    def received(self, kind: type) -> list[object]:
        return [
            e.pdu for e in self.events if isinstance(e, RequestReceived) and isinstance(e.pdu, kind)
        ]


@asynccontextmanager
async def connected(text: str = CONFIG) -> AsyncIterator[tuple[Daemon, Peer, trio.Nursery]]:
    daemon = Daemon(parse_config(text, "timers.toml"))
    server_end, client_end = trio.testing.memory_stream_pair()
    session_config = daemon.server._session_config
    connection = SmppConnection(server_end, ("127.0.0.1", 40000), daemon.context, session_config)
    peer_session = Session(
        Role.ESME, SessionConfig(enquire_link_interval=0, inactivity_timeout=0), 0.0
    )
    peer = Peer(client_end, peer_session)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(daemon.carriers["instant"].run, daemon.router))
        await nursery.start(daemon.outboxes.run)
        nursery.start_soon(connection.run)
        yield daemon, peer, nursery
        nursery.cancel_scope.cancel()


async def bind(peer: Peer) -> None:
    peer.session.bind(BindType.TRANSCEIVER, "acme", "secret", trio.current_time())
    await peer.flush()


async def expect_deaf_peer_dropped(
    peer: Peer, command_id: bytes, *, asked: float, dropped: float
) -> None:
    """Bind, then stop answering: the server sends `command_id` at +asked, closes at +dropped."""
    await bind(peer)
    data = await peer.stream.receive_some(65536)  # bind_resp; nothing is answered from now on
    peer.session.receive_data(data, trio.current_time())
    start = trio.current_time()
    seen = await peer.stream.receive_some(65536)
    assert seen[4:8] == command_id
    assert asked <= trio.current_time() - start < asked + 1
    while await peer.stream.receive_some(65536):
        pass
    assert dropped <= trio.current_time() - start < dropped + 2


async def test_unbound_connection_is_closed_at_session_init_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with connected() as (_, peer, _nursery):
        start = trio.current_time()
        await peer.pump()
        assert peer.closed
        assert 20 <= trio.current_time() - start < 21


async def test_one_byte_trickle_binds(autojump_clock: trio.testing.MockClock) -> None:
    async with connected() as (_, peer, nursery):
        peer.session.bind(BindType.TRANSCEIVER, "acme", "secret", trio.current_time())
        data = peer.session.data_to_send()
        for i in range(len(data)):
            await peer.stream.send_all(data[i : i + 1])
            await trio.sleep(0.01)
        nursery.start_soon(peer.pump)
        await trio.sleep(1)
        assert any(isinstance(e, BindCompleted) for e in peer.events)
        assert peer.session.state.name == "BOUND_TRX"


async def test_idle_link_gets_enquire_link_and_dies_when_unanswered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with connected() as (_, peer, _nursery):
        # The server asks after 30 s idle; unanswered for response_timeout, it hangs up.
        await expect_deaf_peer_dropped(peer, b"\x00\x00\x00\x15", asked=30, dropped=40)


async def test_silent_bound_link_is_unbound_at_inactivity_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    quiet = CONFIG.replace('enquire_link_interval = "30s"', "enquire_link_interval = 0")
    async with connected(quiet) as (_, peer, _nursery):
        # After 5 min of silence the server unbinds; unanswered, it hangs up.
        await expect_deaf_peer_dropped(peer, b"\x00\x00\x00\x06", asked=300, dropped=310)


async def test_unanswered_receipt_times_out_and_is_offered_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with connected() as (_, peer, nursery):
        await bind(peer)
        nursery.start_soon(partial(peer.pump, answer_deliver=False))
        await trio.sleep(1)
        peer.session.send_request(
            SubmitSm(destination_addr="4670", short_message=b"hi", registered_delivery=1),
            trio.current_time(),
        )
        await peer.flush()
        await trio.sleep(2)  # delivered after 1 s; the receipt is out, and not answered
        assert len(peer.received(DeliverSm)) == 1
        await trio.sleep(10 + 15 + 1)  # response_timeout, then receipt_retry
        receipts = peer.received(DeliverSm)
        assert len(receipts) == 2
        first, second = receipts
        assert isinstance(first, DeliverSm) and isinstance(second, DeliverSm)
        assert first.short_message == second.short_message


async def test_receipt_window_is_respected(autojump_clock: trio.testing.MockClock) -> None:
    async with connected() as (_, peer, nursery):
        await bind(peer)
        nursery.start_soon(partial(peer.pump, answer_deliver=False))
        await trio.sleep(1)
        for _ in range(5):
            peer.session.send_request(
                SubmitSm(destination_addr="4670", short_message=b"hi", registered_delivery=1),
                trio.current_time(),
            )
        await peer.flush()
        await trio.sleep(3)
        # window = 2: two deliver_sm outstanding, three waiting in the outbox.
        assert len(peer.received(DeliverSm)) == 2
        responses = [e for e in peer.events if isinstance(e, ResponseReceived)]
        assert len(responses) >= 5  # bind_resp is a BindCompleted; these are submit_sm_resp
        assert not any(isinstance(e.response, EnquireLinkResp) for e in responses)
