"""The sans-IO SMPP 3.4 session: one connection's state machine, for either role.

Bytes and time go in, events and bytes come out; the caller owns the socket and the clock
(h11's ``Connection``, aioquic's ``handle_timer(now)``)::

    events = session.receive_data(chunk, now)     # or handle_timer(now) at get_timer()
    ...react to events: send_response, answer_bind, send_request...
    stream.send_all(session.data_to_send())

What the protocol answers by itself never reaches the caller: enquire_link, unbind,
generic_nack for undecodable input, ESME_RINVBNDSTS for a request not allowed in the state
(the tables live in ``smpp.states``). ``ProtocolError`` events report those answers for logs.

Sequence numbers of our requests are the session's: ``send_request`` assigns them, and the
``request`` handed back in ``ResponseReceived`` / ``RequestTimedOut`` is a copy of the caller's
PDU carrying that number (the caller's frozen PDU is never touched, so one PDU may be sent any
number of times). Correlate with ``context`` or the returned sequence number.

Timers are absolute deadlines on the caller's clock. The request deadlines are kept in a dict in
send order; since ``response_timeout`` is constant and the clock monotonic, that is deadline
order, so the earliest is the first entry: O(1), no scan, no heap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias, TypeVar, assert_never

import attrs

from smscd.smpp.codec import EncodedRequest, PduReader, encode
from smscd.smpp.constants import (
    RESPONSE_BIT,
    SMPP_VERSION_34,
    BindType,
    CommandId,
    CommandStatus,
)
from smscd.smpp.errors import SmppError
from smscd.smpp.frozen import fast_frozen, positional_factory, twin_of
from smscd.smpp.pdus import (
    PDU_CLASSES,
    RESPONSE_FOR,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    RequestPdu,
    ResponsePdu,
    Unbind,
    UnbindResp,
    response_class,
)
from smscd.smpp.states import (
    ACCEPTED_BY_ROLE,
    BIND_IDS,
    BOUND_STATE_FOR_BIND,
    BOUND_STATES,
    INBOUND_ACTIONS,
    OUTBOUND,
    Action,
    Role,
    SessionState,
)
from smscd.smpp.tlv import Tlvs

__all__ = [
    "MAX_SEQUENCE_NUMBER",
    "REASON_ENQUIRE_LINK",
    "REASON_INACTIVITY",
    "REASON_INIT_TIMEOUT",
    "REASON_UNBIND",
    "BindCompleted",
    "BindRequest",
    "BindRequested",
    "BindResponse",
    "ConnectionClosed",
    "Event",
    "OperationNotAllowedError",
    "ProtocolError",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "Role",
    "Session",
    "SessionConfig",
    "SessionError",
    "SessionState",
    "Unbound",
    "WindowFull",
]

BindRequest: TypeAlias = BindTransmitter | BindReceiver | BindTransceiver
BindResponse: TypeAlias = BindTransmitterResp | BindReceiverResp | BindTransceiverResp

#: Sequence numbers run 1..0x7FFFFFFF (§5.1.2.4 "0x00000001 to 0x7FFFFFFF"), then wrap to 1.
MAX_SEQUENCE_NUMBER: Final = 0x7FFFFFFF

_GENERIC_NACK: Final = CommandId.GENERIC_NACK
# The two requests that have no response PDU (§4.1.7, §4.12).
_WITHOUT_RESPONSE: Final = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})


def _compile_renumber(cls: type[Pdu]) -> Callable[[Any, int], Any]:
    """Build ``renumber(pdu, sequence_number)``: a copy of a ``cls`` PDU under another number.

    send_request stamps its sequence number on the caller's PDU, and the copy is what events
    hand back, so ``request.sequence_number`` is the one on the wire. ``attrs.evolve`` costs
    ~5 µs for a deliver_sm; this straight-line copy through the class's writable twin (see
    ``smpp.frozen``) ~0.6 µs. The generated source holds only attrs field names.
    """
    try:
        twin = twin_of(cls)
    except TypeError:  # a class without a twin: correct, only slower

        def evolve(pdu: Any, sequence_number: int) -> Any:
            return attrs.evolve(pdu, sequence_number=sequence_number)

        return evolve
    names = [field.name for field in attrs.fields(cls) if field.name != "sequence_number"]
    source = "".join(
        [
            "def renumber(pdu, sequence_number):\n",
            "    new = _new(_twin)\n",
            "    new.sequence_number = sequence_number\n",
            *(f"    new.{name} = pdu.{name}\n" for name in names),
            "    new.__class__ = _cls\n",
            "    return new\n",
        ]
    )
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    exec(compile(source, f"<smpp renumber {cls.__name__}>", "exec"), namespace)
    renumber: Callable[[Any, int], Any] = namespace["renumber"]
    return renumber


_RENUMBER: Final[Mapping[type, Callable[[Any, int], Any]]] = {
    cls: _compile_renumber(cls) for cls in PDU_CLASSES.values()
}
_RequestT = TypeVar("_RequestT", bound=RequestPdu | EncodedRequest)

# Request command_id -> the CommandId member of its response (see _Pending).
_RESPONSE_ID: Final[Mapping[int, CommandId]] = {
    request_id: CommandId(response.command_id) for request_id, response in RESPONSE_FOR.items()
}
_BIND_REQUEST_CLASS: Final[Mapping[BindType, type[BindRequest]]] = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}
_BIND_RESPONSE_CLASS: Final[Mapping[int, type[BindResponse]]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
}
# Announce SMPP 3.4 in a successful bind_*_resp (§4.1.2, §5.3.2.25), so the ESME knows TLVs work.
_SC_INTERFACE_VERSION: Final = Tlvs(sc_interface_version=SMPP_VERSION_34)

_ENDING_STATES: Final = frozenset(
    {SessionState.UNBINDING, SessionState.UNBOUND, SessionState.CLOSED}
)

# Reasons given in ConnectionClosed, stable for logs and tests.
REASON_INIT_TIMEOUT: Final = "session init timeout"
REASON_INACTIVITY: Final = "inactivity"
REASON_ENQUIRE_LINK: Final = "enquire_link unanswered"
REASON_UNBIND: Final = "unbind unanswered"


# --------------------------------------------------------------------------- configuration


@attrs.frozen
class SessionConfig:
    """Per-session limits and timers, in seconds on the caller's clock.

    Attributes:
        max_command_length: frames longer than this are a fatal ESME_RINVCMDLEN.
        window: how many of our requests may await a response at once (``WindowFull`` past it).
        response_timeout: how long a request of ours may await its response.
        enquire_link_interval: send enquire_link after this long without receiving anything
            while bound (0 = never).
        session_init_timeout: SMSC role: close if not bound this long after the connection.
        inactivity_timeout: nothing received for this long: unbind if bound, else close
            (0 = never).
    """

    max_command_length: int = 65536
    window: int = 10
    response_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    session_init_timeout: float = 30.0
    inactivity_timeout: float = 300.0


# ---------------------------------------------------------------------------------- errors


class SessionError(Exception):
    """The caller asked the session for something it cannot do now."""


class WindowFull(SessionError):  # noqa: N818 -- the name docs/architecture.md gives it
    """``window`` requests already await a response; wait for one (or its time-out)."""


class OperationNotAllowedError(SessionError):
    """This role may not send that PDU in the current state (SMPP 3.4 §2.4)."""


# ---------------------------------------------------------------------------------- events


@attrs.frozen
class BindRequested:
    """SMSC role: an ESME asks to bind; authenticate it and call ``answer_bind``."""

    pdu: BindRequest
    bind_type: BindType


@attrs.frozen
class BindCompleted:
    """ESME role: the answer to ``bind``; bound when ``response.command_status`` is 0.

    A generic_nack answering the bind arrives here too (the bind failed).
    """

    response: BindResponse | GenericNack


@fast_frozen
@attrs.frozen
class RequestReceived:
    """A request for the application: answer it with ``send_response`` (same sequence_number).

    outbind and alert_notification have no response (§4.1.7, §4.12).
    """

    pdu: RequestPdu


@fast_frozen
@attrs.frozen
class ResponseReceived:
    """The answer to one of our requests (possibly a generic_nack); its window slot is free."""

    request: RequestPdu | EncodedRequest
    response: ResponsePdu
    context: object


@attrs.frozen
class RequestTimedOut:
    """No answer within ``response_timeout``; the window slot is free, a late answer ignored."""

    request: RequestPdu | EncodedRequest
    context: object


@attrs.frozen
class Unbound:
    """The unbind handshake finished, either direction: flush ``data_to_send`` and close."""


@attrs.frozen
class ConnectionClosed:
    """The session gave up on the connection: flush ``data_to_send``, then close.

    ``reason`` is one of the ``REASON_*`` constants or a fatal codec error's text.
    """

    reason: str


@attrs.frozen
class ProtocolError:
    """The peer broke the protocol; for logs, since the session has already answered.

    Attributes:
        command_status: the status answered with; for what cannot be answered (a response we
            did not expect, a refused outbind or alert_notification), the status we would have.
        command_id: of the offending PDU, ``None`` when its header was unreadable.
        sequence_number: of the offending PDU, 0 when unknown.
        fatal: the session closes the connection (a ``ConnectionClosed`` follows).
        reason: human-readable detail.
    """

    command_status: int
    command_id: int | None
    sequence_number: int
    fatal: bool
    reason: str = ""


# One of each per message (the submit_sm in, the deliver_sm_resp in) in receive_data's loop.
_request_received: Callable[[RequestPdu], RequestReceived] = positional_factory(RequestReceived)
_response_received: Callable[[RequestPdu, ResponsePdu, object], ResponseReceived] = (
    positional_factory(ResponseReceived)
)

Event: TypeAlias = (
    BindRequested
    | BindCompleted
    | RequestReceived
    | ResponseReceived
    | RequestTimedOut
    | Unbound
    | ConnectionClosed
    | ProtocolError
)

# One outstanding request of ours: (request, context, deadline, fast_response_id). A tuple, not
# a class: one is built per message on the hot path. fast_response_id is the CommandId member
# of the expected response, compared by identity (decoded PDUs carry the members) so that
# receive_data can settle the common case inline; binds store None there, so that their
# response takes the slow path, which moves the state machine.
_Pending: TypeAlias = tuple[RequestPdu | EncodedRequest, object, float, "CommandId | None"]


# --------------------------------------------------------------------------------- session


class Session:
    """One SMPP connection's protocol state, for the SMSC or the ESME end.

    Args:
        role: which end we are.
        config: limits and timers.
        now: the caller's clock at connection time; session-init and idle timers start here.
    """

    def __init__(self, role: Role, config: SessionConfig, now: float) -> None:
        self.role: Final = role
        self.config: Final = config
        #: SMSC role: the system_id the ESME bound with. ESME role: the one we bound with.
        self.bound_system_id: str | None = None
        self.bind_type: BindType | None = None

        self._reader = PduReader(config.max_command_length)
        self._out: list[bytes] = []
        self._next_sequence = 1
        self._pending: dict[int, _Pending] = {}
        self._window = config.window
        self._response_timeout = config.response_timeout
        self._enquire_interval = config.enquire_link_interval
        self._inactivity = config.inactivity_timeout

        self._last_received = now
        # SMSC role only: an ESME that connects must bind in time (§7.2 session_init_timer).
        self._init_deadline: float | None = (
            now + config.session_init_timeout
            if role is Role.SMSC and config.session_init_timeout > 0
            else None
        )
        # The session's own requests: outside the window, never reported as events.
        self._enquire_sequence: int | None = None
        self._enquire_deadline: float | None = None
        self._unbind_sequence: int | None = None
        self._unbind_deadline: float | None = None
        # SMSC role: a BindRequested awaits answer_bind; ESME role: our bind awaits its resp.
        self._binding = False
        # Closed by a bad command_length: the requests read before it are still answered.
        self._framing_error = False

        self._state = SessionState.OPEN
        self._inbound: Mapping[int, Action] = INBOUND_ACTIONS[(role, SessionState.OPEN)]
        self._outbound: frozenset[int] = OUTBOUND[(role, SessionState.OPEN)]

    # ------------------------------------------------------------------ read-only views

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def outstanding(self) -> int:
        """How many of our requests await a response (the session's own ones excluded)."""
        return len(self._pending)

    @property
    def window_available(self) -> int:
        """How many more requests ``send_request`` takes before ``WindowFull``."""
        return max(0, self._window - len(self._pending))

    @property
    def buffered(self) -> int:
        """Octets received that do not make a whole PDU yet: one PDU still arriving."""
        return self._reader.buffered

    # ----------------------------------------------------------------------- bytes in

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> list[Event]:
        """Feed bytes read from the peer.

        Args:
            data: any chunk of the stream, from one byte to many PDUs.
            now: the caller's clock.

        Returns:
            The events, in stream order. Answers the session gives itself are queued for
            ``data_to_send``; after a ``ConnectionClosed`` the rest of the chunk is dropped.
        """
        if self._state is SessionState.CLOSED:
            return []
        if data:
            self._last_received = now
        reader = self._reader
        reader.feed(data)
        events: list[Event] = []
        append = events.append
        pending = self._pending
        # The loop is the hot path (tens of thousands of PDUs a second): the common cases are
        # inline, everything else goes to a method. The ``type: ignore``s stand in for
        # ``cast`` calls, which cost a function call per PDU; the tests cover the types.
        while True:
            try:
                pdu = reader.next_pdu()
            except SmppError as exc:
                if self._on_codec_error(exc, events):
                    return events
                continue
            if pdu is None:
                return events
            command_id = pdu.command_id
            if command_id >= RESPONSE_BIT:
                entry = pending.get(pdu.sequence_number)
                if entry is not None and entry[3] is command_id:
                    # submit_sm_resp at an ESME, deliver_sm_resp at an SMSC.
                    del pending[pdu.sequence_number]
                    append(_response_received(entry[0], pdu, entry[1]))  # type: ignore[arg-type]
                else:
                    self._on_response(pdu, events)  # type: ignore[arg-type]
                continue
            action = self._inbound.get(command_id)
            if action is Action.EVENT:
                # submit_sm at an SMSC, deliver_sm at an ESME.
                append(_request_received(pdu))  # type: ignore[arg-type]
            elif action is None:
                self._reject(pdu, events)  # type: ignore[arg-type]
            else:
                self._on_session_request(action, pdu, events)  # type: ignore[arg-type]

    def _on_session_request(self, action: Action, pdu: RequestPdu, events: list[Event]) -> None:
        """Handle an accepted request according to its action in the ``states`` table."""
        match action:
            case Action.EVENT:
                events.append(RequestReceived(pdu))
            case Action.ENQUIRE_LINK:
                self._queue(EnquireLinkResp(sequence_number=pdu.sequence_number))
            case Action.UNBIND:
                self._queue(UnbindResp(sequence_number=pdu.sequence_number))
                # A crossing unbind (we were UNBINDING) ends the handshake just as well; the
                # unbind_resp still owed to us is then absorbed quietly by _on_response.
                self._unbind_deadline = None
                self._set_state(SessionState.UNBOUND)
                events.append(Unbound())
            case Action.BIND:
                assert isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver)
                if self._binding:
                    # One bind at a time: the first is still with the application.
                    self._queue_error_response(pdu, CommandStatus.ESME_RINVBNDSTS)
                    events.append(
                        ProtocolError(
                            CommandStatus.ESME_RINVBNDSTS,
                            pdu.command_id,
                            pdu.sequence_number,
                            False,
                            "bind while another bind awaits its answer",
                        )
                    )
                else:
                    self._binding = True
                    events.append(BindRequested(pdu, BindType(pdu.command_id)))
            case _:
                assert_never(action)

    def _reject(self, pdu: RequestPdu, events: list[Event]) -> None:
        """Answer a request the tables refuse in this role and state."""
        command_id = pdu.command_id
        if command_id not in ACCEPTED_BY_ROLE[self.role]:
            status = CommandStatus.ESME_RINVCMDID
            reason = f"{self.role.value} role never accepts this operation"
        elif command_id in BIND_IDS and self._state in BOUND_STATES:
            status = CommandStatus.ESME_RALYBND
            reason = "bind on a bound session"
        else:
            status = CommandStatus.ESME_RINVBNDSTS
            reason = f"not allowed in state {self._state.name}"
        self._queue_error_response(pdu, status)
        events.append(ProtocolError(status, command_id, pdu.sequence_number, False, reason))

    def _queue_error_response(self, pdu: RequestPdu, status: int) -> None:
        resp_class = response_class(pdu.command_id)
        # outbind and alert_notification have no response: the peer expects none, and a
        # generic_nack would answer a PDU it does not wait for. The ProtocolError is all.
        if resp_class is not None:
            self._queue(resp_class(sequence_number=pdu.sequence_number, command_status=status))

    def _on_response(self, pdu: ResponsePdu, events: list[Event]) -> None:
        """The responses receive_data's fast path leaves: generic_nack, bind_*_resp, the
        answers to the session's own requests, mismatches and strays."""
        sequence_number = pdu.sequence_number
        entry = self._pending.get(sequence_number)
        if entry is not None:
            request = entry[0]
            command_id = pdu.command_id
            if command_id == request.command_id | RESPONSE_BIT or command_id == _GENERIC_NACK:
                del self._pending[sequence_number]
                if request.command_id in BIND_IDS:
                    self._on_bind_response(request, pdu, events)
                else:
                    events.append(ResponseReceived(request, pdu, entry[1]))
                return
            # A response of the wrong kind: leave the request to its own answer or time-out.
            reason = "response does not match the request of that sequence_number"
        elif sequence_number == self._enquire_sequence:
            # Any answer proves the link is alive, even a generic_nack.
            self._enquire_sequence = self._enquire_deadline = None
            return
        elif sequence_number == self._unbind_sequence:
            # Whatever the status, the peer heard the unbind: the handshake is over (unless a
            # crossing unbind from the peer already ended it).
            self._unbind_sequence = self._unbind_deadline = None
            if self._state is SessionState.UNBINDING:
                self._set_state(SessionState.UNBOUND)
                events.append(Unbound())
            return
        else:
            # Typically a late answer to a request that already timed out. Never answered:
            # a response to a response would loop (§3.3).
            reason = "response to no outstanding request"
        events.append(
            ProtocolError(pdu.command_status, pdu.command_id, sequence_number, False, reason)
        )

    def _on_bind_response(
        self, request: RequestPdu | EncodedRequest, pdu: ResponsePdu, events: list[Event]
    ) -> None:
        """ESME role: our bind was answered."""
        # _on_response matched the kinds: a bind_*_resp of the same bind, or a generic_nack.
        assert isinstance(request, BindTransmitter | BindReceiver | BindTransceiver)
        assert isinstance(
            pdu, BindTransmitterResp | BindReceiverResp | BindTransceiverResp | GenericNack
        )
        self._binding = False
        if pdu.command_status == CommandStatus.ESME_ROK and not isinstance(pdu, GenericNack):
            self.bound_system_id = request.system_id
            self.bind_type = BindType(request.command_id)
            self._set_state(BOUND_STATE_FOR_BIND[request.command_id])
        events.append(BindCompleted(pdu))

    def _on_codec_error(self, exc: SmppError, events: list[Event]) -> bool:
        """Answer a frame the codec refused; True when the session closes."""
        command_id = exc.command_id
        status = exc.command_status
        sequence_number = exc.sequence_number
        if exc.fatal or command_id is None:
            self._queue(GenericNack(sequence_number=sequence_number, command_status=status))
        elif command_id & RESPONSE_BIT:
            # Never answer a response (§3.3); its request awaits a valid answer or times out.
            pass
        else:
            resp_class = response_class(command_id)
            if resp_class is not None:
                # A known request: its own response carries the status (§4.3: generic_nack
                # only when the command cannot be identified).
                self._queue(resp_class(sequence_number=sequence_number, command_status=status))
            elif command_id not in _WITHOUT_RESPONSE:
                # Unknown command_id (ESME_RINVCMDID): generic_nack is the only answer there is.
                self._queue(GenericNack(sequence_number=sequence_number, command_status=status))
            # else: a broken outbind or alert_notification, which have no response.
        events.append(ProtocolError(status, command_id, sequence_number, exc.fatal, str(exc)))
        if exc.fatal:
            # The stream is out of step (§3.2 command_length): nothing after this can be read.
            self._framing_error = True
            self._close(str(exc), events)
            return True
        return False

    # ---------------------------------------------------------------------- bytes out

    def data_to_send(self) -> bytes:
        """Return and forget every byte queued for the peer (one write for the whole batch)."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def _queue(self, pdu: Pdu) -> None:
        self._out.append(encode(pdu))

    def _allocate_sequence(self) -> int:
        sequence_number = self._next_sequence
        self._next_sequence = 1 if sequence_number >= MAX_SEQUENCE_NUMBER else sequence_number + 1
        return sequence_number

    def _queue_with_sequence(self, pdu: _RequestT) -> tuple[_RequestT, int]:
        """Queue ``pdu`` under the next sequence number; return the PDU as sent, and the number.

        Raises:
            ValueError: the codec cannot encode it (the number is then skipped, which is fine:
                sequence numbers need only be unique among outstanding requests).
        """
        sequence_number = self._next_sequence
        # Inline _allocate_sequence: this runs once per message.
        self._next_sequence = 1 if sequence_number >= MAX_SEQUENCE_NUMBER else sequence_number + 1
        if isinstance(pdu, EncodedRequest):
            # Already encoded (a receipt): only the header is new.
            out = self._out
            out.append(pdu.header(sequence_number))
            out.append(pdu.body)
            sent = EncodedRequest(pdu.command_id, pdu.body, sequence_number)
            return sent, sequence_number  # type: ignore[return-value]  # _RequestT is EncodedRequest
        if pdu.sequence_number != sequence_number:
            pdu = _RENUMBER[type(pdu)](pdu, sequence_number)
        self._out.append(encode(pdu))  # type: ignore[arg-type]  # a PDU: EncodedRequest left above
        return pdu, sequence_number

    def send_request(
        self, pdu: RequestPdu | EncodedRequest, now: float, context: object = None
    ) -> int:
        """Send one of our requests; its response comes back as ``ResponseReceived``.

        Args:
            pdu: the request, as a PDU or already encoded; its ``sequence_number`` is ignored
                (see the module docstring). The event carries it under the number sent.
            now: the caller's clock; the response deadline is ``now + response_timeout``.
            context: anything; handed back with the response or the time-out.

        Returns:
            The sequence number on the wire.

        Raises:
            OperationNotAllowedError: this role may not send it in this state (a deliver_sm to a
                transmitter, a submit_sm before binding); use ``bind``/``unbind`` for those.
            WindowFull: ``window`` requests already await a response.
            ValueError: the codec cannot encode the PDU (a field too long, ...).
        """
        command_id = pdu.command_id
        if command_id not in self._outbound:
            raise OperationNotAllowedError(self._refusal(command_id))
        response_id = _RESPONSE_ID.get(command_id)
        if response_id is None:
            # outbind and alert_notification have no response, hence no window slot
            # (§4.1.7, §4.12).
            return self._queue_with_sequence(pdu)[1]
        pending = self._pending
        if len(pending) >= self._window:
            raise WindowFull(f"{self._window} requests await a response")
        request, sequence_number = self._queue_with_sequence(pdu)
        pending[sequence_number] = (request, context, now + self._response_timeout, response_id)
        return sequence_number

    def _refusal(self, command_id: int) -> str:
        try:
            name = CommandId(command_id).name.lower()
        except ValueError:
            name = f"command_id 0x{command_id:08X}"
        return f"{self.role.value} may not send {name} in state {self._state.name}"

    def send_response(self, pdu: ResponsePdu) -> None:
        """Queue the answer to a request the peer sent (copy its ``sequence_number``).

        After the session closed there is nobody to answer: the PDU is dropped, so that an
        application still finishing work for a dead connection needs no special case. Except
        after a bad command_length: the connection stays up to flush its generic_nack, and the
        requests that arrived whole before it (in the same chunk) still get their answers.

        Raises:
            ValueError: ``pdu`` is a request.
            ValueError: the codec cannot encode it.
        """
        if not pdu.command_id & RESPONSE_BIT:
            raise ValueError(f"send_response takes a response, not {type(pdu).__name__}")
        if self._state is not SessionState.CLOSED or self._framing_error:
            self._out.append(encode(pdu))

    def send_response_frame(self, frame: bytes) -> None:
        """``send_response`` for a response already encoded (see
        ``codec.submit_response_frame``); the same rules apply.

        Raises:
            ValueError: ``frame`` is not a response.
        """
        if len(frame) < 16 or not frame[4] & 0x80:
            raise ValueError("send_response_frame takes an encoded response")
        if self._state is not SessionState.CLOSED or self._framing_error:
            self._out.append(frame)

    def send_response_frames(self, frames: list[bytes]) -> None:
        """``send_response_frame`` for many frames at once, in order: the submit_sm_resp a
        durable store held until a commit, released together. The frames are the caller's
        own ``codec.submit_response_frame`` output and are not checked one by one."""
        if self._state is not SessionState.CLOSED or self._framing_error:
            self._out.extend(frames)

    # ------------------------------------------------------------------------- binding

    def answer_bind(self, request: BindRequest, status: int, system_id: str) -> None:
        """SMSC role: answer the bind of a ``BindRequested``; bound on ESME_ROK.

        Args:
            request: the bind from the event.
            status: ESME_ROK, or the refusal (ESME_RINVPASWD, ESME_RBINDFAIL, ...).
            system_id: ours, the SMSC's, for the response (§4.1.2).

        Raises:
            OperationNotAllowedError: not the SMSC role, or no bind awaits an answer.
        """
        if self._state is SessionState.CLOSED:
            # The connection died while the application authenticated: nobody to answer.
            return
        if self.role is not Role.SMSC or self._state is not SessionState.OPEN:
            raise OperationNotAllowedError(
                f"answer_bind needs an SMSC session in OPEN, not {self.role.value} in "
                f"{self._state.name}"
            )
        if not self._binding:
            raise OperationNotAllowedError("no bind awaits an answer")
        self._binding = False
        command_id = request.command_id
        resp_class = _BIND_RESPONSE_CLASS[command_id]
        if status != CommandStatus.ESME_ROK:
            self._queue(
                resp_class(
                    sequence_number=request.sequence_number,
                    command_status=status,
                    system_id=system_id,
                )
            )
            return
        self._queue(
            resp_class(
                sequence_number=request.sequence_number,
                system_id=system_id,
                tlvs=_SC_INTERFACE_VERSION,
            )
        )
        self.bound_system_id = request.system_id
        self.bind_type = BindType(command_id)
        self._init_deadline = None
        self._set_state(BOUND_STATE_FOR_BIND[command_id])

    def bind(
        self,
        bind_type: BindType,
        system_id: str,
        password: str,
        now: float,
        *,
        system_type: str = "",
        interface_version: int = SMPP_VERSION_34,
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
        context: object = None,
    ) -> int:
        """ESME role: send a bind; the answer comes back as ``BindCompleted``.

        The bind takes a window slot and times out like any request (``RequestTimedOut``).

        Args:
            bind_type: transmitter, receiver or transceiver.
            system_id, password, system_type, interface_version, addr_ton, addr_npi,
                address_range: the bind fields (§4.1.1).
            now: the caller's clock.
            context: handed back with a time-out.

        Returns:
            The sequence number of the bind.

        Raises:
            OperationNotAllowedError: not the ESME role, not OPEN, or a bind is already under way.
        """
        if self.role is not Role.ESME or self._state is not SessionState.OPEN or self._binding:
            raise OperationNotAllowedError(
                f"bind needs an ESME session in OPEN with no bind under way, not "
                f"{self.role.value} in {self._state.name}"
            )
        sequence_number = self._next_sequence
        pdu = _BIND_REQUEST_CLASS[bind_type](
            sequence_number=sequence_number,
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=interface_version,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
        )
        pdu, _ = self._queue_with_sequence(pdu)
        # No fast_response_id: the bind_*_resp goes through _on_response (see _Pending).
        self._pending[sequence_number] = (pdu, context, now + self._response_timeout, None)
        self._binding = True
        return sequence_number

    def unbind(self, now: float) -> None:
        """Start the unbind handshake (§4.2); ``Unbound`` follows the peer's unbind_resp.

        No new request may be sent meanwhile; answers to outstanding ones still arrive. Without
        an unbind_resp within ``response_timeout``: ``ConnectionClosed("unbind unanswered")``.
        Once the session is ending (UNBINDING, UNBOUND, CLOSED) it does nothing, so a shutdown
        can call it on every session without looking first.

        Raises:
            OperationNotAllowedError: in OPEN, where there is no bind to end (just close).
        """
        if self._state in _ENDING_STATES:
            return
        if self._state not in BOUND_STATES:
            raise OperationNotAllowedError(f"unbind needs a bound session, not {self._state.name}")
        self._start_unbind(now)

    def _start_unbind(self, now: float) -> None:
        sequence_number = self._allocate_sequence()
        self._queue(Unbind(sequence_number=sequence_number))
        self._unbind_sequence = sequence_number
        self._unbind_deadline = now + self._response_timeout
        self._set_state(SessionState.UNBINDING)

    def close(self) -> None:
        """Stop: read and send nothing more, drop every timer.

        Bytes already queued stay available to ``data_to_send``; requests that never got an
        answer stay available to ``drain_outstanding``.
        """
        self._stop()

    def drain_outstanding(self) -> list[tuple[RequestPdu | EncodedRequest, object]]:
        """Return and forget the (request, context) of every request still awaiting an answer.

        For a connection that ended (``Unbound``, ``ConnectionClosed``, a dead socket): the
        application puts these back (e.g. deliver_sm to retry on another session).
        """
        drained = [(entry[0], entry[1]) for entry in self._pending.values()]
        self._pending.clear()
        return drained

    def _close(self, reason: str, events: list[Event]) -> None:
        self._stop()
        events.append(ConnectionClosed(reason))

    def _stop(self) -> None:
        self._set_state(SessionState.CLOSED)
        self._init_deadline = None
        self._enquire_sequence = self._enquire_deadline = None
        self._unbind_sequence = self._unbind_deadline = None

    def _set_state(self, state: SessionState) -> None:
        self._state = state
        # The per-state tables are looked up once per transition, not once per PDU.
        self._inbound = INBOUND_ACTIONS[(self.role, state)]
        self._outbound = OUTBOUND[(self.role, state)]

    # -------------------------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        """The earliest deadline on the caller's clock, or None when nothing is timed.

        Call ``handle_timer`` once the clock reaches it. It moves earlier only through
        ``send_request``, ``bind`` or ``unbind``; a transport waiting on it re-reads it after
        those.
        """
        state = self._state
        if state is SessionState.CLOSED:
            return None
        deadline: float | None = None
        if self._pending:
            deadline = next(iter(self._pending.values()))[2]
        for candidate in (self._init_deadline, self._enquire_deadline, self._unbind_deadline):
            if candidate is not None and (deadline is None or candidate < deadline):
                deadline = candidate
        if state is SessionState.OPEN or state in BOUND_STATES:
            if self._inactivity > 0:
                candidate = self._last_received + self._inactivity
                if deadline is None or candidate < deadline:
                    deadline = candidate
            if (
                state is not SessionState.OPEN
                and self._enquire_interval > 0
                and self._enquire_sequence is None
            ):
                candidate = self._last_received + self._enquire_interval
                if deadline is None or candidate < deadline:
                    deadline = candidate
        return deadline

    def handle_timer(self, now: float) -> list[Event]:
        """Fire every deadline at or before ``now``; early or repeated calls are harmless.

        Returns:
            ``RequestTimedOut`` for each expired request (in send order), then at most one
            ``ConnectionClosed``. Enquire_link and unbind the session sends itself are queued
            for ``data_to_send`` without an event.
        """
        if self._state is SessionState.CLOSED:
            return []
        events: list[Event] = []
        pending = self._pending
        while pending:
            sequence_number, (request, context, deadline, _) = next(iter(pending.items()))
            if deadline > now:
                break
            del pending[sequence_number]
            if request.command_id in BIND_IDS:
                self._binding = False
            events.append(RequestTimedOut(request, context))

        if self._unbind_deadline is not None and now >= self._unbind_deadline:
            self._close(REASON_UNBIND, events)
            return events
        if self._enquire_deadline is not None and now >= self._enquire_deadline:
            self._close(REASON_ENQUIRE_LINK, events)
            return events
        if self._init_deadline is not None and now >= self._init_deadline:
            self._close(REASON_INIT_TIMEOUT, events)
            return events

        state = self._state
        bound = state in BOUND_STATES
        if (
            (bound or state is SessionState.OPEN)
            and self._inactivity > 0
            and now >= self._last_received + self._inactivity
        ):
            if not bound:
                self._close(REASON_INACTIVITY, events)
                return events
            # Be polite first (§4.2); the unbind deadline closes if the peer is really gone.
            self._start_unbind(now)
            return events
        if (
            bound
            and self._enquire_interval > 0
            and self._enquire_sequence is None
            and now >= self._last_received + self._enquire_interval
        ):
            sequence_number = self._allocate_sequence()
            self._queue(EnquireLink(sequence_number=sequence_number))
            self._enquire_sequence = sequence_number
            self._enquire_deadline = now + self._response_timeout
        return events
