"""The composition root: builds everything from a Config and owns the nursery tree.

    root nursery
    ├── committer              group commit of the durable store (sqlite backend)
    ├── carrier.run            one per carrier: status transitions → router
    ├── scenario               the --scenario timeline, on the simulation clock
    ├── outboxes.run           receipts refused or timed out → back in their outbox later
    ├── housekeeping           incomplete concatenations time out
    ├── http (hypercorn/trio)  /api/v1
    ├── listeners              SMPP over TCP and TLS; cancelled first on shutdown
    └── connections nursery    one task per ESME connection (three inside each)

Shutdown (SIGINT/SIGTERM, or the `stop` event): stop accepting, unbind every session, wait
for them to finish within `smpp.drain_timeout`, then cancel whatever is left, write the last
batch to the store, and return.

Start-up with a durable store resumes the previous run: the simulation clock, carrier state
(handset rules, inboxes and their reassembly buffers), every message that was not final
(handed back to its carrier), the router's reassembly buffer (rebuilt from the stored parts),
and every deliver_sm not yet acknowledged (back in its outbox); ids continue above the highest
stored.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import random
import signal
import ssl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

import attrs
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as serve_http

from smscd.accounts import Accounts
from smscd.api.app import ApiState, create_app
from smscd.carriers.base import Carrier
from smscd.carriers.registry import build_carriers
from smscd.carriers.scenario import Scenario, load_scenario
from smscd.carriers.simulated import SimulatedCarrier
from smscd.config import Config, default_store_path
from smscd.durability import Committer, clock_state, resumed_clock
from smscd.logs import lifecycle_logger
from smscd.message import MessageIdGenerator
from smscd.outbox import Outboxes, OutboxItem
from smscd.receipt import receipt_request
from smscd.router import Router
from smscd.routing import Route, RouteTable
from smscd.scenario_player import ScenarioProgress, play_scenario
from smscd.simtime import SimulationTime
from smscd.smpp.codec import EncodedRequest
from smscd.smpp.constants import CommandId
from smscd.smpp.errors import SmppError
from smscd.smpp.session import SessionConfig
from smscd.sms.reassembly import Reassembler
from smscd.store.base import Store
from smscd.store.errors import StoreError
from smscd.store.memory import MemoryStore
from smscd.store.sqlite import SqliteStore
from smscd.transport.server import ServerContext, SmppServer

log = structlog.get_logger("smscd.daemon")
lifecycle = lifecycle_logger("smscd.daemon")

# CPython's full collections rescan every long-lived object. With the store's retained
# messages that is about a million objects: measured with scripts/bench.py, 30 % of the
# daemon's CPU and pauses of up to 0.8 s, freeing almost nothing. Messages, receipts and
# their parts form no reference cycles and are freed by reference counting, so survivors are
# moved out of the collector's sight every few seconds (gc.freeze), and a full collection
# over everything runs rarely, to find whatever cycles did form.
GC_THRESHOLDS = (50_000, 20, 100)
GC_FREEZE_INTERVAL = 5.0
GC_FULL_INTERVAL = 600.0
# The most changes a resume leaves waiting before it writes them (Committer.write_before_start).
RESUME_BATCH = 5_000
# How often final messages older than store.retention are deleted from the durable store.
PURGE_INTERVAL = 60.0


@attrs.frozen
class BoundAddresses:
    """Where the daemon actually listens (port 0 in the config picks a free port)."""

    smpp: tuple[str, int]
    smpp_tls: tuple[str, int] | None
    http: tuple[str, int] | None


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


# sys.setswitchinterval while a durable store's writer thread shares the GIL (see below).
WRITER_SWITCH_INTERVAL = 0.0005


@contextmanager
def _writer_switch_interval(thread_writer: bool) -> Iterator[None]:
    """With a store written by a thread of this process (``store.writer = "thread"``), hand
    the GIL over every 0.5 ms instead of 5 ms while running.

    The writer thread gives up the GIL around each SQLite step and must get it back from a
    busy event loop, which by default keeps it for a whole switch interval: measured, a
    shorter one makes commits shorter and the durable throughput ~8 % higher. (A writer
    process is served from the event loop itself, with no thread.) The setting is per
    process, so the previous one comes back afterwards (tests run many daemons).
    """
    previous = sys.getswitchinterval()
    if thread_writer:
        sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class Daemon:
    """The running SMSC.

    Raises:
        ConfigError: a carrier, profile or scenario named by the config cannot be loaded.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        real_now = trio.current_time()
        simulation = config.simulation
        self.seed = (
            simulation.seed
            if simulation.seed is not None
            else random.SystemRandom().getrandbits(32)
        )
        smpp = config.smpp
        store_config = config.store
        self.durable: SqliteStore | None = None
        self._store_lock: IO[bytes] | None = None
        if store_config.backend == "sqlite":
            path = store_config.path or default_store_path()
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
                self._store_lock = _lock_store(path)
            self.durable = SqliteStore(
                path,
                durability=store_config.durability,
                retention=store_config.retention,
                max_finished=store_config.max_finished,
                writer=store_config.writer,
            )
            self.store: Store = self.durable
        else:
            self.store = MemoryStore(store_config.retention, store_config.max_finished)
        start = simulation.start if simulation.start is not None else time.time()
        resumed = resumed_clock(
            None if self.durable is None else self.durable.get_state("clock"), time.time()
        )
        if resumed is not None:
            start = resumed[0]  # the run goes on where the last one left its clock
        self.time = SimulationTime(start, simulation.rate)
        self.sim_now = self.time.now
        self.scenario: Scenario | None = None
        if simulation.scenario is not None:
            self.scenario = load_scenario(simulation.scenario)
        self.carriers: dict[str, Carrier] = build_carriers(config, self.time, self.seed)
        self.outboxes = Outboxes(config.delivery.receipt_retry)
        self.accounts = Accounts(config.accounts, real_now)
        self.ids = MessageIdGenerator(time.time_ns() // 1000)
        routing = config.routing
        self.router = Router(
            store=self.store,
            carriers=self.carriers,
            accounts=self.accounts,
            outboxes=self.outboxes,
            ids=self.ids,
            sim_now=self.sim_now,
            reassembler=Reassembler(config.text.concat_timeout),
            routes=RouteTable(
                [Route(r.prefix, r.carrier, r.account) for r in config.routes],
                routing.country_code,
            ),
            unroutable=routing.unroutable,
            virtual_numbers={
                number: account.system_id
                for account in config.accounts
                for number in account.virtual_numbers
            },
            gsm_default_is_latin1=config.text.gsm_default_is_latin1,
        )
        self.committer: Committer | None = None
        self._saved_clock: tuple[float, float] | None = None
        self._saved_carriers: dict[str, str | None] = {}
        if self.durable is not None:
            self.committer = Committer(
                self.durable,
                self.outboxes,
                batch_size=store_config.batch_size,
                batch_delay=store_config.batch_delay,
                save_state=self._save_state,
                abandon=self.router.abandon,
            )
            self.router.attach_durability(self.committer)
            self._resume(self.durable)
        self.context = ServerContext(
            accounts=self.accounts,
            router=self.router,
            system_id=smpp.system_id,
            wall_clock=time.time,
            smpp=smpp,
        )
        self.server = SmppServer(
            self.context,
            SessionConfig(
                max_command_length=smpp.max_command_length,
                window=smpp.window,
                response_timeout=smpp.response_timeout,
                enquire_link_interval=smpp.enquire_link_interval,
                session_init_timeout=smpp.session_init_timeout,
                inactivity_timeout=smpp.inactivity_timeout,
            ),
            smpp.max_connections,
        )
        self.started_at = time.time()
        self._listen_scope = trio.CancelScope()
        self._http_stop = trio.Event()

    # ---------------------------------------------------------------- durable state

    def _resume(self, store: SqliteStore) -> None:
        """Take up the previous run's work from the store (see the module text)."""
        high_water = store.get_state("ids.high_water")
        stored_max = store.max_message_id()
        for floor in (high_water, stored_max):
            if floor is not None:
                self.ids.ensure_above(int(floor))
        for name, carrier in self.carriers.items():
            state = store.get_state(f"carrier.{name}")
            self._saved_carriers[name] = state
            if state is not None:
                carrier.load_state(state)
        pending = list(store.pending())
        committer = self.committer
        for message in pending:
            self._count_queued(message.system_id)
            self.router.resume(message)
            if committer is not None:
                committer.write_before_start(RESUME_BATCH)
        # Parts of concatenated messages still waiting for the rest of their set.
        parts = store.open_concat_parts(self.sim_now() - 2 * self.config.text.concat_timeout)
        self.router.resume_reassembly(parts)
        receipts = 0
        for item in self._stored_deliveries(store):
            if item.final:
                self._count_queued(item.system_id)  # owed to the ESME until acknowledged
            self.outboxes.put(item)
            receipts += 1
        lifecycle.info(
            "store_resumed",
            path=store.path,
            pending_messages=len(pending),
            concat_parts_waiting=len(parts),
            deliveries_waiting=receipts,
            simulation_time=self.sim_now(),
        )

    def _count_queued(self, system_id: str) -> None:
        """A resumed message, or final receipt, counts against its account's max_queued."""
        account = self.accounts.get(system_id)
        if account is not None:
            account.queued += 1

    @staticmethod
    def _stored_deliveries(store: SqliteStore) -> Iterator[OutboxItem]:
        """The deliver_sm a restart sends again: the outbox's rows, then the final receipts
        owed by their message rows, rebuilt as they were first sent."""
        for record in store.load_outbox():
            try:
                request = EncodedRequest.from_frame(record.pdu)
            except (SmppError, ValueError):
                request = None
            if request is None or request.command_id != CommandId.DELIVER_SM:
                log.warning("outbox_row_unreadable", key=record.key)
                continue
            yield OutboxItem(
                record.system_id, request, record.message_id, final=record.final, key=record.key
            )
        for message in store.owed_receipts():
            try:
                request = receipt_request(message, message.status)
            except ValueError:  # a field that does not fit the wire, as when first built
                log.warning("receipt_unbuildable", message_id=message.message_id)
                continue
            yield OutboxItem(message.system_id, request, message.message_id, final=True)

    def _save_state(self) -> None:
        """Put the clock and the id high-water mark in the next batch (when they changed)."""
        store = self.durable
        assert store is not None
        rate = self.time.rate
        now = self.sim_now()
        wall = time.time()
        # At a constant rate the clock's offset from the wall clock is constant: write it
        # only when an advance or a new rate changed it, not with every batch.
        offset = now - wall * rate
        if self._saved_clock is None or (
            abs(self._saved_clock[0] - offset) > 0.001 or self._saved_clock[1] != rate
        ):
            self._saved_clock = (offset, rate)
            store.set_state("clock", clock_state(now, wall, rate))
        if store.changes:
            store.set_state("ids.high_water", str(self.ids.high_water))

    def _save_carriers(self) -> None:
        store = self.durable
        if store is None:
            return
        for name, carrier in self.carriers.items():
            state = carrier.save_state()
            if state is not None and state != self._saved_carriers.get(name):
                self._saved_carriers[name] = state
                store.set_state(f"carrier.{name}", state)

    def simulated_carriers(self) -> list[SimulatedCarrier]:
        return [c for c in self.carriers.values() if isinstance(c, SimulatedCarrier)]

    async def run(
        self,
        *,
        stop: trio.Event | None = None,
        handle_signals: bool = True,
        task_status: trio.TaskStatus[BoundAddresses] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        if stop is None:
            stop = trio.Event()
        with _writer_switch_interval(self.durable is not None and not self.durable.writes_async):
            async with trio.open_nursery() as root:
                if self.committer is not None:
                    await root.start(self.committer.run)
                for carrier in self.carriers.values():
                    await root.start(partial(carrier.run, self.router))
                await root.start(self.outboxes.run)
                if self.scenario is not None:
                    root.start_soon(self._play_scenario, self.scenario)
                root.start_soon(self._housekeeping)
                if handle_signals:
                    root.start_soon(self._signals, stop)
                http = None
                if self.config.http.listen is not None:
                    http = await root.start(self._serve_http)
                async with trio.open_nursery() as connections:
                    plain, secure = await root.start(self._listen, connections)
                    addresses = BoundAddresses(smpp=plain, smpp_tls=secure, http=http)
                    task_status.started(addresses)
                    lifecycle.info(
                        "smscd_ready",
                        smpp=_fmt(addresses.smpp),
                        smpp_tls=_fmt(addresses.smpp_tls),
                        http=_fmt(addresses.http),
                        accounts=[account.system_id for account in self.config.accounts],
                        carriers=list(self.carriers),
                        seed=self.seed,
                        simulation_rate=self.time.rate,
                    )
                    await stop.wait()
                    lifecycle.info("shutdown_started", sessions=len(self.context.connections))
                    self._listen_scope.cancel()
                    self.server.drain()
                    with trio.move_on_after(self.config.smpp.drain_timeout) as drain:
                        while self.context.connections:
                            await trio.sleep(0.01)
                    if drain.cancelled_caught:
                        log.warning("drain_timeout", sessions=len(self.context.connections))
                    connections.cancel_scope.cancel()
                self._http_stop.set()
                root.cancel_scope.cancel()
        if self.committer is not None:
            self._save_carriers()
            self.committer.flush()
        self.store.close()
        if self._store_lock is not None:
            self._store_lock.close()  # the next daemon on this store may start
        lifecycle.info("shutdown_complete")

    async def _listen(
        self,
        connections: trio.Nursery,
        *,
        task_status: trio.TaskStatus[
            tuple[tuple[str, int], tuple[str, int] | None]
        ] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        smpp = self.config.smpp
        with self._listen_scope:
            async with trio.open_nursery() as nursery:
                host, port = smpp.listen.host, smpp.listen.port
                plain = await nursery.start(partial(self.server.serve, host, port, connections))
                secure = None
                if smpp.tls_listen is not None:
                    host, port = smpp.tls_listen.host, smpp.tls_listen.port
                    assert smpp.tls_cert is not None and smpp.tls_key is not None
                    context = tls_context(str(smpp.tls_cert), str(smpp.tls_key))
                    secure = await nursery.start(
                        partial(self.server.serve, host, port, connections, ssl_context=context)
                    )
                task_status.started((plain, secure))

    async def _serve_http(
        self, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        listen = self.config.http.listen
        assert listen is not None
        host, port = listen.host, listen.port
        settings = HypercornConfig()
        settings.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        settings.accesslog = None
        settings.errorlog = logging.getLogger("smscd.http")
        settings.graceful_timeout = 1.0
        app = create_app(
            ApiState(
                context=self.context,
                started_at=self.started_at,
                wall_clock=time.time,
                sim_now=self.sim_now,
                time=self.time,
                carriers=self.simulated_carriers(),
            )
        )
        async with trio.open_nursery() as nursery:
            bound: list[str] = await nursery.start(
                partial(serve_http, cast(Any, app), settings, shutdown_trigger=self._http_stop.wait)
            )
            task_status.started(_parse_bind(bound[0]))

    async def _play_scenario(self, scenario: Scenario) -> None:
        store = self.durable
        await play_scenario(
            scenario,
            self.time,
            self.simulated_carriers(),
            self.router,
            resume=None if store is None else ScenarioProgress.loads(store.get_state("scenario")),
            on_progress=None if store is None else self._save_scenario,
        )

    def _save_scenario(self, progress: ScenarioProgress) -> None:
        store = self.durable
        assert store is not None
        # With the handset rules it scheduled and what it just did, in the same batch: a
        # restart finds them all or none.
        self._save_carriers()
        store.set_state("scenario", progress.dumps())

    async def _housekeeping(self) -> None:
        gc.set_threshold(*GC_THRESHOLDS)
        gc.freeze()
        next_freeze = next_full = next_purge = trio.current_time()
        next_full += GC_FULL_INTERVAL
        while True:
            await trio.sleep(1.0)
            self.router.expire_reassembly()
            self._save_carriers()
            if self.durable is not None and trio.current_time() >= next_purge:
                next_purge = trio.current_time() + PURGE_INTERVAL
                purged = await trio.to_thread.run_sync(self.durable.purge, self.sim_now())
                if purged:
                    log.info("store_purged", messages=purged)
            now = trio.current_time()
            if now >= next_full:
                next_full = now + GC_FULL_INTERVAL
                gc.unfreeze()
                started = time.perf_counter()
                found = gc.collect()
                log.info(
                    "gc_full_collection",
                    collected=found,
                    seconds=round(time.perf_counter() - started, 3),
                )
            if now >= next_freeze:
                next_freeze = now + GC_FREEZE_INTERVAL
                gc.freeze()

    async def _signals(self, stop: trio.Event) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                lifecycle.info("signal_received", signal=signal.Signals(signum).name)
                stop.set()
                return


def _lock_store(path: Path) -> IO[bytes]:
    """Hold `<store>.lock` for the life of the process: two daemons resuming one store would
    deliver its queued messages twice. The kernel drops the lock when the process dies.

    Raises:
        StoreError: another smscd holds it.
    """
    lock = open(f"{path}.lock", "a+b")  # noqa: SIM115 - held open until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StoreError(f"{path}: in use by another smscd (one store, one daemon)") from None
    return lock


def _fmt(address: tuple[str, int] | None) -> str | None:
    if address is None:
        return None
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_bind(bind: str) -> tuple[str, int]:
    hostport = bind.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)
