"""The router: accept → persist → hand to the carrier; status back → receipts out.

Everything here is synchronous and runs on the session's task between two awaits, so a
submit is stored and handed over before its submit_sm_resp is even queued. Receipts do not
go to a session directly: they go to the account's outbox, which whichever receiver session
is bound drains.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs
import structlog

from smscd.accounts import Accounts, AccountState
from smscd.carriers.base import Carrier, StatusReport, Waiting
from smscd.message import Address, ConcatPart, Message, MessageIdGenerator
from smscd.mo import MoError, MoMessage, build_mo_parts, check_handset_number, check_virtual_number
from smscd.outbox import Outboxes, OutboxItem
from smscd.receipt import receipt_request
from smscd.routing import Route, RouteTable
from smscd.smpp import timefmt
from smscd.smpp.codec import EncodedRequest
from smscd.smpp.constants import CommandStatus, EsmClass, Npi, RegisteredDelivery, Ton
from smscd.smpp.frozen import fast_frozen, positional_factory
from smscd.smpp.pdus import (
    CancelSm,
    DataSm,
    QuerySm,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
)
from smscd.sms.coding import Alphabet, TextDecodeError, decode_text
from smscd.sms.reassembly import Reassembler
from smscd.sms.udh import UdhError, split_udh
from smscd.status import Code
from smscd.store.base import Store

if TYPE_CHECKING:
    from smscd.durability import Committer

log = structlog.get_logger("smscd.router")

# Two per message: the positional factory skips __init__'s class switching (smpp.frozen).
_new_address: Callable[[int, int, str], Address] = positional_factory(Address)

SmsRequest = SubmitSm | DataSm
_MAX_SHARED_SOURCES = 10_000


@fast_frozen
@attrs.frozen
class Accepted:
    """What the transport needs to answer a submit: status and, on success, the id."""

    command_status: int
    message_id: str = ""


# One per accepted submit (the refusals keep the plain constructor).
_accepted: Callable[[int, str], Accepted] = positional_factory(Accepted)
_QUEUED = int(Code.QUEUED)

# The TON and NPI values SMPP 3.4 defines (§5.2.5, §5.2.6); the rest are reserved.
_TONS = frozenset(int(ton) for ton in Ton)
_NPIS = frozenset(int(npi) for npi in Npi)
# Source TON, source NPI, destination TON, destination NPI: the values allowed, and the
# refusal of a reserved one, checked in this order.
_ADDRESS_TYPES = (
    (_TONS, CommandStatus.ESME_RINVSRCTON),
    (_NPIS, CommandStatus.ESME_RINVSRCNPI),
    (_TONS, CommandStatus.ESME_RINVDSTTON),
    (_NPIS, CommandStatus.ESME_RINVDSTNPI),
)


def _address_type_refusal(*values: int) -> CommandStatus:
    """The status refusing the first reserved TON or NPI among ``values`` (in
    ``_ADDRESS_TYPES`` order); the caller knows one is."""
    for value, (allowed, status) in zip(values, _ADDRESS_TYPES, strict=True):
        if value not in allowed:
            return status
    raise AssertionError(f"no reserved TON or NPI in {values}")


@attrs.frozen
class QueryResult:
    command_status: int
    message: Message | None = None


class Router:
    """Accepts messages, routes them to carriers, turns their status into receipts.

    Args:
        carriers: the carriers by name.
        routes: which carrier takes which destination; None sends everything to the only
            carrier.
        unroutable: for a destination no route takes, an operator code to end the accepted
            message with (e.g. 409), or a ``CommandStatus`` to refuse the submit with.
        virtual_numbers: number -> system_id of the account that receives MO messages on it.
    """

    def __init__(
        self,
        *,
        store: Store,
        carriers: Mapping[str, Carrier],
        accounts: Accounts,
        outboxes: Outboxes,
        ids: MessageIdGenerator,
        sim_now: Callable[[], float],
        reassembler: Reassembler,
        routes: RouteTable | None = None,
        unroutable: int = int(Code.INVALID_RECIPIENT),
        virtual_numbers: Mapping[str, str] | None = None,
        gsm_default_is_latin1: bool = False,
    ) -> None:
        if routes is None:
            if len(carriers) != 1:
                raise ValueError("routes are required with more than one carrier")
            routes = RouteTable([Route("", next(iter(carriers)))])
        self.store = store
        self.carriers = dict(carriers)
        self.routes = routes
        self._unroutable = unroutable
        self._virtual_numbers = dict(virtual_numbers or {})
        self._mo_references = itertools.count()
        self._sources: dict[tuple[int, int, str], Address] = {}
        # Set by attach_durability when the store is durable.
        self.committer: Committer | None = None
        self.accounts = accounts
        self.outboxes = outboxes
        self._ids = ids
        self._sim_now = sim_now
        self._reassembler = reassembler
        self._latin1 = gsm_default_is_latin1
        # (reassembly key, reference, total) -> {sequence: message_id}: the reassembler's own
        # set key, so two sets that share a reference but not a size stay apart.
        self._concat_members: dict[tuple[object, int, int], dict[int, str]] = {}

    def attach_durability(self, committer: Committer) -> None:
        """Deliver_sm wait for their outbox row's commit; submits fail while writes fail."""
        self.committer = committer

    # ---------------------------------------------------------------- submit path

    def submit(self, system_id: str, pdu: SmsRequest, now: float) -> Accepted:
        """Accept submit_sm or data_sm from a bound transmitter of `system_id`.

        Args:
            now: the caller's real (trio) clock, for throughput limits.
        Returns:
            ESME_ROK with the new message id, or the status to refuse with.
        """
        account = self.accounts.get(system_id)
        if account is None:
            return Accepted(CommandStatus.ESME_RINVSYSID)
        if self.committer is not None and not self.committer.healthy:
            return Accepted(CommandStatus.ESME_RSYSERR)  # nothing may be accepted unstored
        status = account.admit_submit(now)
        if status:
            return Accepted(status)
        return self._accept(
            account, pdu, pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi
        )

    def submit_multi(
        self, system_id: str, pdu: SubmitMulti, now: float
    ) -> tuple[Accepted, list[tuple[int, int, str, int]]]:
        """Accept submit_multi: one message per SME destination.

        Returns the first accepted message id and the unsuccessful destinations as
        (ton, npi, addr, error_status). Distribution lists are not provisioned in the
        simulator, so each named list is unsuccessful with ESME_RINVDLNAME.
        """
        account = self.accounts.get(system_id)
        if account is None:
            return Accepted(CommandStatus.ESME_RINVSYSID), []
        if self.committer is not None and not self.committer.healthy:
            return Accepted(CommandStatus.ESME_RSYSERR), []
        failed: list[tuple[int, int, str, int]] = []
        first: Accepted | None = None
        for dest in pdu.dest_addresses:
            if not isinstance(dest, SmeAddress):
                failed.append((0, 0, dest.dl_name, CommandStatus.ESME_RINVDLNAME))
                continue
            status = account.admit_submit(now)
            result = (
                Accepted(status)
                if status
                else self._accept(
                    account, pdu, dest.destination_addr, dest.dest_addr_ton, dest.dest_addr_npi
                )
            )
            if result.command_status:
                failed.append(
                    (
                        dest.dest_addr_ton,
                        dest.dest_addr_npi,
                        dest.destination_addr,
                        result.command_status,
                    )
                )
            elif first is None:
                first = result
        if first is None:
            return Accepted(CommandStatus.ESME_RSUBMITFAIL), failed
        return first, failed

    def _accept(
        self,
        account: AccountState,
        pdu: SmsRequest | SubmitMulti,
        dest_addr: str,
        dest_ton: int,
        dest_npi: int,
    ) -> Accepted:
        if not dest_addr:
            return Accepted(CommandStatus.ESME_RINVDSTADR)
        source_ton, source_npi = pdu.source_addr_ton, pdu.source_addr_npi
        if not (
            source_ton in _TONS and source_npi in _NPIS and dest_ton in _TONS and dest_npi in _NPIS
        ):
            return Accepted(_address_type_refusal(source_ton, source_npi, dest_ton, dest_npi))
        system_id = account.policy.system_id
        # Normalised once: routing and the loopback test both match on these digits.
        digits = self.routes.digits(dest_addr, dest_ton)
        carrier_name = None if digits is None else self.routes.lookup_digits(system_id, digits)
        if carrier_name is None and isinstance(self._unroutable, CommandStatus):
            return Accepted(self._unroutable)
        sim_now = self._sim_now()
        validity = scheduled = None
        if not isinstance(pdu, DataSm) and (pdu.validity_period or pdu.schedule_delivery_time):
            times = _message_times(pdu.validity_period, pdu.schedule_delivery_time, sim_now)
            if isinstance(times, int):
                return Accepted(times)
            validity, scheduled = times
        tlvs = pdu.tlvs
        payload = pdu.short_message if not isinstance(pdu, DataSm) else b""
        if tlvs.message_payload is not None:
            if payload:
                # SMPP 3.4 §5.3.2.32: short_message and message_payload are exclusive.
                return Accepted(CommandStatus.ESME_RINVOPTPARAMVAL)
            payload = tlvs.message_payload
        concat: ConcatPart | None = None
        if pdu.esm_class & EsmClass.UDHI:
            try:
                udh, payload = split_udh(payload)
            except UdhError:
                return Accepted(CommandStatus.ESME_RINVESMCLASS)
            info = udh.concat
            if info is not None:
                concat = ConcatPart(info.reference, info.total, info.sequence)
        elif tlvs.sar_msg_ref_num is not None:
            if tlvs.sar_total_segments is None or tlvs.sar_segment_seqnum is None:
                return Accepted(CommandStatus.ESME_RMISSINGOPTPARAM)
            total, sequence = tlvs.sar_total_segments, tlvs.sar_segment_seqnum
            if not 1 <= sequence <= total:
                return Accepted(CommandStatus.ESME_RINVOPTPARAMVAL)
            concat = ConcatPart(tlvs.sar_msg_ref_num, total, sequence)
        try:
            text = decode_text(payload, pdu.data_coding, gsm_default_is_latin1=self._latin1)
        except TextDecodeError as exc:
            if concat is None or exc.alphabet is not Alphabet.UCS2:
                return Accepted(CommandStatus.ESME_RINVDCS)
            # Clients that split UCS-2 by octets cut surrogate pairs across parts; the
            # halves are only valid together, so keep them as they are in this part.
            text = payload[: len(payload) & ~1].decode("utf-16-be", "surrogatepass")

        message = Message(
            message_id=self._ids.next(),
            system_id=system_id,
            source=self._source_address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr),
            destination=_new_address(dest_ton, dest_npi, dest_addr),
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            protocol_id=getattr(pdu, "protocol_id", 0),
            priority_flag=getattr(pdu, "priority_flag", 0),
            payload=payload,
            text=text,
            parts=concat.total if concat else 1,
            submit_time=sim_now,
            validity_deadline=validity,
            scheduled_time=scheduled,
            concat=concat,
            carrier=carrier_name,
        )
        self.store.add(message)
        if self.committer is not None:
            self.committer.accepted(message.message_id)
        account.queued += 1
        if concat is not None:
            self._reassemble(message, concat, sim_now)
        notify = message.registered_delivery & RegisteredDelivery.INTERMEDIATE_NOTIFICATION
        if notify:
            self._advance(message, Code.QUEUED, sim_now)
        else:
            # _advance without what cannot apply to a new message (final, a notification).
            message.history.add(_QUEUED, sim_now)
            message.status = _QUEUED
        if self._virtual_numbers and digits is not None:
            owner = self._virtual_numbers.get(digits)
            if owner is not None:
                self._loopback(message, owner, sim_now)
                return _accepted(CommandStatus.ESME_ROK, message.message_id)
        if carrier_name is None:
            self._advance(message, self._unroutable, sim_now)
        else:
            # Statuses reached on acceptance (Carrier.submit).
            reached = self.carriers[carrier_name].submit(message)
            if reached and notify:
                self._record(message, reached, sim_now)
            elif reached:
                # _record, inline: the store has the message whole (added above, in this
                # call) and only a final status needs it told.
                message.record_codes(reached, sim_now)
                if message.done_time is not None:
                    self.store.update_status(message, sim_now)
                    self._finished(message)
        return _accepted(CommandStatus.ESME_ROK, message.message_id)

    def _source_address(self, ton: int, npi: int, addr: str) -> Address:
        """One shared Address per sender: an ESME sends from a handful of sender IDs, and a
        queued message should not carry its own copy (about 120 bytes each)."""
        key = (ton, npi, addr)
        address = self._sources.get(key)
        if address is None:
            if len(self._sources) >= _MAX_SHARED_SOURCES:
                self._sources.clear()  # senders that vary per message: stop sharing work
            address = self._sources[key] = _new_address(ton, npi, addr)
        return address

    def resume(self, message: Message) -> None:
        """A message that was pending when the daemon stopped: back to its carrier (or, if
        the configuration no longer has that carrier, to the one its route names now)."""
        carrier = self.carriers.get(message.carrier) if message.carrier else None
        if carrier is None:
            name = self.routes.lookup(
                message.system_id, message.destination.addr, message.destination.ton
            )
            if name is None:
                code = (
                    Code.INTERNAL_ERROR
                    if isinstance(self._unroutable, CommandStatus)
                    else self._unroutable
                )
                self._advance(message, code, self._sim_now())
                return
            message.carrier = name
            self.store.update(message, self._sim_now())
            carrier = self.carriers[name]
        carrier.restore(message)

    # ---------------------------------------------------------------- mobile-originated

    def _loopback(self, message: Message, owner: str, sim_now: float) -> None:
        """A submit to another account's virtual number: that account receives it as MO."""
        text = message.text
        if text is None:
            self._advance(message, Code.INVALID_CONTENT, sim_now)  # binary cannot be an MO text
            return
        self.inject_mo(message.source.addr, message.destination.addr, text, loopback=True)
        self._advance(message, Code.SENDING, sim_now)
        self._advance(message, Code.DELIVERED_TO_HANDSET, sim_now)

    def inject_mo(
        self,
        source: str,
        destination: str,
        text: str,
        data_coding: int | None = None,
        *,
        loopback: bool = False,
    ) -> MoMessage:
        """A handset sends `text` to a virtual number: queue it for the owning account.

        It waits in the account's outbox until a receiver or transceiver binds, like a receipt.

        Raises:
            MoError: an alphanumeric or unknown destination, a bad source, or text that does
                not fit `data_coding`.
        """
        number = check_virtual_number(destination)
        owner = self._virtual_numbers.get(number)
        if owner is None:
            raise MoError(f"to: no account owns the virtual number {number}", not_found=True)
        # A loopback sender is an ESME's source address, which may be a text sender ID.
        sender = source if loopback else check_handset_number(source)
        parts = build_mo_parts(
            sender,
            number,
            text,
            data_coding=data_coding,
            reference=next(self._mo_references) & 0xFF,
        )
        mo_id = self._ids.next()
        for sequence, part in enumerate(parts, start=1):
            self._deliver(
                OutboxItem(owner, EncodedRequest.of(part), mo_id, key=f"mo:{mo_id}:{sequence}")
            )
        log.info(
            "mo_queued",
            mo_id=mo_id,
            system_id=owner,
            source=sender,
            destination=number,
            parts=len(parts),
            loopback=loopback,
        )
        return MoMessage(mo_id, owner, parts)

    def _reassemble(self, message: Message, concat: ConcatPart, sim_now: float) -> None:
        """Collect a part; when its set is complete, give every part the whole text."""
        key = (message.system_id, message.source.addr, message.destination.addr)
        members = self._concat_members.setdefault((key, concat.reference, concat.total), {})
        members[concat.sequence] = message.message_id
        done = self._reassembler.add(
            key, concat.reference, concat.total, concat.sequence, message.payload, sim_now
        )
        if done is None:
            return
        del self._concat_members[(key, concat.reference, concat.total)]
        try:
            # Decode the joined payload: senders cut escapes and surrogate pairs between parts.
            text = decode_text(
                done.payload, message.data_coding, gsm_default_is_latin1=self._latin1
            )
        except TextDecodeError:
            text = None
        for message_id in members.values():
            part = self.store.get(message_id)
            if part is not None:
                part.concat_text = text
                # Stored with the batch that carries the last part: a part already final (or
                # read back from disk) would not be written again otherwise.
                self.store.update(part, sim_now)
        log.debug(
            "concatenated_message_complete",
            message_id=message.message_id,
            reference=concat.reference,
            parts=concat.total,
        )

    def resume_reassembly(self, parts: Iterable[Message]) -> None:
        """After a restart, rebuild the buffer of parts waiting for the rest of their set from
        the stored parts: those whose set was not complete (no ``concat_text``), in the order
        they were accepted, submitted since at least twice the reassembly timeout before now
        (a set still open began within one timeout; the second lets the sets before it end
        as they did). Each part goes in at its own submit time, so a set keeps its deadline,
        and a set that timed out before a later part came is dropped as it was then (its
        time-out was reported then)."""
        for part in parts:
            concat = part.concat
            if concat is None:
                continue
            for incomplete in self._reassembler.expire(part.submit_time):
                self._concat_members.pop(
                    (incomplete.key, incomplete.reference, incomplete.total), None
                )
            self._reassemble(part, concat, part.submit_time)

    def expire_reassembly(self) -> None:
        for incomplete in self._reassembler.expire(self._sim_now()):
            self._concat_members.pop((incomplete.key, incomplete.reference, incomplete.total), None)
            log.info(
                "concatenated_message_incomplete",
                key=str(incomplete.key),
                reference=incomplete.reference,
                missing=list(incomplete.missing),
            )

    # ---------------------------------------------------------------- status path

    def on_status(self, message_id: str, *codes: int, at: float | None = None) -> None:
        """A carrier reports that a message reached operator status `codes`, in order, at
        simulation time `at` (None: now)."""
        message = self.store.get(message_id)
        if message is None or message.done_time is not None:
            return
        self._record(message, codes, self._sim_now() if at is None else at)

    def on_statuses(self, reports: Iterable[StatusReport]) -> None:
        """``on_status`` for each report, in order: for a carrier working through many
        transitions at once, without a call with packed arguments per transition."""
        get = self.store.get
        record = self._record
        for report in reports:
            message = get(report.message_id)
            if message is not None and message.done_time is None:
                record(message, report.codes, report.at, report.history)

    async def wait_for_room(self) -> None:
        """``BatchStatusSink.wait_for_room``: with the durable store, the committer's
        (``Committer.wait_for_room``)."""
        if self.committer is not None:
            await self.committer.wait_for_room()

    def _record(
        self,
        message: Message,
        codes: tuple[int, ...],
        at: float,
        history: tuple[float, ...] | None = None,
    ) -> None:
        """Record ``codes``, the last reached at ``at``; ``history`` (``(code, at, ...)``),
        when given, has each code's own time (see StatusReport)."""
        if message.registered_delivery & RegisteredDelivery.INTERMEDIATE_NOTIFICATION:
            for index, code in enumerate(codes):  # a notification for each code
                if message.done_time is not None:
                    return
                self._advance(message, code, at if history is None else history[2 * index + 1])
            if message.status == Code.DELIVERED_TO_CARRIER:
                # Left waiting at the carrier (a switched-off or unreachable handset): one
                # more notification, with the code it waits on (503, 502) as its err:.
                waiting = self.waiting_for(message)
                if waiting is not None:
                    self._emit(message, waiting.code, intermediate=True)
            return
        # The common case, once per carrier transition rather than once per code.
        if history is None:
            message.record_codes(codes, at)
        else:
            message.record_history(history)
        self.store.update_status(message, at)
        if message.done_time is not None:
            self._finished(message)

    def _advance(self, message: Message, code: int, at: float) -> None:
        message.record(code, at)
        self.store.update_status(message, at)
        if message.done_time is not None:
            self._finished(message)
        elif message.registered_delivery & RegisteredDelivery.INTERMEDIATE_NOTIFICATION:
            self._emit(message, code, intermediate=True)

    def _finished(self, message: Message) -> None:
        if wants_final_receipt(message.registered_delivery, message.status):
            # Still owed to the ESME: it counts against max_queued until acknowledged, so an
            # ESME that cannot keep up with receipts meets ESME_RMSGQFUL instead of growing
            # the daemon's memory without bound.
            self._emit(message, message.status, intermediate=False)
        else:
            self._release_one(message.system_id)

    def _emit(self, message: Message, code: int, *, intermediate: bool) -> None:
        request = receipt_request(message, code, intermediate=intermediate)
        committer = self.committer
        if committer is not None and intermediate:
            key = f"{message.message_id}:{code}"
            self._deliver(OutboxItem(message.system_id, request, message.message_id, key=key))
            return
        item = OutboxItem(message.system_id, request, message.message_id, final=not intermediate)
        if committer is None:
            self.outboxes.put(item)
        else:
            # A final receipt needs no outbox row in the durable store: the message's final
            # status, in the same batch, says it is owed (SqliteStore: "Receipts").
            committer.hold(item)

    def _deliver(self, item: OutboxItem) -> None:
        """Into the outbox now, or, with a durable store, once its row is committed."""
        if self.committer is None:
            self.outboxes.put(item)
            return
        self.committer.store.put_outbox(
            item.key, item.system_id, item.request.frame(), item.message_id, item.final
        )
        self.committer.hold(item)

    def receipt_acknowledged(self, item: OutboxItem) -> None:
        """The ESME answered a deliver_sm with ESME_ROK: a final receipt ends the message's work."""
        committer = self.committer
        if committer is not None:
            if item.key:
                committer.store.ack_outbox(item.key)
            elif item.final and item.message_id is not None:
                committer.store.ack_receipt(item.message_id)
        if item.final:
            self._release_one(item.system_id)

    def abandon(self, message_ids: Iterable[str]) -> None:
        """Withdraw messages whose commit failed: their submits are answered ESME_RSYSERR, so
        they must not be delivered (the ESME will submit them again)."""
        for message_id in message_ids:
            message = self.store.get(message_id)
            if message is None:
                continue
            if message.carrier is not None:
                self.carriers[message.carrier].cancel(message_id)
            self.store.discard(message_id)
            if message.done_time is None:
                self._release_one(message.system_id)
            log.warning("message_withdrawn", message_id=message_id, reason="store write failed")

    def _release_one(self, system_id: str) -> None:
        account = self.accounts.get(system_id)
        if account is not None:
            account.queued -= 1

    # ---------------------------------------------------------------- queries

    def find(self, system_id: str, message_id: str) -> Message | None:
        message = self.store.get(message_id)
        if message is None or message.system_id != system_id:
            return None
        return message

    def waiting_for(self, message: Message) -> Waiting | None:
        """Why a message that is not final waits at its carrier (e.g. 503: the handset is
        switched off and the carrier retries), and until when, when its carrier says
        (``ReportsWaiting``)."""
        if message.done_time is not None or message.carrier is None:
            return None
        # Optional (ReportsWaiting): found by a name specific enough not to meet another
        # attribute of a carrier by chance.
        waiting_for = getattr(self.carriers.get(message.carrier), "waiting_for", None)
        return waiting_for(message.message_id) if callable(waiting_for) else None

    def query(self, system_id: str, pdu: QuerySm) -> QueryResult:
        message = self.find(system_id, pdu.message_id)
        if message is None or (pdu.source_addr and pdu.source_addr != message.source.addr):
            return QueryResult(CommandStatus.ESME_RQUERYFAIL)
        return QueryResult(CommandStatus.ESME_ROK, message)

    def cancel(self, system_id: str, pdu: CancelSm) -> int:
        """cancel_sm: by id, or every queued message from source to destination when no id."""
        if pdu.message_id:
            message = self.find(system_id, pdu.message_id)
            if message is None or (pdu.source_addr and pdu.source_addr != message.source.addr):
                return CommandStatus.ESME_RCANCELFAIL
            targets = [message]
        else:
            targets = [
                m
                for m in self.store.pending()
                if m.system_id == system_id
                and m.source.addr == pdu.source_addr
                and m.destination.addr == pdu.destination_addr
            ]
        canceled = [
            m
            for m in targets
            if m.carrier is not None and self.carriers[m.carrier].cancel(m.message_id)
        ]
        if not canceled:
            return CommandStatus.ESME_RCANCELFAIL
        for message in canceled:
            self.on_status(message.message_id, Code.CANCELED)
        return CommandStatus.ESME_ROK

    def replace(self, system_id: str, pdu: ReplaceSm) -> int:
        """replace_sm: new text, receipt request, validity and schedule of a queued message."""
        message = self.find(system_id, pdu.message_id)
        if (
            message is None
            or message.carrier is None
            or (pdu.source_addr and pdu.source_addr != message.source.addr)
            or not self.carriers[message.carrier].is_pending(message.message_id)
        ):
            return CommandStatus.ESME_RREPLACEFAIL
        validity, scheduled = message.validity_deadline, message.scheduled_time
        if pdu.validity_period or pdu.schedule_delivery_time:
            times = _message_times(pdu.validity_period, pdu.schedule_delivery_time, self._sim_now())
            if isinstance(times, int):
                return times
            validity = times[0] if pdu.validity_period else validity
            scheduled = times[1] if pdu.schedule_delivery_time else scheduled
        try:
            text = decode_text(
                pdu.short_message, message.data_coding, gsm_default_is_latin1=self._latin1
            )
        except TextDecodeError:
            return CommandStatus.ESME_RINVDCS
        message.payload = pdu.short_message
        message.text = text
        message.registered_delivery = pdu.registered_delivery
        message.validity_deadline = validity
        message.scheduled_time = scheduled
        self.carriers[message.carrier].replace(message)
        self.store.update(message, self._sim_now())
        return CommandStatus.ESME_ROK


