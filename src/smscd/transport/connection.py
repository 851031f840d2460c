"""One ESME connection: the only place where SMPP bytes meet a trio stream.

Three tasks share one sans-IO `Session`, all inside the connection's own nursery:
- the reader feeds every received chunk to the session and answers all its requests
  before a single wake-up of the writer, so one chunk of N submits costs one send;
- the writer owns the stream's send side and writes whatever has accumulated in one
  `send_all` (batching is what makes the throughput: see DESIGN.md's pitfalls);
- the pump runs the session's timers and moves receipts from the account's outbox into
  the window of outstanding deliver_sm.
With the durable store, the submit_sm_resp that promise a stored message wait in
`_deferred`; the committer's wake-up (`_on_commit`) answers them once their batch is on disk.
They never run at the same time (one trio thread), so the session needs no lock.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections import deque
from typing import TYPE_CHECKING

import attrs
import structlog
import trio

from smscd.accounts import AccountState
from smscd.outbox import Outbox, OutboxItem
from smscd.smpp.codec import EncodedRequest, submit_response_frame
from smscd.smpp.constants import RESPONSE_BIT, BindType, CommandStatus, status_name
from smscd.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    ResponsePdu,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
    response_class,
)
from smscd.smpp.session import (
    BindRequested,
    ConnectionClosed,
    Event,
    ProtocolError,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
    SessionState,
    Unbound,
)
from smscd.smpp.timefmt import format_absolute

if TYPE_CHECKING:
    from smscd.durability import Committer
    from smscd.transport.server import ServerContext

log = structlog.get_logger("smscd.transport")

RECEIVE_SIZE = 65536
# Stop reading from a peer whose responses we cannot deliver (it does not read): bounded memory.
HIGH_WATER = 1 << 20
# How long the last PDUs (unbind_resp, generic_nack) may take to leave before we hang up.
FLUSH_TIMEOUT = 5.0

_session_ids = itertools.count(1)
BindRequest = BindTransmitter | BindReceiver | BindTransceiver
# A response frame's command_id and sequence_number (after command_length, around the status).
_ID_AND_SEQUENCE = struct.Struct(">I4xI")
_RECEIVING_STATES = frozenset({SessionState.BOUND_RX, SessionState.BOUND_TRX})


@attrs.frozen
class SessionInfo:
    """A snapshot of one connection for the control API."""

    session_id: int
    peer: str
    system_id: str | None
    bind_type: str | None
    state: str
    connected_at: float
    submits: int
    receipts_sent: int
    outstanding: int


# A connection logs its first protocol errors one by one, then a running count every so many
# (each is answered all the same); connection_closed gives the total.
PROTOCOL_ERRORS_LOGGED = 20
PROTOCOL_ERRORS_SUMMARY = 1000


class SmppConnection:
    def __init__(
        self,
        stream: trio.abc.Stream,
        peer: tuple[str, int],
        context: ServerContext,
        session_config: SessionConfig,
        *,
        tls: bool = False,
    ) -> None:
        self.session_id = next(_session_ids)
        self._stream = stream
        self._peer_host = peer[0]
        self._peer = f"{peer[0]}:{peer[1]}"
        self._ctx = context
        self._tls = tls
        now = trio.current_time()
        self._session = Session(Role.SMSC, session_config, now)
        self._connected_at = context.wall_clock()
        self._out: list[bytes | bytearray] = []
        self._out_bytes = 0
        self._closing = False
        self._unbind_sent = False
        self._write_lot = trio.lowlevel.ParkingLot()
        self._pump_lot = trio.lowlevel.ParkingLot()
        self._drained_lot = trio.lowlevel.ParkingLot()
        self._account: AccountState | None = None
        self._outbox: Outbox | None = None
        self._submits = 0
        self._receipts_sent = 0
        self._protocol_errors = 0
        # Responses that promise durability (ESME_ROK to a submit, cancel, replace), held
        # until the store commits the batch numbered by their ticket: (ticket, response).
        self._deferred: deque[tuple[int, ResponsePdu | bytes]] = deque()
        # The session ended with submits still waiting for their commit: its last output, the
        # unbind_resp included, held until they are answered (see _on_unbound).
        self._unbind_tail: bytearray | None = None
        self._cancel_scope = trio.CancelScope()
        self._log = log.bind(session_id=self.session_id, peer=self._peer)

    # ---------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        self._log.info("connection_opened", tls=self._tls)
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self._pump)
                    await self._reader()
                    if not self._closing:
                        # EOF or a broken stream: nothing more can be sent either.
                        nursery.cancel_scope.cancel()
                    # Otherwise the session ended itself (unbind, a fatal error, a timer):
                    # the writer flushes its last words and then cancels the scope.
        finally:
            self._release()
            with trio.move_on_after(1) as cleanup:
                cleanup.shield = True
                await trio.aclose_forcefully(self._stream)
            self._log.info(
                "connection_closed",
                system_id=self.system_id,
                protocol_errors=self._protocol_errors,
            )

    def _release(self) -> None:
        if self._account is not None:
            self._account.binds -= 1
            self._account = None
        if self._outbox is not None:
            self._outbox.unsubscribe(self._wake_pump)
            # At-least-once: whatever the ESME did not acknowledge goes out again.
            unanswered = [
                context
                for _, context in self._session.drain_outstanding()
                if isinstance(context, OutboxItem)
            ]
            if unanswered:
                self._outbox.put_back(unanswered)
            self._outbox = None

    def _on_commit(self) -> None:
        """Called by the committer after a commit: answer the submits it made durable now,
        rather than wake the pump to do it (a scheduling round later, behind every session's
        read of a whole chunk). Only queues bytes: the writer task sends them."""
        if not self._deferred:
            return
        self._release_deferred()
        tail = self._unbind_tail
        if tail is None:
            self._flush()
            return
        self._queue_out(self._session.data_to_send())  # before the held unbind_resp
        if not self._deferred:
            self._unbind_tail = None
            self._queue_out(tail)
            self._close("unbound")

    def _wake_pump(self) -> None:
        self._pump_lot.unpark_all()

    def request_drain(self) -> None:
        """Shutdown: unbind gracefully (the pump does it) and let the writer close."""
        self._pump_lot.unpark_all()

    @property
    def system_id(self) -> str | None:
        return self._session.bound_system_id

    def info(self) -> SessionInfo:
        bind_type = self._session.bind_type
        return SessionInfo(
            session_id=self.session_id,
            peer=self._peer,
            system_id=self._session.bound_system_id,
            bind_type=bind_type.name.lower() if bind_type is not None else None,
            state=self._session.state.name.lower(),
            connected_at=self._connected_at,
            submits=self._submits,
            receipts_sent=self._receipts_sent,
            outstanding=self._session.outstanding,
        )

    # ---------------------------------------------------------------- tasks

    async def _reader(self) -> None:
        session = self._session
        stream = self._stream
        pdu_timeout = self._ctx.smpp.pdu_timeout
        # When the PDU now arriving must be whole. Every octet counts as traffic for the idle
        # timers, so without this a peer trickling one PDU for ever would hold its session.
        deadline = math.inf
        while not self._closing:
            data: bytes | bytearray | None = None
            with trio.move_on_at(deadline):
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
            if data is None:
                self._close("pdu timeout")
                return
            if not data:
                self._log.debug("peer_closed")
                return
            now = trio.current_time()
            waiting = session.buffered + len(data)
            self._handle(session.receive_data(data, now), now)
            if self._deferred:
                # Submits of this chunk wait for their commit: start it now (see dispatch).
                committer = self._ctx.router.committer
                if committer is not None:
                    committer.dispatch()
            partial = session.buffered
            if not partial or not pdu_timeout:
                deadline = math.inf
            elif partial < waiting or deadline == math.inf:
                # A PDU was completed, or this is the first part of one: the clock restarts.
                deadline = now + pdu_timeout
            self._flush()
            self._pump_lot.unpark_all()
            while self._out_bytes > HIGH_WATER and not self._closing:
                await self._drained_lot.park()

    async def _writer(self) -> None:
        stream = self._stream
        while True:
            if not self._out:
                if self._closing:
                    break
                await self._write_lot.park()
                continue
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self._out_bytes = 0
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                break
            self._drained_lot.unpark_all()
        # Everything the session wanted to say has been said (or cannot be): hang up.
        self._cancel_scope.cancel()

    async def _pump(self) -> None:
        session = self._session
        while True:
            deadline = session.get_timer()
            with trio.move_on_at(deadline if deadline is not None else math.inf):
                await self._pump_lot.park()
            now = trio.current_time()
            if deadline is not None and now >= deadline:
                self._handle(session.handle_timer(now), now)
            # (A session holding its unbind_resp for a commit is ending already.)
            if (
                self._ctx.draining
                and not self._unbind_sent
                and not self._closing
                and self._unbind_tail is None
            ):
                self._unbind_sent = True
                if session.state in _BOUND_STATES:
                    session.unbind(now)
                else:
                    self._close("shutdown")
            self._feed_window(now)
            self._flush()

    # ---------------------------------------------------------------- helpers

    def _flush(self) -> None:
        data = self._session.data_to_send()
        if self._unbind_tail is not None:
            self._unbind_tail += data  # nothing may follow the unbind_resp out
        elif data:
            self._queue_out(data)
        elif self._closing:
            self._write_lot.unpark_all()

    def _queue_out(self, data: bytes | bytearray) -> None:
        if data:
            self._out.append(data)
            self._out_bytes += len(data)
            self._write_lot.unpark_all()

    def _on_unbound(self) -> None:
        """The unbind handshake is over. An unbind_resp ends the session, so every request
        received before the unbind is answered first (SMPP 3.4, 4.2): submits still waiting
        for their commit hold the session's last output, unbind_resp included, until
        ``_on_commit`` answers them (a failed commit answers them too), for FLUSH_TIMEOUT at
        most."""
        if not self._deferred:
            self._close("unbound")
            return
        self._unbind_tail = bytearray(self._session.data_to_send())
        self._cancel_scope.deadline = trio.current_time() + FLUSH_TIMEOUT

    def _close(self, reason: str) -> None:
        if not self._closing:
            self._closing = True
            # A peer that stops reading must not keep the connection alive for ever.
            self._cancel_scope.deadline = trio.current_time() + FLUSH_TIMEOUT
            self._log.info("closing", reason=reason)
        self._write_lot.unpark_all()

    def _feed_window(self, now: float) -> None:
        outbox = self._outbox
        session = self._session
        if outbox is None or self._closing or self._unbind_sent or not len(outbox):
            return
        if session.state not in _RECEIVING_STATES:
            return
        free = session.window_available
        if free <= 0:
            return
        for item in outbox.take(free):
            session.send_request(item.request, now, item)

    def _handle(self, events: list[Event], now: float) -> None:
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                assert isinstance(event, RequestReceived)
                self._on_request(event.pdu, now)
            elif kind is ResponseReceived:
                assert isinstance(event, ResponseReceived)
                self._on_response(event.response, event.context)
            elif kind is BindRequested:
                assert isinstance(event, BindRequested)
                self._on_bind(event.pdu, event.bind_type)
            elif kind is RequestTimedOut:
                assert isinstance(event, RequestTimedOut)
                self._on_timeout(event.request, event.context)
            elif kind is Unbound:
                self._on_unbound()
            elif kind is ConnectionClosed:
                assert isinstance(event, ConnectionClosed)
                self._close(event.reason)
            elif kind is ProtocolError:
                assert isinstance(event, ProtocolError)
                self._protocol_errors += 1
                count = self._protocol_errors
                # Every error is answered; only the first ones are logged one by one, so
                # that a peer sending garbage cannot turn the log into its echo.
                if count <= PROTOCOL_ERRORS_LOGGED or event.fatal:
                    self._log.info(
                        "protocol_error",
                        command_status=status_name(event.command_status),
                        command_id=event.command_id,
                        seq=event.sequence_number,
                        fatal=event.fatal,
                    )
                elif count % PROTOCOL_ERRORS_SUMMARY == 0:
                    self._log.info("protocol_errors", count=count)
            else:
                self._log.debug("event_ignored", kind=kind.__name__)

    def _on_bind(self, pdu: BindRequest, bind_type: BindType) -> None:
        system_id = pdu.system_id
        password = pdu.password
        ctx = self._ctx
        host = self._peer_host
        now = trio.current_time()
        if ctx.lockout.locked(host, now):
            # Refused before the password is looked at, so guessing on is pointless; logged
            # once, when the lock-out began, so that a flood cannot flood the log too.
            self._session.answer_bind(pdu, CommandStatus.ESME_RBINDFAIL, ctx.system_id)
            self._log.debug("bind_refused", system_id=system_id, reason="locked out")
            return
        status = ctx.accounts.authorize_bind(system_id, password, bind_type, host)
        self._session.answer_bind(pdu, status, ctx.system_id)
        if status != CommandStatus.ESME_ROK:
            self._log.info(
                "bind_refused",
                system_id=system_id,
                bind_type=bind_type.name.lower(),
                command_status=status_name(status),
            )
            if ctx.lockout.record(host, status, now):
                self._log.warning(
                    "bind_lockout",
                    host=host,
                    failures=ctx.smpp.bind_failure_limit,
                    seconds=ctx.lockout.duration,
                )
            return
        account = ctx.accounts.get(system_id)
        assert account is not None
        account.binds += 1
        self._account = account
        self._log = self._log.bind(system_id=system_id)
        self._log.info("bound", bind_type=bind_type.name.lower())
        if bind_type in (BindType.RECEIVER, BindType.TRANSCEIVER):
            self._outbox = ctx.router.outboxes[system_id]
            self._outbox.subscribe(self._wake_pump)

    def _on_request(self, pdu: Pdu, now: float) -> None:
        session = self._session
        router = self._ctx.router
        system_id = session.bound_system_id or ""
        seq = pdu.sequence_number
        kind = type(pdu)
        if kind is SubmitSm or kind is DataSm:
            assert isinstance(pdu, SubmitSm | DataSm)
            self._submits += 1
            result = router.submit(system_id, pdu, now)
            status = result.command_status
            frame = submit_response_frame(
                pdu.command_id | RESPONSE_BIT, seq, status, result.message_id
            )
            if status or router.committer is None:
                session.send_response_frame(frame)  # nothing to wait for: answered at once
            else:
                self._defer(router.committer, frame)
        elif kind is SubmitMulti:
            assert isinstance(pdu, SubmitMulti)
            self._submits += 1
            accepted, failed = router.submit_multi(system_id, pdu, now)
            self._respond_stored(
                SubmitMultiResp(
                    sequence_number=seq,
                    command_status=accepted.command_status,
                    message_id=accepted.message_id,
                    unsuccess_smes=tuple(
                        UnsuccessSme(
                            dest_addr_ton=ton,
                            dest_addr_npi=npi,
                            destination_addr=addr,
                            error_status_code=status,
                        )
                        for ton, npi, addr, status in failed
                    ),
                )
            )
        elif kind is QuerySm:
            assert isinstance(pdu, QuerySm)
            answer = router.query(system_id, pdu)
            message = answer.message
            if message is None:
                session.send_response(
                    QuerySmResp(sequence_number=seq, command_status=answer.command_status)
                )
            else:
                session.send_response(
                    QuerySmResp(
                        sequence_number=seq,
                        message_id=message.message_id,
                        final_date=(
                            format_absolute(message.done_time)
                            if message.done_time is not None
                            else ""
                        ),
                        message_state=int(message.message_state),
                        error_code=0,
                    )
                )
        elif kind is CancelSm:
            assert isinstance(pdu, CancelSm)
            self._respond_stored(
                CancelSmResp(sequence_number=seq, command_status=router.cancel(system_id, pdu))
            )
        elif kind is ReplaceSm:
            assert isinstance(pdu, ReplaceSm)
            self._respond_stored(
                ReplaceSmResp(sequence_number=seq, command_status=router.replace(system_id, pdu))
            )
        else:
            # The session's table only lets through what an SMSC serves; anything else
            # reaching here is a gap in this dispatch, answered honestly.
            response = response_class(pdu.command_id)
            if response is not None:
                session.send_response(
                    response(sequence_number=seq, command_status=CommandStatus.ESME_RSYSERR)
                )

    def _respond_stored(self, response: ResponsePdu) -> None:
        """Answer a request that changed stored state: at once with the memory store or a
        refusal; with the durable store, ESME_ROK only once the change is committed."""
        committer = self._ctx.router.committer
        if committer is None or response.command_status != CommandStatus.ESME_ROK:
            self._session.send_response(response)
            return
        self._defer(committer, response)

    def _defer(self, committer: Committer, response: ResponsePdu | bytes) -> None:
        """Hold an ESME_ROK (a PDU, or a submit_sm_resp's octets) for the next commit."""
        deferred = self._deferred
        if not deferred:
            # One wait covers the whole queue: _release_deferred waits again for what is left.
            committer.wait(self._on_commit)
        deferred.append((committer.ticket(), response))

    def _release_deferred(self) -> None:
        """Answer the held responses whose batch is settled, in the order they were held:
        ESME_RSYSERR for a batch that failed, as held for one committed; then wait for the
        next commit if some are left. The submit_sm_resp frames go to the session together
        (``send_response_frames``): one call a commit, not one a response."""
        committer = self._ctx.router.committer
        assert committer is not None
        committed, failed = committer.committed, committer.failed_batches
        deferred = self._deferred
        session = self._session
        frames: list[bytes] = []
        while deferred:
            ticket, response = deferred[0]
            if ticket in failed:
                # Not stored: the message was withdrawn, and the ESME must submit it again.
                response = _refused(response)
            elif ticket > committed:
                committer.wait(self._on_commit)
                break
            deferred.popleft()
            if isinstance(response, bytes):
                frames.append(response)
            else:
                session.send_response_frames(frames)  # those before it, first
                frames = []
                session.send_response(response)
        if frames:
            session.send_response_frames(frames)

    def _on_response(self, response: Pdu, context: object) -> None:
        if not isinstance(context, OutboxItem):
            return  # enquire_link and unbind responses are the session's business
        if response.command_status == CommandStatus.ESME_ROK:
            self._receipts_sent += 1
            self._ctx.router.receipt_acknowledged(context)
            return
        self._log.info(
            "deliver_refused",
            message_id=context.message_id,
            command_status=status_name(response.command_status),
        )
        self._ctx.router.outboxes.retry_later(context)

    def _on_timeout(self, request: Pdu | EncodedRequest, context: object) -> None:
        if not isinstance(context, OutboxItem):
            return
        self._log.info(
            "deliver_timeout", message_id=context.message_id, seq=request.sequence_number
        )
        self._ctx.router.outboxes.retry_later(context)


def _refused(response: ResponsePdu | bytes) -> ResponsePdu | bytes:
    """The ESME_RSYSERR form of a response that promised a stored change."""
    if isinstance(response, bytes):  # a submit_sm_resp or data_sm_resp frame
        command_id, sequence_number = _ID_AND_SEQUENCE.unpack_from(response, 4)
        return submit_response_frame(command_id, sequence_number, CommandStatus.ESME_RSYSERR, "")
    if isinstance(response, SubmitSmResp | DataSmResp | SubmitMultiResp):
        return attrs.evolve(response, command_status=CommandStatus.ESME_RSYSERR, message_id="")
    return attrs.evolve(response, command_status=CommandStatus.ESME_RSYSERR)


_BOUND_STATES = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})
