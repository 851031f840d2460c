"""Shared by the robustness tests (tests/l3/test_robustness_*.py): the daemon in-process with
its [smpp] settings in force, over loopback or over memory streams (for virtual time), raw
SMPP, and what the process holds open."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial

import trio
import trio.testing
from test_connection_timers import Peer
from test_daemon import make_config, running

from smscd.config import Config, parse_config
from smscd.daemon import BoundAddresses, Daemon
from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import BindType
from smscd.smpp.pdus import BindReceiver, BindTransceiver, BindTransmitter, Pdu
from smscd.smpp.session import Role, Session, SessionConfig
from smscd.transport.connection import SmppConnection

__all__ = [
    "baseline",
    "bind_raw",
    "connect",
    "daemon_in_memory",
    "make_config",
    "open_fds",
    "read_pdu",
    "serving",
    "settle",
    "task_count",
]

_BIND = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[tuple[Daemon, BoundAddresses]]:
    """``running`` with the file's [smpp] robustness keys handed to the server context, which
    the daemon may not do itself yet (``ServerContext.configure`` is idempotent)."""
    async with running(config) as (daemon, addresses):
        daemon.context.configure(config.smpp)
        yield daemon, addresses


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def baseline() -> tuple[int, int]:
    """File descriptors and tasks to come back to. Garbage is collected first: what earlier
    tests left for the collector (sockets, files) must not close in the middle of a count."""
    gc.collect()
    return open_fds(), task_count()


def task_count() -> int:
    """Every task alive in this trio run."""
    count = 0
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        count += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return count


async def settle(connections: Mapping[int, object], fds: int, tasks: int) -> None:
    """Wait until the daemon has let go of every connection and the process is back to
    ``fds`` descriptors and ``tasks`` tasks."""
    with trio.fail_after(5):
        while connections or (open_fds(), task_count()) != (fds, tasks):
            await trio.sleep(0.01)


async def read_pdu(stream: trio.abc.Stream, reader: PduReader) -> Pdu | None:
    """The next PDU from ``stream``; None at the end of the stream."""
    while (pdu := reader.next_pdu()) is None:
        data = await stream.receive_some(65536)
        if not data:
            return None
        reader.feed(data)
    return pdu


async def bind_raw(
    address: tuple[str, int],
    system_id: str = "acme",
    password: str = "secret",
    bind_type: BindType = BindType.TRANSCEIVER,
    *,
    local_address: str | None = None,
) -> tuple[trio.SocketStream, int]:
    """Connect (from ``local_address``), bind once; the stream and the bind's command_status."""
    stream = await trio.open_tcp_stream(*address, local_address=local_address)
    await stream.send_all(
        encode(_BIND[bind_type](sequence_number=1, system_id=system_id, password=password))
    )
    answer = await read_pdu(stream, PduReader())
    assert answer is not None, "closed before the bind was answered"
    return stream, answer.command_status


@asynccontextmanager
async def daemon_in_memory(text: str) -> AsyncIterator[tuple[Daemon, trio.Nursery]]:
    """The daemon's parts without listeners: connections are added with ``connect``."""
    config = parse_config(text, "robustness.toml")
    daemon = Daemon(config)
    daemon.context.configure(config.smpp)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(daemon.carriers["instant"].run, daemon.router))
        await nursery.start(daemon.outboxes.run)
        yield daemon, nursery
        nursery.cancel_scope.cancel()


def connect(daemon: Daemon, nursery: trio.Nursery, port: int = 40000) -> Peer:
    """A new connection to the daemon; its ESME end, a session we drive by hand."""
    server_end, client_end = trio.testing.memory_stream_pair()
    connection = SmppConnection(
        server_end, ("127.0.0.1", port), daemon.context, daemon.server._session_config
    )

    async def serve() -> None:
        # As the listener does: listed while it runs.
        daemon.context.connections[connection.session_id] = connection
        try:
            await connection.run()
        finally:
            del daemon.context.connections[connection.session_id]

    nursery.start_soon(serve)
    return Peer(
        client_end,
        Session(Role.ESME, SessionConfig(enquire_link_interval=0, inactivity_timeout=0), 0.0),
    )
