"""Concatenated messages split by a restart (clean, or a crash as in test_durable_crash): the
router's reassembly buffer is rebuilt from the stored parts, the phones' from the simulator's
saved state, and sets that stay incomplete still time out."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from test_daemon import ACCOUNT, esme, running, submit
from test_durable_crash import crashing

from smscd.carriers.model import InboxEntry
from smscd.client import Esme
from smscd.config import Config, parse_config
from smscd.daemon import BoundAddresses, Daemon
from smscd.smpp.constants import CommandStatus, EsmClass
from smscd.sms.udh import build_concat_udh
from smscd.status import Code

T0 = 1_798_761_600.0  # 2027-01-01T00:00:00Z
NUMBER = "46700000001"
PROFILE = """
[latency.gateway]
kind = "fixed"
value = "1s"
[latency.carrier]
kind = "fixed"
value = "1s"
[latency.handset]
kind = "fixed"
value = "1s"
[handset]
reassembly_timeout = "1h"
"""


def simulator_config(tmp_path: Path) -> Config:
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE)
    text = (
        '[smpp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = ""\n'
        f'[store]\nbackend = "sqlite"\npath = "{tmp_path / "smscd.db"}"\ndurability = "normal"\n'
        '[text]\nconcat_timeout = "10m"\n'
        # A paused clock: simulation time moves only when the test advances it.
        '[simulation]\nrate = 0\nstart = "2027-01-01T00:00:00Z"\nseed = 1\n'
        f'[[carriers]]\nname = "sim"\ntype = "simulator"\nprofile = "{profile}"\n'
        f"{ACCOUNT}"
    )
    return parse_config(text, "reassembly.toml")


async def part(client: Esme, reference: int, total: int, sequence: int, body: bytes) -> str:
    response = await client.request(
        submit(
            esm_class=EsmClass.UDHI,
            short_message=build_concat_udh(reference, total, sequence) + body,
        )
    )
    assert response.command_status == CommandStatus.ESME_ROK
    return response.message_id  # type: ignore[attr-defined]


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(5):
        while not condition():
            await trio.sleep(0.01)


def delivered(daemon: Daemon, *ids: str) -> Callable[[], bool]:
    def check() -> bool:
        messages = [daemon.store.get(message_id) for message_id in ids]
        return all(m is not None and m.status == Code.DELIVERED_TO_HANDSET for m in messages)

    return check


def on_disk(path: Path, key: str) -> str | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


@asynccontextmanager
async def first_run(
    config: Config, how: str, path: Path
) -> AsyncIterator[tuple[Daemon, BoundAddresses]]:
    if how == "stop":
        async with running(config) as started:
            yield started
        return
    async with crashing(config) as (daemon, addresses, crash):
        yield daemon, addresses

        # A crash loses what is not committed: wait for the carrier's state (saved every
        # second) and the clock to be on disk, as they would be a second before a kill -9.
        def saved() -> bool:
            state = on_disk(path, "carrier.sim")
            clock = on_disk(path, "clock")
            return (
                state is not None
                and len(json.loads(state).get("reassembly", [])) == 2
                and clock is not None
                and json.loads(clock)["sim"] == T0 + 10
            )

        with trio.fail_after(10):
            while not saved():
                await trio.sleep(0.05)
        crash()


@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_a_concatenated_message_split_by_a_restart_is_reassembled(
    tmp_path: Path, how: str
) -> None:
    config = simulator_config(tmp_path)
    async with first_run(config, how, tmp_path / "smscd.db") as (daemon, addresses):
        async with esme(addresses.smpp) as client:
            hello = await part(client, 7, 2, 1, b"Hello, ")
            one = await part(client, 8, 3, 1, b"one ")
        daemon.time.advance(10)  # both reach the phone at T0 + 3 and wait there for the rest
        await until(delivered(daemon, hello, one))
        assert daemon.simulated_carriers()[0].inbox(NUMBER) == ()

    async with running(config) as (daemon, addresses):
        assert daemon.sim_now() == T0 + 10
        [carrier] = daemon.simulated_carriers()
        async with esme(addresses.smpp) as client:
            world = await part(client, 7, 2, 2, b"world")
            three = await part(client, 8, 3, 3, b"three")
        # The router's set of the first parts was rebuilt: the stored parts get the whole text.
        for message_id in (hello, world):
            message = daemon.store.get(message_id)
            assert message is not None and message.concat_text == "Hello, world"
        daemon.time.advance(10)
        await until(delivered(daemon, world, three))
        # So was the phone's.
        assert carrier.inbox(NUMBER) == (InboxEntry("Acme", "Hello, world", T0 + 13, 2),)

        # The other set still times out: at the router after text.concat_timeout (a part
        # coming later starts a new set), on the phone after its reassembly timeout.
        daemon.time.advance(2 * 3600)
        daemon.router.expire_reassembly()  # what housekeeping does every second
        async with esme(addresses.smpp) as client:
            two = await part(client, 8, 3, 2, b"two ")
        await until(lambda: len(carrier.inbox(NUMBER)) == 2)
        assert carrier.inbox(NUMBER)[1] == InboxEntry("Acme", "one three", T0 + 3603, 3, (2,))
        for message_id in (one, two, three):
            message = daemon.store.get(message_id)
            assert message is not None and message.concat_text is None

    with sqlite3.connect(tmp_path / "smscd.db") as db:
        stored = dict(db.execute("SELECT id, concat_text FROM messages").fetchall())
    assert stored == {
        hello: "Hello, world",
        world: "Hello, world",
        one: None,
        two: None,
        three: None,
    }
