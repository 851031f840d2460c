"""A scenario played with a durable store goes on after a restart instead of starting again."""

from __future__ import annotations

from pathlib import Path

import trio
from test_daemon import running

from smscd.carriers.profile import HandsetState
from smscd.config import Config, parse_config
from smscd.daemon import Daemon

SCENARIO = """
name = "resume"

[[events]]
at = "0s"
handset = "46700000009"
state = "offline"

[[events]]
at = "1m"
mo = { from = "46700000002", to = "72000", text = "first" }

[[events]]
at = "10m"
mo = { from = "46700000002", to = "72000", text = "second" }
"""


def config(tmp_path: Path, scenario: str = SCENARIO) -> Config:
    path = tmp_path / "resume.toml"
    path.write_text(scenario)
    text = (
        '[smpp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = ""\n'
        f'[store]\nbackend = "sqlite"\npath = "{tmp_path / "smscd.db"}"\n'
        f'[simulation]\nrate = 0\nscenario = "{path}"\n'
        '[[carriers]]\nname = "simulator"\ntype = "simulator"\n'
        '[[accounts]]\nsystem_id = "acme"\npassword = "secret"\nvirtual_numbers = ["72000"]\n'
    )
    return parse_config(text, "resume.toml")


def mo_texts(daemon: Daemon) -> list[bytes]:
    outbox = daemon.outboxes["acme"]
    items = outbox.take(len(outbox))
    outbox.put_back(items)
    return [item.pdu.short_message for item in items]


async def until(condition: object, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await trio.sleep(0.01)


async def test_a_restart_goes_on_with_the_scenario_without_playing_it_again(
    tmp_path: Path,
) -> None:
    async with running(config(tmp_path)) as (daemon, _):
        await until(lambda: daemon.time.now() > 0 and daemon.store.get_state("scenario"))  # type: ignore[attr-defined]
        [carrier] = daemon.simulated_carriers()
        assert carrier.handset_state("46700000009") is HandsetState.OFFLINE
        daemon.time.advance(120)
        await until(lambda: mo_texts(daemon) == [b"first"])
        # An operator's change after the scenario's: a restart must not undo it.
        carrier.set_handset("46700000009", HandsetState.ONLINE)
        await trio.sleep(0.2)  # the batch carrying the progress and the rule is written
    async with running(config(tmp_path)) as (daemon, _):
        await trio.sleep(0.3)
        assert mo_texts(daemon) == [b"first"]  # restored once, not played again
        [carrier] = daemon.simulated_carriers()
        assert carrier.handset_state("46700000009") is HandsetState.ONLINE
        daemon.time.advance(600)  # the second MO keeps its time from the first start
        await until(lambda: mo_texts(daemon) == [b"first", b"second"])
    # Another timeline in the same store starts from its own beginning.
    other = SCENARIO.replace('name = "resume"', 'name = "other"')
    async with running(config(tmp_path, other)) as (daemon, _):
        daemon.time.advance(120)
        await until(lambda: mo_texts(daemon) == [b"first", b"second", b"first"])