def _message_times(
    validity_period: str, schedule: str, now: float
) -> tuple[float | None, float | None] | int:
    """validity_period and schedule_delivery_time as absolute simulation times (None where
    empty), or the status to refuse them with: ESME_RINVEXPIRY for a malformed validity
    period or one already past (or not after the scheduled time), ESME_RINVSCHED for a
    malformed schedule. A schedule in the past means at once."""
    try:
        scheduled = timefmt.parse(schedule, now)
    except timefmt.TimeFormatError:
        return CommandStatus.ESME_RINVSCHED
    try:
        validity = timefmt.parse(validity_period, now)
    except timefmt.TimeFormatError:
        return CommandStatus.ESME_RINVEXPIRY
    if validity is not None and (
        validity <= now or (scheduled is not None and validity <= scheduled)
    ):
        return CommandStatus.ESME_RINVEXPIRY
    return validity, scheduled


def wants_final_receipt(registered_delivery: int, code: int) -> bool:
    """SMPP 3.4 §5.2.17 bits 1..0: 1 always, 2 on failure; SMPP 5.0's 3 on success only."""
    request = registered_delivery & RegisteredDelivery.RECEIPT_MASK
    if request == 0:
        return False
    delivered = code == Code.DELIVERED_TO_HANDSET
    if request == 1:
        return True
    if request == 2:
        return not delivered
    return delivered
