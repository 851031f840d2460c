"""The durable store as users run it: `smscd run --store FILE`, killed with SIGKILL under load."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
import trio

from smscd.client import Esme, EsmeError
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import SubmitSm
from smscd.smpp.session import SessionConfig
from tests.e2e.conftest import start_daemon

pytestmark = pytest.mark.timeout(90)

CONFIG = """
[smpp]
window = 100
[[carriers]]
name = "instant"
type = "instant"
delay = "{delay}"
[[accounts]]
system_id = "acme"
password = "secret"
max_queued = 100000
"""


async def load_then_kill(address: tuple[str, int], kill: object, count: int) -> set[str]:
    """Submit from 4 binds until `count` got ESME_ROK, kill the daemon mid-stream, and return
    the ids it acknowledged."""
    acknowledged: set[str] = set()
    assert callable(kill)

    async def bind_and_submit(offset: int) -> None:
        client = await Esme.open(
            *address, config=SessionConfig(window=1000, enquire_link_interval=0)
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            await client.bind("acme", "secret", BindType.TRANSMITTER)
            limiter = trio.CapacityLimiter(50)

            async def one(n: int) -> None:
                async with limiter:
                    try:
                        response = await client.request(
                            SubmitSm(
                                source_addr="Acme",
                                destination_addr=f"4670{offset + n:07d}",
                                registered_delivery=1,
                                short_message=b"durable",
                            )
                        )
                    except (EsmeError, trio.BrokenResourceError, trio.ClosedResourceError):
                        return  # the daemon was killed: no answer
                    if response.command_status == CommandStatus.ESME_ROK:
                        acknowledged.add(response.message_id)  # type: ignore[union-attr]

            async with trio.open_nursery() as inner:
                for n in range(count):
                    inner.start_soon(one, n)
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for index in range(4):
            nursery.start_soon(bind_and_submit, index * 1_000_000)
        with trio.fail_after(30):
            while len(acknowledged) < count:
                await trio.sleep(0.005)
        kill()  # mid-stream: submits still in flight on every bind
        with trio.move_on_after(5):
            await trio.sleep(5)
        nursery.cancel_scope.cancel()
    return acknowledged


async def collect_receipts(address: tuple[str, int], expected: set[str]) -> list[str]:
    client = await Esme.open(*address, config=SessionConfig(window=1000, enquire_link_interval=0))
    receipted: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await client.bind("acme", "secret", BindType.RECEIVER)
        with trio.move_on_after(20):
            async for pdu in client.deliveries:
                receipted.append(pdu.tlvs.receipted_message_id or "")
                if expected <= set(receipted):
                    break
        with trio.move_on_after(0.5):  # anything more would be a duplicate
            async for pdu in client.deliveries:
                receipted.append(pdu.tlvs.receipted_message_id or "")
        nursery.cancel_scope.cancel()
    return receipted


def test_kill_9_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    store = tmp_path / "smscd.db"
    slow = tmp_path / "slow.toml"
    slow.write_text(CONFIG.format(delay="1h"))  # nothing is final when the daemon dies
    fast = tmp_path / "fast.toml"
    fast.write_text(CONFIG.format(delay="0s"))
    daemon = start_daemon("--store", str(store), config=slow)

    def kill() -> None:
        daemon.process.send_signal(signal.SIGKILL)

    acknowledged = trio.run(load_then_kill, daemon.smpp, kill, 400)
    daemon.process.wait(timeout=10)
    assert daemon.process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 400

    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = start_daemon("--store", str(store), config=fast)
    try:
        receipted = trio.run(collect_receipts, restarted.smpp, acknowledged)
        assert acknowledged <= set(receipted), "an acknowledged message was lost"
        assert len(receipted) == len(set(receipted)), "a message got two final receipts"
    finally:
        assert restarted.stop() == 0
