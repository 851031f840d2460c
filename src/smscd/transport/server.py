"""SMPP listeners (TCP and TLS): accept connections and give each its own task.

Every connection runs in the `connections` nursery owned by the daemon, not in the
listener's, so that shutdown can stop accepting first and drain the sessions afterwards.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from functools import partial

import attrs
import structlog
import trio

from smscd.accounts import Accounts, BindLockout
from smscd.config import SmppConfig
from smscd.router import Router
from smscd.smpp.session import SessionConfig
from smscd.transport.connection import SessionInfo, SmppConnection

log = structlog.get_logger("smscd.transport")


@attrs.define(eq=False)
class ServerContext:
    """What every connection shares: accounts, the router and the daemon's flags.

    ``smpp`` carries the settings connections read while they run (``pdu_timeout``, the bind
    lock-out); ``lockout`` is the live per-address state built from it by ``configure``.
    """

    accounts: Accounts
    router: Router
    system_id: str
    wall_clock: Callable[[], float]
    draining: bool = False
    connections: dict[int, SmppConnection] = attrs.Factory(dict)
    smpp: SmppConfig = attrs.Factory(SmppConfig)
    lockout: BindLockout = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.configure(self.smpp)

    def configure(self, smpp: SmppConfig) -> None:
        """Take the [smpp] settings (and start the lock-out afresh)."""
        self.smpp = smpp
        self.lockout = BindLockout(smpp.bind_failure_limit, smpp.bind_lockout)

    def sessions(self) -> list[SessionInfo]:
        return [connection.info() for connection in self.connections.values()]


def socket_address(listener: trio.abc.Listener[trio.abc.Stream]) -> tuple[str, int]:
    inner = listener.transport_listener if isinstance(listener, trio.SSLListener) else listener
    assert isinstance(inner, trio.SocketListener)
    host, port = inner.socket.getsockname()[:2]
    return str(host), int(port)


def _peer_of(stream: trio.abc.Stream) -> tuple[str, int]:
    inner = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if isinstance(inner, trio.SocketStream):
        try:
            host, port = inner.socket.getpeername()[:2]
            return str(host), int(port)
        except OSError:
            pass
    return "unknown", 0


class SmppServer:
    def __init__(
        self, context: ServerContext, session_config: SessionConfig, max_connections: int
    ) -> None:
        self.context = context
        self._session_config = session_config
        self._max_connections = max_connections

    async def serve(
        self,
        host: str,
        port: int,
        connections: trio.Nursery,
        *,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on host:port until cancelled; report the bound address when listening."""
        listeners: list[trio.abc.Listener[trio.abc.Stream]] = list(
            await trio.open_tcp_listeners(port, host=host)
        )
        if ssl_context is not None:
            listeners = [
                trio.SSLListener(listener, ssl_context, https_compatible=False)
                for listener in listeners
            ]
        handler = partial(self._handle, tls=ssl_context is not None)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(trio.serve_listeners, handler, listeners, handler_nursery=connections)
            )
            task_status.started(socket_address(listeners[0]))

    async def _handle(self, stream: trio.abc.Stream, *, tls: bool) -> None:
        peer = _peer_of(stream)
        connections = self.context.connections
        if len(connections) >= self._max_connections or self.context.draining:
            log.warning(
                "connection_refused",
                peer=f"{peer[0]}:{peer[1]}",
                reason="max_connections" if not self.context.draining else "draining",
            )
            await trio.aclose_forcefully(stream)
            return
        connection = SmppConnection(stream, peer, self.context, self._session_config, tls=tls)
        connections[connection.session_id] = connection
        try:
            await connection.run()
        except Exception:
            # A bug in one session must not take down the daemon or the other sessions.
            log.exception("connection_crashed", session_id=connection.session_id)
        finally:
            del connections[connection.session_id]

    def drain(self) -> None:
        """Refuse new connections and ask every session to unbind."""
        self.context.draining = True
        for connection in list(self.context.connections.values()):
            connection.request_drain()
