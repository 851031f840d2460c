"""A small trio ESME built on the same sans-IO session in its ESME role.

Used by `smscd send` (a client for humans) and by the benchmark's load generator. Requests
are matched to responses by the session; receipts and other deliver_sm arrive on a channel
and are acknowledged at once.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Callable

import trio

from smscd.smpp.constants import BindType, CommandStatus, status_name
from smscd.smpp.pdus import DeliverSm, DeliverSmResp, Pdu, RequestPdu
from smscd.smpp.session import (
    BindCompleted,
    ConnectionClosed,
    Event,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
    Unbound,
)


class EsmeError(Exception):
    """The SMSC refused a request or the link failed."""

    def __init__(self, message: str, command_status: int = CommandStatus.ESME_RSYSERR) -> None:
        super().__init__(message)
        self.command_status = command_status


class Esme:
    """One connection to an SMSC. Use as `async with Esme.connect(...) as esme:`."""

    def __init__(self, stream: trio.abc.Stream, config: SessionConfig) -> None:
        self._stream = stream
        self._session = Session(Role.ESME, config, trio.current_time())
        self._waiters: dict[int, trio.Event] = {}
        self._results: dict[int, Pdu] = {}
        self._send_lock = trio.StrictFIFOLock()
        self._deliveries_in, self.deliveries = trio.open_memory_channel[DeliverSm](math.inf)
        self._bound = trio.Event()
        self._bind_response: Pdu | None = None
        self._closed = False
        self._finished = trio.Event()
        self.on_deliver: Callable[[DeliverSm], int] | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        config: SessionConfig | None = None,
    ) -> Esme:
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        if ssl_context is not None:
            stream = trio.SSLStream(stream, ssl_context, server_hostname=host)
        return cls(stream, config or SessionConfig(window=1 << 20, enquire_link_interval=0))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read and dispatch until the link closes; run it in a nursery."""
        task_status.started()
        session = self._session
        try:
            while True:
                deadline = session.get_timer()
                with trio.move_on_at(deadline if deadline is not None else math.inf):
                    data = await self._stream.receive_some(65536)
                    if not data:
                        break
                    delivered = self._dispatch(session.receive_data(data, trio.current_time()))
                    # Acknowledge before handing deliveries on: whoever reads them may close
                    # the link at once, and an unacknowledged receipt is (rightly) resent.
                    await self._flush()
                    for pdu in delivered:
                        self._deliveries_in.send_nowait(pdu)
                    continue
                self._dispatch(session.handle_timer(trio.current_time()))
                await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._closed = True
            self._finished.set()
            for waiter in self._waiters.values():
                waiter.set()
            self._bound.set()
            self._deliveries_in.close()

    async def _flush(self) -> None:
        data = self._session.data_to_send()
        if data:
            async with self._send_lock:
                await self._stream.send_all(data)

    def _dispatch(self, events: list[Event]) -> list[DeliverSm]:
        """Handle events; returns the deliver_sm accepted, to publish once answered."""
        delivered: list[DeliverSm] = []
        for event in events:
            if isinstance(event, ResponseReceived):
                seq = event.request.sequence_number
                self._results[seq] = event.response
                waiter = self._waiters.pop(seq, None)
                if waiter is not None:
                    waiter.set()
            elif isinstance(event, RequestTimedOut):
                waiter = self._waiters.pop(event.request.sequence_number, None)
                if waiter is not None:
                    waiter.set()
            elif isinstance(event, BindCompleted):
                self._bind_response = event.response
                self._bound.set()
            elif isinstance(event, RequestReceived):
                pdu = event.pdu
                if isinstance(pdu, DeliverSm):
                    status = self.on_deliver(pdu) if self.on_deliver else CommandStatus.ESME_ROK
                    self._session.send_response(
                        DeliverSmResp(sequence_number=pdu.sequence_number, command_status=status)
                    )
                    if status == CommandStatus.ESME_ROK:
                        delivered.append(pdu)
            elif isinstance(event, Unbound | ConnectionClosed):
                self._closed = True
                self._finished.set()
        return delivered

    async def bind(
        self, system_id: str, password: str, bind_type: BindType = BindType.TRANSCEIVER
    ) -> None:
        self._session.bind(bind_type, system_id, password, trio.current_time())
        await self._flush()
        await self._bound.wait()
        response = self._bind_response
        if response is None:
            raise EsmeError("connection closed before the bind was answered")
        if response.command_status != CommandStatus.ESME_ROK:
            raise EsmeError(
                f"bind refused: {status_name(response.command_status)}",
                response.command_status,
            )

    async def request(self, pdu: RequestPdu) -> Pdu:
        """Send one request and wait for its response (or raise on time-out/close)."""
        if self._closed:
            raise EsmeError("link closed")
        seq = self._session.send_request(pdu, trio.current_time())
        waiter = self._waiters[seq] = trio.Event()
        await self._flush()
        await waiter.wait()
        response = self._results.pop(seq, None)
        if response is None:
            raise EsmeError(f"no response to {type(pdu).__name__} (seq {seq})")
        return response

    async def unbind(self) -> None:
        """Start the unbind handshake and wait until it finishes (or the link closes)."""
        if self._closed:
            return
        self._session.unbind(trio.current_time())
        await self._flush()
        await self._finished.wait()

    async def wait_closed(self) -> None:
        await self._finished.wait()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self._stream)
