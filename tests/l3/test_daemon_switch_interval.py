"""The daemon shortens the GIL switch interval while a durable store's writer thread runs."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import trio

from smscd.config import parse_config
from smscd.daemon import WRITER_SWITCH_INTERVAL, BoundAddresses, Daemon


def config(store: str) -> str:
    return (
        '[smpp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = ""\n'
        f"[store]\n{store}\n"
        '[[carriers]]\nname = "instant"\ntype = "instant"\n'
        '[[accounts]]\nsystem_id = "acme"\npassword = "secret"\n'
    )


async def interval_while_running(text: str) -> float:
    daemon = Daemon(parse_config(text, "test.toml"))
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        _: BoundAddresses = await nursery.start(
            partial(daemon.run, stop=stop, handle_signals=False)
        )
        seen = sys.getswitchinterval()
        stop.set()
    return seen


async def test_a_writer_thread_shortens_the_switch_interval_and_restores_it(
    tmp_path: Path,
) -> None:
    before = sys.getswitchinterval()
    sqlite = f'backend = "sqlite"\npath = "{tmp_path / "s.db"}"'
    thread = f'{sqlite}\nwriter = "thread"'
    assert await interval_while_running(config(thread)) == WRITER_SWITCH_INTERVAL
    assert sys.getswitchinterval() == before
    # A writer process is served by the event loop: no thread to hand the GIL to.
    assert await interval_while_running(config(sqlite)) == before
    assert await interval_while_running(config('backend = "memory"')) == before
