"""The daemon in-process over real loopback sockets, driven by the bundled trio ESME."""

from __future__ import annotations

import sqlite3
import ssl
import struct
import threading
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

import smscd.daemon as daemon_module
from smscd.carriers.base import StatusSink
from smscd.carriers.registry import CarrierEnvironment
from smscd.client import Esme, EsmeError
from smscd.config import CarrierConfig, Config, ConfigError, parse_config
from smscd.daemon import BoundAddresses, Daemon
from smscd.message import Message
from smscd.router import Router
from smscd.smpp.codec import PduReader, decode, encode
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import (
    BindReceiver,
    BindTransmitter,
    DeliverSm,
    EnquireLink,
    Pdu,
    QuerySm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from smscd.smpp.session import SessionConfig
from smscd.status import Code
from smscd.store.errors import StoreError
from smscd.store.sqlite import Batch, SqliteStore

ACCOUNT = """
[[accounts]]
system_id = "acme"
password = "secret"
"""


def make_config(
    smpp: str = "", delay: str = "10ms", account: str = "", store: str = "memory"
) -> Config:
    text = (
        f'[smpp]\nlisten = "127.0.0.1:0"\n{smpp}'
        '[http]\nlisten = ""\n'
        f'[delivery]\ndelay = "{delay}"\nreceipt_retry = "200ms"\n'
        f'[store]\nbackend = "{store}"\n'
        '[[carriers]]\nname = "instant"\ntype = "instant"\n'
        f"{ACCOUNT}{account}"
    )
    return parse_config(text, "test.toml")


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[tuple[Daemon, BoundAddresses]]:
    daemon = Daemon(config)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        addresses: BoundAddresses = await nursery.start(
            partial(daemon.run, stop=stop, handle_signals=False)
        )
        try:
            yield daemon, addresses
        finally:
            stop.set()


@asynccontextmanager
async def esme(
    address: tuple[str, int],
    bind_type: BindType | None = BindType.TRANSCEIVER,
    *,
    system_id: str = "acme",
    password: str = "secret",
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Esme]:
    client = await Esme.open(
        *address,
        ssl_context=ssl_context,
        config=SessionConfig(window=1000, enquire_link_interval=0, response_timeout=5),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        if bind_type is not None:
            await client.bind(system_id, password, bind_type)
        try:
            yield client
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()


def submit(**fields: object) -> SubmitSm:
    values: dict[str, object] = {
        "source_addr": "Acme",
        "destination_addr": "46700000001",
        "short_message": b"hello",
    }
    values.update(fields)
    return SubmitSm(**values)  # type: ignore[arg-type]


async def next_receipt(client: Esme, timeout: float = 5.0) -> DeliverSm:
    with trio.fail_after(timeout):
        return await client.deliveries.receive()


async def test_submit_then_receipt_then_query() -> None:
    async with running(make_config()) as (_, addresses), esme(addresses.smpp) as client:
        response = await client.request(submit(registered_delivery=1))
        assert response.command_status == CommandStatus.ESME_ROK
        message_id = response.message_id  # type: ignore[union-attr]
        receipt = await next_receipt(client)
        assert receipt.tlvs.receipted_message_id == message_id
        assert b"stat:DELIVRD err:201" in receipt.short_message
        answer = await client.request(QuerySm(message_id=message_id, source_addr="Acme"))
        assert answer.command_status == 0
        assert answer.message_state == 2  # type: ignore[union-attr]


async def test_throughput_limit_throttles_exactly() -> None:
    config = make_config(account="throughput = 5\nburst = 5\n")
    async with running(config) as (_, addresses), esme(addresses.smpp) as client:
        statuses = [(await client.request(submit())).command_status for _ in range(10)]
    assert statuses.count(CommandStatus.ESME_ROK) in (5, 6)  # 5 banked, maybe 1 refilled
    assert statuses.count(CommandStatus.ESME_RTHROTTLED) == 10 - statuses.count(0)


async def test_queue_limit_gives_msgqful() -> None:
    config = make_config(delay="1h", account="max_queued = 3\n")
    async with running(config) as (_, addresses), esme(addresses.smpp) as client:
        statuses = [(await client.request(submit())).command_status for _ in range(4)]
    assert statuses == [0, 0, 0, CommandStatus.ESME_RMSGQFUL]


@pytest.mark.parametrize(
    ("account_extra", "bind_type", "status"),
    [
        ('bind_types = ["transmitter"]\n', BindType.RECEIVER, CommandStatus.ESME_RBINDFAIL),
        ('allowed_networks = ["10.0.0.0/8"]\n', BindType.TRANSMITTER, CommandStatus.ESME_RBINDFAIL),
    ],
)
async def test_bind_policy(account_extra: str, bind_type: BindType, status: int) -> None:
    async with (
        running(make_config(account=account_extra)) as (_, addresses),
        esme(addresses.smpp, None) as client,
    ):
        with pytest.raises(EsmeError) as refused:
            await client.bind("acme", "secret", bind_type)
        assert refused.value.command_status == status


async def test_one_bind_limit() -> None:
    config = make_config(account="max_binds = 1\n")
    async with (
        running(config) as (_, addresses),
        esme(addresses.smpp),
        esme(addresses.smpp, None) as second,
    ):
        with pytest.raises(EsmeError) as refused:
            await second.bind("acme", "secret", BindType.TRANSMITTER)
        assert refused.value.command_status == CommandStatus.ESME_RBINDFAIL


async def test_submit_on_a_receiver_is_invalid_bind_status() -> None:
    # Our own ESME session refuses to send it, so the frames are written by hand.
    async with running(make_config()) as (_, addresses):
        raw = await trio.open_tcp_stream(*addresses.smpp)
        bind = BindReceiver(sequence_number=1, system_id="acme", password="secret")
        await raw.send_all(encode(bind))
        assert decode(await raw.receive_some(1024)).command_status == 0
        await raw.send_all(encode(submit(sequence_number=2)))
        answer = decode(await raw.receive_some(1024))
        assert isinstance(answer, SubmitSmResp)
        assert (answer.sequence_number, answer.command_status) == (
            2,
            CommandStatus.ESME_RINVBNDSTS,
        )
        await raw.aclose()


async def test_unknown_command_and_absurd_length() -> None:
    async with running(make_config()) as (_, addresses):
        raw = await trio.open_tcp_stream(*addresses.smpp)
        await raw.send_all(struct.pack(">IIII", 16, 0x0000_0999, 0, 7))
        answer = await raw.receive_some(1024)
        assert struct.unpack(">IIII", answer[:16]) == (16, 0x80000000, 3, 7)  # ESME_RINVCMDID
        await raw.send_all(struct.pack(">IIII", 0x7FFF_FFFF, 4, 0, 8))
        with trio.fail_after(1):
            answer = await raw.receive_some(1024)
            assert struct.unpack(">IIII", answer[:16])[1:3] == (0x80000000, 2)  # RINVCMDLEN
            assert await raw.receive_some(1024) == b""  # and the connection is closed
        await raw.aclose()


async def test_refused_receipt_is_offered_again() -> None:
    async with running(make_config()) as (_, addresses), esme(addresses.smpp) as client:
        refusals = [CommandStatus.ESME_RX_T_APPN]
        client.on_deliver = lambda pdu: refusals.pop() if refusals else CommandStatus.ESME_ROK
        response = await client.request(submit(registered_delivery=1))
        with trio.fail_after(5):
            receipt = await next_receipt(client)
        assert receipt.tlvs.receipted_message_id == response.message_id  # type: ignore[union-attr]
        assert not refusals


async def test_receipt_in_flight_on_a_dead_session_comes_back() -> None:
    async with running(make_config()) as (daemon, addresses):
        async with esme(addresses.smpp, BindType.TRANSMITTER) as sender:
            response = await sender.request(submit(registered_delivery=1))
        message_id = response.message_id  # type: ignore[union-attr]
        # A receiver that takes the deliver_sm and hangs up without answering it.
        raw = await trio.open_tcp_stream(*addresses.smpp)
        await raw.send_all(
            encode(BindReceiver(sequence_number=1, system_id="acme", password="secret"))
        )
        reader = PduReader()
        seen: list[object] = []
        with trio.fail_after(5):
            while not any(isinstance(pdu, DeliverSm) for pdu in seen):
                reader.feed(await raw.receive_some(65536))
                while (pdu := reader.next_pdu()) is not None:
                    seen.append(pdu)
        await raw.aclose()
        async with esme(addresses.smpp, BindType.RECEIVER) as receiver:
            receipt = await next_receipt(receiver)
            assert receipt.tlvs.receipted_message_id == message_id
            # Acknowledged: once the daemon has read the response, nothing is owed any more.
            with trio.fail_after(5):
                while (
                    daemon.outboxes.waiting().get("acme", 0)
                    or daemon.context.sessions()[-1].outstanding
                ):
                    await trio.sleep(0.01)


async def test_receipts_wait_for_a_receiver() -> None:
    async with running(make_config()) as (_, addresses):
        async with esme(addresses.smpp, BindType.TRANSMITTER) as sender:
            ids = [
                (await sender.request(submit(registered_delivery=1))).message_id  # type: ignore[union-attr]
                for _ in range(5)
            ]
            await sender.unbind()
        await trio.sleep(0.1)
        async with esme(addresses.smpp, BindType.RECEIVER) as receiver:
            got = {(await next_receipt(receiver)).tlvs.receipted_message_id for _ in ids}
        assert got == set(ids)


async def test_enquire_link_and_drain_on_stop() -> None:
    config = make_config()
    daemon = Daemon(config)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        addresses = await nursery.start(partial(daemon.run, stop=stop, handle_signals=False))
        async with esme(addresses.smpp) as client:
            assert (await client.request(EnquireLink())).command_status == 0
            stop.set()
            with trio.fail_after(5):
                # The daemon unbinds us; our session answers and the link closes.
                await client.wait_closed()
    assert not daemon.context.connections


@pytest.fixture
def tls(tmp_path: Path) -> tuple[trustme.CA, Config]:
    """A CA the test trusts, and a config whose TLS listener has a certificate from it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return ca, make_config(
        f'tls_listen = "127.0.0.1:0"\ntls_cert = "{cert_file}"\ntls_key = "{key_file}"\n'
    )


async def test_tls_listener(tls: tuple[trustme.CA, Config]) -> None:
    ca, config = tls
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with running(config) as (_, addresses):
        assert addresses.smpp_tls is not None
        async with esme(addresses.smpp_tls, ssl_context=client_context) as client:
            response = await client.request(submit(registered_delivery=1))
            assert response.command_status == 0
            receipt = await next_receipt(client)
            assert b"stat:DELIVRD" in receipt.short_message
        # Plaintext on the TLS port: no SMPP answer, the connection is closed.
        raw = await trio.open_tcp_stream(*addresses.smpp_tls)
        bind = b"acme\0secret\0\0\x34\0\0\0"
        await raw.send_all(struct.pack(">IIII", 16 + len(bind), 9, 0, 1) + bind)
        with trio.fail_after(5):
            data = await raw.receive_some(1024)
        assert data[4:8] != struct.pack(">I", 0x80000009)
        await raw.aclose()


async def test_tls_below_1_2_is_refused(tls: tuple[trustme.CA, Config]) -> None:
    ca, config = tls
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point of the test
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    async with running(config) as (_, addresses):
        assert addresses.smpp_tls is not None
        stream = trio.SSLStream(
            await trio.open_tcp_stream(*addresses.smpp_tls), old, server_hostname="127.0.0.1"
        )
        with pytest.raises(trio.BrokenResourceError), trio.fail_after(5):
            await stream.do_handshake()
        await trio.aclose_forcefully(stream)


# --- a carrier plugged in from the test suite -----------------------------------------------


class RefusingCarrier:
    """A third-party carrier: every message fails at once with the code in its options."""

    name = "refusing"

    def __init__(self, code: int) -> None:
        self.code = code
        self.sink: object = None

    def submit(self, message: Message) -> None:
        assert isinstance(self.sink, Router)
        self.sink.on_status(message.message_id, Code.SENDING, self.code)

    def cancel(self, message_id: str) -> bool:
        return False

    def is_pending(self, message_id: str) -> bool:
        return False

    def replace(self, message: Message) -> bool:
        return False

    def restore(self, message: Message) -> None:
        self.submit(message)

    def save_state(self) -> str | None:
        return None

    def load_state(self, state: str) -> None:
        pass

    async def run(
        self, sink: StatusSink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self.sink = sink
        task_status.started()
        await trio.sleep_forever()


def refusing_factory(config: CarrierConfig, env: CarrierEnvironment) -> RefusingCarrier:
    code = config.options.get("code", 515)
    if not isinstance(code, int):
        raise ValueError("code: must be an operator code")
    return RefusingCarrier(code)


async def build(config: Config) -> Daemon:
    return Daemon(config)


def plugin_config(options: str = "code = 514\n") -> Config:
    text = (
        '[smpp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = ""\n'
        f'[[carriers]]\nname = "own"\ntype = "{__name__}:refusing_factory"\n{options}'
        '[[carriers]]\nname = "sim"\ntype = "simulator"\n'
        '[[routes]]\nprefix = "44"\ncarrier = "own"\n'
        '[[routes]]\nprefix = ""\ncarrier = "sim"\n'
        f"{ACCOUNT}"
    )
    return parse_config(text, "plugin.toml")


async def test_carrier_from_the_test_suite_by_dotted_path_takes_its_routes() -> None:
    async with running(plugin_config()) as (daemon, addresses), esme(addresses.smpp) as client:
        assert isinstance(daemon.carriers["own"], RefusingCarrier)
        response = await client.request(
            submit(destination_addr="447700900123", registered_delivery=1)
        )
        receipt = await next_receipt(client)
        assert receipt.tlvs.receipted_message_id == response.message_id  # type: ignore[union-attr]
        assert b"stat:UNDELIV err:514" in receipt.short_message
        message = daemon.store.get(response.message_id)  # type: ignore[union-attr]
        assert message is not None and message.carrier == "own"


def test_plugin_option_error_names_the_key_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        trio.run(build, plugin_config('code = "loud"\n'))
    assert (info.value.key, info.value.line) == ("carriers[0].code", 8)
    assert "operator code" in info.value.reason


def test_unknown_carrier_type_is_a_config_error() -> None:
    config = parse_config(
        f'[[carriers]]\nname = "x"\ntype = "no_such_carrier"\n{ACCOUNT}', "bad.toml"
    )
    with pytest.raises(ConfigError) as info:
        trio.run(build, config)
    assert (info.value.key, info.value.line, info.value.source) == (
        "carriers[0].type",
        3,
        "bad.toml",
    )
    assert "unknown carrier type 'no_such_carrier'" in info.value.reason
    assert "simulator" in info.value.reason


# --- the durable store -----------------------------------------------------------------------


def durable_config(
    path: Path,
    delay: str = "0s",
    account: str = "",
    writer: str = "process",
    carrier: str = "instant",
) -> Config:
    text = (
        '[smpp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = ""\n'
        f'[store]\nbackend = "sqlite"\npath = "{path}"\ndurability = "normal"\n'
        f'writer = "{writer}"\n'
        f'[[carriers]]\nname = "{carrier}"\ntype = "instant"\ndelay = "{delay}"\n'
        f"{ACCOUNT}max_queued = 100000\n{account}"
    )
    return parse_config(text, "durable.toml")


async def submit_many(client: Esme, count: int, **fields: object) -> list[str]:
    ids: list[str] = []

    async def one(n: int) -> None:
        response = await client.request(
            submit(destination_addr=f"4670{n:07d}", registered_delivery=1, **fields)
        )
        assert response.command_status == CommandStatus.ESME_ROK
        ids.append(response.message_id)  # type: ignore[union-attr]

    async with trio.open_nursery() as nursery:
        for n in range(count):
            nursery.start_soon(one, n)
    return ids


def waiting_bodies(daemon: Daemon) -> dict[str | None, bytes]:
    """The deliver_sm waiting in acme's outbox, by message id (left in place)."""
    outbox = daemon.outboxes["acme"]
    items = outbox.take(len(outbox))
    outbox.put_back(items)
    return {item.message_id: item.request.body for item in items}


async def test_receipts_for_an_unbound_esme_survive_a_restart_and_arrive_once(
    tmp_path: Path,
) -> None:
    store = tmp_path / "smscd.db"
    async with running(durable_config(store)) as (daemon, addresses):
        async with esme(addresses.smpp, BindType.TRANSMITTER) as client:
            ids = await submit_many(client, 1000)
        with trio.fail_after(10):
            while daemon.outboxes.waiting().get("acme", 0) < 1000:
                await trio.sleep(0.01)
        sent_first = waiting_bodies(daemon)
    async with running(durable_config(store)) as (daemon, addresses):
        assert daemon.outboxes.waiting()["acme"] == 1000
        # Rebuilt from their messages' rows, octet for octet what the first run would send.
        assert waiting_bodies(daemon) == sent_first
        daemon.time.advance(24 * 3600)
        async with esme(addresses.smpp, BindType.RECEIVER) as client:
            receipts = [await next_receipt(client) for _ in range(1000)]
            with trio.move_on_after(0.5):
                extra = await client.deliveries.receive()
                raise AssertionError(f"a receipt arrived twice: {extra}")
        assert sorted(r.tlvs.receipted_message_id or "" for r in receipts) == sorted(ids)
        assert all(b"stat:DELIVRD err:201" in r.short_message for r in receipts)
        await trio.sleep(0.1)  # the acknowledgements reach the store
    async with running(durable_config(store)) as (daemon, _):
        assert daemon.outboxes.waiting().get("acme", 0) == 0


async def test_pending_messages_resume_after_a_restart_and_ids_never_repeat(
    tmp_path: Path,
) -> None:
    store = tmp_path / "smscd.db"
    async with (
        running(durable_config(store, delay="1h")) as (_, addresses),
        esme(addresses.smpp) as client,
    ):
        first = await submit_many(client, 20)
    # The same store, a carrier that now delivers at once: the 20 are delivered, once each.
    async with running(durable_config(store)) as (daemon, addresses):
        async with esme(addresses.smpp) as client:
            receipts = [await next_receipt(client) for _ in range(20)]
            later = await submit_many(client, 1)
        assert sorted(r.tlvs.receipted_message_id or "" for r in receipts) == sorted(first)
        assert int(later[0]) > max(int(i) for i in first)
        message = daemon.store.get(first[0])
        assert message is not None
        assert [e.code for e in message.history] == [101, 102, 110, 201]


async def test_a_resume_that_changes_every_message_writes_them_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-routed at start-up (their carrier left the configuration), pending messages are
    rewritten whole: in batches of RESUME_BATCH before serving, not in one batch as large as
    all of them (100,000 rows took the RSS 108 MB up at once)."""
    store = tmp_path / "smscd.db"
    async with (
        running(durable_config(store, delay="1h")) as (_, addresses),
        esme(addresses.smpp) as client,
    ):
        ids = await submit_many(client, 20)
    monkeypatch.setattr(daemon_module, "RESUME_BATCH", 5)
    sizes: list[int] = []
    write_batch = SqliteStore.write_batch

    def counted(self: SqliteStore, batch: Batch) -> None:
        sizes.append(len(batch))
        write_batch(self, batch)

    monkeypatch.setattr(SqliteStore, "write_batch", counted)
    async with running(durable_config(store, delay="1h", carrier="renamed")) as (daemon, _):
        assert sizes == [5, 5, 5, 5]  # written before the daemon served anything
        assert daemon.committer is not None and daemon.committer.committed == 4
        with sqlite3.connect(store) as reader:
            rows = reader.execute("SELECT id, carrier FROM messages").fetchall()
        assert sorted(rows) == sorted((i, "renamed") for i in ids)


def intercept_writes(store: SqliteStore, before: Callable[[Batch], None]) -> Callable[[], None]:
    """Run ``before(batch)`` ahead of each batch the store writes, whichever way the committer
    writes it (a thread's ``write_batch`` or the event loop's ``start_batch``, where it runs
    on a thread): it may block, or raise to make the write fail. Returns the undo."""
    write, start, finish = store.write_batch, store.start_batch, store.finish_batch

    def write_after(batch: Batch) -> None:
        before(batch)
        write(batch)

    def start_later(batch: Batch) -> Any:
        return batch  # the batch goes to the writer once before() let it

    async def finish_after(batch: Any) -> None:
        await trio.to_thread.run_sync(before, batch)
        await finish(start(batch))

    def not_yet(request: Any) -> bool:
        return False  # the batch is with before(), not the writer: finish_after waits for it

    store.write_batch = write_after  # type: ignore[method-assign]
    store.start_batch = start_later  # type: ignore[method-assign]
    store.finish_batch = finish_after  # type: ignore[method-assign]
    store.poll_batch = not_yet  # type: ignore[method-assign]

    def undo() -> None:
        del store.write_batch, store.start_batch, store.finish_batch, store.poll_batch

    return undo


def hold_writes(
    store: SqliteStore, *, fail: bool = False
) -> tuple[threading.Event, Callable[[], None]]:
    """Make the store's batches wait for the returned event, then be written (or fail);
    and the undo."""
    gate = threading.Event()

    def wait_for_gate(batch: Batch) -> None:
        gate.wait(10)
        if fail:
            raise StoreError("disk full")

    return gate, intercept_writes(store, wait_for_gate)


async def test_no_esme_rok_before_the_message_is_committed(tmp_path: Path) -> None:
    config = durable_config(tmp_path / "smscd.db")
    async with running(config) as (daemon, addresses), esme(addresses.smpp) as client:
        assert daemon.durable is not None
        store = daemon.durable
        gate, _ = hold_writes(store)
        answers: list[int] = []

        async def submit_one() -> None:
            answers.append((await client.request(submit())).command_status)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit_one)
            await trio.sleep(0.3)
            assert answers == []  # held: the batch carrying it is not on disk yet
            gate.set()
        assert answers == [CommandStatus.ESME_ROK]
        assert store.counts()["messages"] == 1


async def test_store_write_failure_answers_rsyserr_and_the_daemon_keeps_serving(
    tmp_path: Path,
) -> None:
    config = durable_config(tmp_path / "smscd.db")
    async with running(config) as (daemon, addresses), esme(addresses.smpp) as client:
        assert daemon.durable is not None
        store = daemon.durable
        failing = True

        def flaky(batch: Batch) -> None:
            if failing:
                raise StoreError("database or disk is full")

        intercept_writes(store, flaky)
        response = await client.request(submit(registered_delivery=1))
        assert response.command_status == CommandStatus.ESME_RSYSERR
        assert response.message_id == ""  # type: ignore[union-attr]
        # While the store cannot write, nothing is accepted; other operations still work.
        assert (await client.request(submit())).command_status == CommandStatus.ESME_RSYSERR
        assert (await client.request(EnquireLink())).command_status == CommandStatus.ESME_ROK
        failing = False
        with trio.fail_after(5):
            while not (daemon.committer and daemon.committer.healthy):
                await trio.sleep(0.05)
        response = await client.request(submit(registered_delivery=1))
        assert response.command_status == CommandStatus.ESME_ROK
        receipt = await next_receipt(client)
        # The refused message was withdrawn: only the accepted one has a receipt.
        assert receipt.tlvs.receipted_message_id == response.message_id  # type: ignore[union-attr]
        assert store.counts()["messages"] == 1


@pytest.mark.parametrize(("committed", "draining"), [(True, False), (False, False), (True, True)])
async def test_submits_held_for_their_commit_are_answered_before_the_unbind_resp(
    tmp_path: Path, committed: bool, draining: bool
) -> None:
    # SMPP 3.4 (4.2): the unbind_resp closes the session, so every request before the
    # unbind gets its response first, even one waiting for its batch to reach the disk
    # (ESME_ROK), or whose batch then fails (ESME_RSYSERR); a shutdown starting meanwhile
    # does not cut it short. The held responses keep their order: submit_sm_resp frames and
    # a submit_multi_resp PDU between them (released together, in one call, per commit).
    config = durable_config(tmp_path / "smscd.db")
    async with running(config) as (daemon, addresses):
        assert daemon.durable is not None
        store = daemon.durable
        gate, undo = hold_writes(store, fail=not committed)
        sock = trio.socket.socket()
        await sock.connect(addresses.smpp)
        await sock.send(
            encode(BindTransmitter(sequence_number=1, system_id="acme", password="secret"))
        )
        reader = PduReader()
        received: list[Pdu] = []

        async def read_until_closed() -> None:
            while data := await sock.recv(65536):
                reader.feed(data)
                received.extend(reader)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_until_closed)
                while not received:
                    await trio.sleep(0.01)
                multi = SubmitMulti(
                    sequence_number=3,
                    source_addr="Acme",
                    dest_addresses=(SmeAddress(destination_addr="46700000002"),),
                    short_message=b"hello",
                )
                await sock.send(
                    encode(submit(sequence_number=2))
                    + encode(multi)
                    + encode(submit(sequence_number=4))
                    + encode(Unbind(sequence_number=5))
                )
                await trio.sleep(0.3)  # the unbind has arrived; the commit is held
                if draining:
                    daemon.server.drain()
                    await trio.sleep(0.2)
                gate.set()
        sock.close()
        undo()  # the last batch at shutdown is written
        assert store.counts()["messages"] == (3 if committed else 0)
    assert [(type(p).__name__, p.sequence_number) for p in received] == [
        ("BindTransmitterResp", 1),
        ("SubmitSmResp", 2),
        ("SubmitMultiResp", 3),
        ("SubmitSmResp", 4),
        ("UnbindResp", 5),
    ]
    submit_status = CommandStatus.ESME_ROK if committed else CommandStatus.ESME_RSYSERR
    assert [p.command_status for p in received] == [0, *[submit_status] * 3, 0]
