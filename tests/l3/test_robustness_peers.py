"""Slow and stuck peers (issue 5, robustness): a PDU that never completes, a half-open peer
and the rebind after it under a one-bind limit, a peer that never reads.

The timer tests run SmppConnections over memory streams on virtual time (autojump_clock), as
test_connection_timers does; the tests that need a real socket's back-pressure use loopback.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from robustness import bind_raw, connect, daemon_in_memory, make_config, serving
from test_connection_timers import CONFIG, Peer, bind
from test_daemon import esme, submit

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import EnquireLink, EnquireLinkResp
from smscd.smpp.session import BindCompleted
from smscd.transport.connection import HIGH_WATER, RECEIVE_SIZE

# CONFIG: enquire_link after 30 s idle, response_timeout 10 s, session_init_timeout 20 s.
PARTIAL_SUBMIT = encode(submit(sequence_number=7))[:-1]  # one octet short of a PDU


def with_smpp(**keys: str) -> str:
    lines = "".join(f"{key} = {value}\n" for key, value in keys.items())
    return CONFIG.replace("[smpp]\n", f"[smpp]\n{lines}")


async def closed_after(peer: Peer, start: float) -> float:
    """Read until the daemon hangs up; how long after ``start`` it did."""
    await peer.pump()
    assert peer.closed
    return trio.current_time() - start


async def trickle(peer: Peer) -> None:
    """A PDU that never completes, an octet every 5 s: never idle long enough for the
    enquire_link or inactivity timers."""
    for octet in PARTIAL_SUBMIT:
        await peer.stream.send_all(bytes([octet]))
        await trio.sleep(5)


@pytest.mark.parametrize(("pdu_timeout", "closed_at"), [('"30s"', 30), ("0", None)])
async def test_bound_peer_trickling_a_pdu_for_ever_is_closed_at_pdu_timeout(
    autojump_clock: trio.testing.MockClock, pdu_timeout: str, closed_at: int | None
) -> None:
    async with daemon_in_memory(with_smpp(pdu_timeout=pdu_timeout)) as (daemon, nursery):
        peer = connect(daemon, nursery)
        await bind(peer)
        await trio.sleep(1)
        start = trio.current_time()
        nursery.start_soon(trickle, peer)
        with trio.move_on_after(100):
            await peer.pump()
        await trio.testing.wait_all_tasks_blocked()
        if closed_at is None:  # pdu_timeout 0: a PDU may take for ever
            assert not peer.closed and daemon.context.connections
        else:
            assert peer.closed and not daemon.context.connections
            assert closed_at <= trio.current_time() - start < closed_at + 1


async def test_pdus_that_keep_arriving_in_pieces_are_not_cut_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with daemon_in_memory(with_smpp(pdu_timeout='"30s"')) as (daemon, nursery):
        peer = connect(daemon, nursery)
        await bind(peer)
        # Every piece finishes one enquire_link and starts the next: for 200 s a PDU is always
        # partial, but none for longer than 20 s.
        frames = b"".join(encode(EnquireLink(sequence_number=n)) for n in range(100, 110))
        pieces = [frames[:8]] + [frames[at : at + 16] for at in range(8, len(frames), 16)]
        for piece in pieces:
            await peer.stream.send_all(piece)
            await trio.sleep(20)
        reader = PduReader()
        with trio.move_on_after(1):
            while data := await peer.stream.receive_some(65536):
                reader.feed(data)
        answers = [pdu.sequence_number for pdu in reader if isinstance(pdu, EnquireLinkResp)]
        assert answers == list(range(100, 110))
        assert daemon.context.connections


async def test_unbound_peer_that_never_completes_a_pdu_is_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with daemon_in_memory(with_smpp(pdu_timeout='"5s"')) as (daemon, nursery):
        peer = connect(daemon, nursery)
        start = trio.current_time()
        await peer.stream.send_all(PARTIAL_SUBMIT[:20])
        assert 5 <= await closed_after(peer, start) < 6  # before session_init_timeout (20 s)


async def test_half_open_peer_is_found_by_enquire_link_and_the_rebind_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    text = CONFIG.replace('password = "secret"\n', 'password = "secret"\nmax_binds = 1\n')
    async with daemon_in_memory(text) as (daemon, nursery):
        vanished = connect(daemon, nursery, 40001)
        await bind(vanished)  # then silence: it neither reads nor writes any more
        await trio.sleep(1)
        account = daemon.accounts.get("acme")
        assert account is not None and account.binds == 1

        async def bind_status(port: int) -> int:
            peer = connect(daemon, nursery, port)
            nursery.start_soon(peer.pump)
            await bind(peer)
            await trio.sleep(0.5)
            (done,) = [e for e in peer.events if isinstance(e, BindCompleted)]
            return done.response.command_status

        assert await bind_status(40002) == CommandStatus.ESME_RBINDFAIL
        # enquire_link after 30 s of silence, unanswered for response_timeout (10 s): closed.
        await trio.sleep(40)
        assert account.binds == 0
        assert await bind_status(40003) == CommandStatus.ESME_ROK
        assert account.binds == 1


async def test_peer_that_never_reads_is_held_at_high_water_and_slows_nobody() -> None:
    async with serving(make_config()) as (daemon, addresses):
        flooder, status = await bind_raw(addresses.smpp)
        assert status == 0
        (flooding,) = [c for c in daemon.context.connections.values() if c.system_id]
        chunk = encode(EnquireLink(sequence_number=1)) * (RECEIVE_SIZE // 16)
        buffered: list[int] = []
        latencies: list[float] = []

        async def flood() -> None:
            # Send until the daemon stops reading and the kernel's buffers are full.
            while True:
                await flooder.send_all(chunk)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            async with esme(addresses.smpp) as client:
                for _ in range(200):
                    started = trio.current_time()
                    await client.request(EnquireLink())
                    latencies.append(trio.current_time() - started)
                    buffered.append(flooding._out_bytes)
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
        await trio.aclose_forcefully(flooder)
        # The flooder's answers pile up to the high-water mark and no further, and the other
        # session's round trips stay fast meanwhile.
        assert max(buffered) >= HIGH_WATER // 2
        assert max(buffered) <= HIGH_WATER + RECEIVE_SIZE
        latencies.sort()
        assert latencies[len(latencies) // 2] < 0.02, latencies
        assert latencies[-5] < 0.2, latencies


async def test_receiver_that_never_reads_holds_a_window_and_the_queue_limit_holds() -> None:
    config = make_config(account="max_queued = 30\n")
    async with serving(config) as (daemon, addresses):
        receiver, status = await bind_raw(addresses.smpp, bind_type=BindType.RECEIVER)
        assert status == 0  # and it never reads again
        async with esme(addresses.smpp, BindType.TRANSMITTER) as sender:
            statuses = [
                (await sender.request(submit(registered_delivery=1))).command_status
                for _ in range(40)
            ]
        assert statuses == [0] * 30 + [CommandStatus.ESME_RMSGQFUL] * 10
        await trio.sleep(0.5)
        (held,) = [s for s in daemon.context.sessions() if s.bind_type == "receiver"]
        assert held.outstanding == daemon.config.smpp.window  # one window in flight, no more
        assert daemon.outboxes.waiting()["acme"] == 30 - held.outstanding
        await receiver.aclose()
