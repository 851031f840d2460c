"""The SMPP 3.4 session states and the tables of what each side may send in each of them.

SMPP 3.4 §2.3 defines the states and §2.4 (table 2-1) which PDU may be issued by whom in which
state. This module holds that table as data, in both directions and for both roles, so the
session decides with one dictionary lookup per PDU (h11 ``_state.py``, h2's transition map):

- ``INBOUND[(role, state)]``: the requests this side accepts from the peer. A request missing
  from the set is answered by the session itself with its own ``..._resp`` carrying
  ESME_RINVBNDSTS (ESME_RALYBND for a bind on a bound SMSC session), or ESME_RINVCMDID when the
  operation never flows in that direction at all.
- ``OUTBOUND[(role, state)]``: the requests this side may send through ``Session.send_request``.
  Binds and unbind have their own methods (``bind``, ``answer_bind``, ``unbind``) because they
  move the state machine.

Responses are not in the tables: a response is matched to the request it answers by sequence
number, and that request was only sent when the table allowed it.

Deviations from the letter of table 2-1, each deliberate:

- enquire_link is accepted in OPEN (table 2-1 lists only the bound states). SMPP 5.0 §2.3 allows
  it, many ESMEs send one straight after connecting, and answering it costs nothing. We never
  *send* one in OPEN, though.
- replace_sm is accepted from a BOUND_TRX ESME: table 2-1 lists BOUND_TX only, an evident
  omission since a transceiver may do everything a transmitter may (§2.2).
- data_sm flows ESME→SMSC on TX/TRX binds and SMSC→ESME on RX/TRX binds: table 2-1 lists all
  three bound states for both directions, which would let a receiver submit.
- UNBINDING (we sent unbind, awaiting unbind_resp) accepts only enquire_link and a crossing
  unbind: a new message would arrive on a session that is going away, and refusing it with
  ESME_RINVBNDSTS lets the peer retry it elsewhere instead of losing it.
- UNBOUND (the unbind handshake is over) and CLOSED accept nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from smscd.smpp.constants import CommandId


class Role(enum.Enum):
    """Which end of the connection this session plays."""

    SMSC = "smsc"
    ESME = "esme"


class SessionState(enum.Enum):
    """SMPP session states (§2.3), plus the two ends of the unbind handshake and CLOSED.

    UNBINDING: we sent unbind and await unbind_resp. UNBOUND: the handshake finished (either
    direction); the transport flushes and closes. CLOSED: the session decided to close, or the
    caller closed it; nothing more is read or sent.
    """

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    UNBOUND = "unbound"
    CLOSED = "closed"


class Action(enum.Enum):
    """What the session does with an accepted inbound request."""

    EVENT = enum.auto()  # hand it to the application as RequestReceived
    BIND = enum.auto()  # SMSC role: BindRequested; the application calls answer_bind
    ENQUIRE_LINK = enum.auto()  # answered inside the session
    UNBIND = enum.auto()  # answered inside the session, then Unbound


BOUND_STATES: Final = frozenset(
    {SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX}
)

# Keyed by the CommandId members themselves, which is what a decoded PDU's ``command_id``
# is: the lookup then succeeds on identity, without an int-subclass equality test. Plain ints
# (a codec error's command_id) still find them, as an IntEnum hashes like its value.
BIND_IDS: Final = frozenset(
    {
        CommandId.BIND_TRANSMITTER,
        CommandId.BIND_RECEIVER,
        CommandId.BIND_TRANSCEIVER,
    }
)
_ENQUIRE_LINK: Final = CommandId.ENQUIRE_LINK
_UNBIND: Final = CommandId.UNBIND

# What an ESME sends on a transmitter bind and what the SMSC sends on a receiver bind (§2.2).
_SUBMISSION: Final[frozenset[int]] = frozenset(
    (
        CommandId.SUBMIT_SM,
        CommandId.SUBMIT_MULTI,
        CommandId.DATA_SM,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
    )
)
_DELIVERY: Final[frozenset[int]] = frozenset(
    (CommandId.DELIVER_SM, CommandId.DATA_SM, CommandId.ALERT_NOTIFICATION)
)
_LINK: Final = frozenset({_ENQUIRE_LINK, _UNBIND})

_S, _E = Role.SMSC, Role.ESME
_OPEN, _TX, _RX, _TRX = (
    SessionState.OPEN,
    SessionState.BOUND_TX,
    SessionState.BOUND_RX,
    SessionState.BOUND_TRX,
)
_UNBINDING, _UNBOUND, _CLOSED = (
    SessionState.UNBINDING,
    SessionState.UNBOUND,
    SessionState.CLOSED,
)
_NOTHING: Final[frozenset[int]] = frozenset()

#: Requests this side accepts from the peer, per (role, state).
INBOUND: Final[Mapping[tuple[Role, SessionState], frozenset[int]]] = {
    (_S, _OPEN): BIND_IDS | {_ENQUIRE_LINK},
    (_S, _TX): _SUBMISSION | _LINK,
    (_S, _RX): _LINK,
    (_S, _TRX): _SUBMISSION | _LINK,
    (_S, _UNBINDING): _LINK,
    (_S, _UNBOUND): _NOTHING,
    (_S, _CLOSED): _NOTHING,
    (_E, _OPEN): frozenset({CommandId.OUTBIND, _ENQUIRE_LINK}),
    (_E, _TX): _LINK,
    (_E, _RX): _DELIVERY | _LINK,
    (_E, _TRX): _DELIVERY | _LINK,
    (_E, _UNBINDING): _LINK,
    (_E, _UNBOUND): _NOTHING,
    (_E, _CLOSED): _NOTHING,
}

#: Requests this side may send with ``Session.send_request``, per (role, state).
OUTBOUND: Final[Mapping[tuple[Role, SessionState], frozenset[int]]] = {
    # An SMSC that connects out to an ESME announces itself with outbind (§4.1.7).
    (_S, _OPEN): frozenset({CommandId.OUTBIND}),
    (_S, _TX): frozenset({_ENQUIRE_LINK}),
    (_S, _RX): _DELIVERY | {_ENQUIRE_LINK},
    (_S, _TRX): _DELIVERY | {_ENQUIRE_LINK},
    (_S, _UNBINDING): _NOTHING,
    (_S, _UNBOUND): _NOTHING,
    (_S, _CLOSED): _NOTHING,
    (_E, _OPEN): _NOTHING,
    (_E, _TX): _SUBMISSION | {_ENQUIRE_LINK},
    (_E, _RX): frozenset({_ENQUIRE_LINK}),
    (_E, _TRX): _SUBMISSION | {_ENQUIRE_LINK},
    (_E, _UNBINDING): _NOTHING,
    (_E, _UNBOUND): _NOTHING,
    (_E, _CLOSED): _NOTHING,
}

#: Requests that flow towards this role in *some* state: the rest get ESME_RINVCMDID, since no
#: bind state would make them valid (a deliver_sm sent to an SMSC, a submit_sm to an ESME).
ACCEPTED_BY_ROLE: Final[Mapping[Role, frozenset[int]]] = {
    role: frozenset().union(*(ids for (r, _), ids in INBOUND.items() if r is role)) for role in Role
}

_SPECIAL_ACTIONS: Final[Mapping[int, Action]] = {
    _ENQUIRE_LINK: Action.ENQUIRE_LINK,
    _UNBIND: Action.UNBIND,
}


def _actions(role: Role, ids: frozenset[int]) -> Mapping[int, Action]:
    binds = Action.BIND if role is Role.SMSC else Action.EVENT
    return {
        cid: (binds if cid in BIND_IDS else _SPECIAL_ACTIONS.get(cid, Action.EVENT)) for cid in ids
    }


#: ``INBOUND`` with the action for each accepted request: the one lookup the hot path makes.
INBOUND_ACTIONS: Final[Mapping[tuple[Role, SessionState], Mapping[int, Action]]] = {
    key: _actions(key[0], ids) for key, ids in INBOUND.items()
}

#: The bound state an accepted bind of each command_id leads to (§2.3).
BOUND_STATE_FOR_BIND: Final[Mapping[int, SessionState]] = {
    CommandId.BIND_TRANSMITTER: SessionState.BOUND_TX,
    CommandId.BIND_RECEIVER: SessionState.BOUND_RX,
    CommandId.BIND_TRANSCEIVER: SessionState.BOUND_TRX,
}
