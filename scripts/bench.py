"""SMPP load generator and benchmark for smscd.

Run from the repository root with the project's virtualenv::

    .venv/bin/python scripts/bench.py                       # 4 binds x window 100, 200,000 msgs
    .venv/bin/python scripts/bench.py --no-receipts         # submit_sm only, bind_transmitter
    .venv/bin/python scripts/bench.py --latency-probe       # add the window-1 latency probe
    .venv/bin/python scripts/bench.py --messages 0 --latency-probe   # the probe alone
    .venv/bin/python scripts/bench.py --messages 1000000 --duration-limit 600   # memory soak
    .venv/bin/python scripts/bench.py --max-receipt-backlog 5000   # client that waits for receipts
    .venv/bin/python scripts/bench.py --json                # one JSON object on stdout
    .venv/bin/python scripts/bench.py --daemon-profile /tmp/smscd.prof   # daemon under cProfile

The script starts the daemon itself, exactly as a user does (``python -m smscd run --config
scripts/bench.toml --smpp-listen 127.0.0.1:0 --http-listen off --log-format json``, plus
``--log-level info`` because the ``smscd_ready`` line that carries the port is logged at info),
reads the port from that line, runs the load and stops the daemon with SIGTERM. ``--external
127.0.0.1:PORT`` loads an already running daemon instead (``--daemon-pid`` then adds its CPU and
memory figures). Everything stays on the loopback interface, and every phase stops by itself:
when its messages are done or after ``--duration-limit`` seconds.

The load: ``--binds`` sessions (bind_transceiver with registered_delivery=1 when receipts are on,
so receipts come back on the same sessions; bind_transmitter and registered_delivery=0 when
they are off), each keeping ``--window`` submit_sm outstanding until ``--messages`` submit_sm
have been answered in total, then waiting until every accepted message's receipt has arrived.
Every deliver_sm is answered at once. The sessions are spread over ``--workers`` processes;
one is the default because a second gave the daemon no more throughput on this 2-core machine
(the daemon is at 100 % of a core while one worker uses about 3 %).

The script exits 1 when a phase did not complete, a submit_sm was refused, a receipt failed
its check, or the daemon did not exit 0 on SIGTERM.

The generator must not be what limits the figures (the daemon needs about one of this
machine's two cores), so it works at the byte level: one submit_sm is encoded once and only its
sequence number is patched per send; incoming frames are read by their 16-octet header only
(bodies of one receipt in ``--verify-every`` are decoded, to check the text); all sends of one
wake-up go out in one ``send``. The generator's own CPU is reported so that this can be checked.

The figures:

- submit_sm/s: acknowledged submit_sm_resp per second over the steady window: between the
  moments 10 % and 90 % of all responses had arrived, which leaves out the ramp-up and the
  tail. "overall" is all responses over the time from the first send to the last response.
- receipts/s: deliver_sm receipts per second, steady window computed the same way.
- receipt backlog max: accepted messages whose receipt had not arrived yet, at the worst
  moment. The generator answers every deliver_sm at once, so these are receipts waiting inside
  the daemon; when receipts/s is below submit_sm/s this grows for as long as the load lasts.
  ``--max-receipt-backlog N`` pauses submitting while N are overdue, as a careful client would.
- p50/p99/max latency: time from writing a submit_sm to reading its submit_sm_resp (the send
  time is kept per sequence number; one clock reading per batch of reads or writes). At
  window W this includes queueing behind the W-1 other outstanding requests, so the probe at
  window 1 is the figure for a single request's round trip.
- errors: submit_sm_resp (and generic_nack) by command_status; receipt texts that failed the
  sample check; frames that were not expected.
- daemon CPU: user+sys seconds from /proc/PID/stat over the phase, and as a percentage of
  one core over the phase's wall time. generator CPU: the same for the worker processes.
- others: CPU used meanwhile by everything else on the host (from /proc/stat), in % of one
  core. On a shared 2-core machine the other figures are only comparable when this is ~0.
- RSS: the daemon's VmRSS sampled every ``--sample-interval`` seconds during the load (min and
  max show whether it is flat), VmHWM (peak) and VmRSS at the end, from /proc/PID/status.
- daemon exit code: after SIGTERM; 0 is a clean shutdown.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import multiprocessing as mp
import os
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tomllib
from array import array
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from smscd.smpp import codec
from smscd.smpp.constants import status_name as smpp_status_name
from smscd.smpp.pdus import (
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLinkResp,
    SubmitSm,
    Unbind,
    UnbindResp,
)

REPO: Final = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG: Final = REPO / "scripts" / "bench.toml"

HEADER: Final = struct.Struct(">IIII")
U32: Final = struct.Struct(">I")
SEQ_OFFSET: Final = 12  # sequence_number's offset in the header
MAX_SEQ: Final = 0x7FFFFFFF

GENERIC_NACK: Final = 0x80000000
SUBMIT_SM_RESP: Final = 0x80000004
DELIVER_SM: Final = 0x00000005
UNBIND: Final = 0x00000006
UNBIND_RESP: Final = 0x80000006
ENQUIRE_LINK: Final = 0x00000015
BIND_RESPONSES: Final = frozenset({0x80000002, 0x80000009})

# One recv takes whatever has accumulated, up to this: few system calls under load.
RECV_SIZE: Final = 1 << 18
# Time is counted in ticks of this many seconds, per worker, to find the steady window.
TICK: Final = 0.01
# The steady window lies between these fractions of all responses (or receipts).
STEADY_FROM: Final = 0.10
STEADY_TO: Final = 0.90

# Per-worker counters in shared memory, read by the parent to decide when a phase is over.
SLOT_READY, SLOT_OK, SLOT_ERR, SLOT_RECEIPTS, SLOT_DEAD = range(5)
SLOTS: Final = 5


def encode_submit(receipts: bool) -> bytes:
    """The one submit_sm every send repeats; only its sequence number changes."""
    return codec.encode(
        SubmitSm(
            sequence_number=1,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900000",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900001",
            registered_delivery=1 if receipts else 0,
            short_message=b"smscd bench message 0123456789",
        )
    )


def status_name(status: int) -> str:
    if status & GENERIC_NACK:  # how the worker counts a generic_nack's status
        return f"generic_nack:{status_name(status & ~GENERIC_NACK)}"
    return smpp_status_name(status)


# ------------------------------------------------------------------------------------ worker


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process does in one phase (picklable: it crosses a spawn)."""

    index: int
    host: str
    port: int
    system_id: str
    password: str
    quotas: tuple[int, ...]  # submit_sm per session; one session per entry
    window: int
    receipts: bool
    verify_every: int
    max_backlog: int  # pause submitting while this many receipts are overdue; 0 = never
    workers: int  # how many workers' counters are in the shared array
    deadline: float  # time.monotonic(); CLOCK_MONOTONIC is shared by all processes
    ticks: int


class Session:
    """One bound SMPP session of a worker, driven by the worker's selector loop."""

    __slots__ = (
        "acked",
        "closed",
        "events",
        "inbuf",
        "mask",
        "next_seq",
        "out",
        "outstanding",
        "quota",
        "sent",
        "sent_at",
        "sock",
        "unbound",
    )

    def __init__(self, sock: socket.socket, quota: int, window: int) -> None:
        self.sock = sock
        self.quota = quota
        self.sent = 0
        self.acked = 0
        self.outstanding = 0
        self.next_seq = 2  # 1 was the bind
        # Outstanding submits have consecutive sequence numbers, at most `window` of them, so
        # a power-of-two ring at least twice that size indexed by seq & mask never collides.
        size = 1
        while size < 2 * window:
            size <<= 1
        self.mask = size - 1
        self.sent_at = array("d", bytes(8 * size))
        self.inbuf = b""
        self.out = bytearray()
        self.events = selectors.EVENT_READ
        self.unbound = False
        self.closed = False

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq = seq + 1 if seq < MAX_SEQ else 1
        return seq


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the daemon closed the connection during the bind")
        data += chunk
    return data


def open_session(spec: WorkerSpec, quota: int) -> Session:
    """Connect and bind, blocking: set-up is not measured."""
    sock = socket.create_connection((spec.host, spec.port), timeout=10)
    # Small frames, each waited for by the other side: never let Nagle hold them back.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    bind_class = BindTransceiver if spec.receipts else BindTransmitter
    sock.sendall(
        codec.encode(
            bind_class(sequence_number=1, system_id=spec.system_id, password=spec.password)
        )
    )
    while True:
        header = _recv_exact(sock, 16)
        length, command_id, status, _ = HEADER.unpack(header)
        _recv_exact(sock, length - 16)
        if command_id in BIND_RESPONSES or command_id == GENERIC_NACK:
            break
        # Anything else this early (an enquire_link?) would be odd, but is no reason to fail.
    if status != 0:
        sock.close()
        raise ConnectionError(f"bind refused: {status_name(status)}")
    sock.setblocking(False)
    return Session(sock, quota, spec.window)


def worker_main(
    spec: WorkerSpec,
    shared: Any,
    t0: Any,
    go: Any,
    stop: Any,
    results: Connection,
) -> None:
    """Entry point of a worker process: run the phase and send the figures to the parent."""
    base = spec.index * SLOTS
    try:
        result = run_worker(spec, shared, t0, go, stop)
    except Exception as exc:
        shared[base + SLOT_DEAD] = 1
        shared[base + SLOT_READY] = 1  # do not keep the parent waiting for us
        result = {"fatal": f"{type(exc).__name__}: {exc}"}
    results.send(result)
    results.close()


def run_worker(spec: WorkerSpec, shared: Any, t0_value: Any, go: Any, stop: Any) -> dict[str, Any]:
    base = spec.index * SLOTS
    sessions = [open_session(spec, quota) for quota in spec.quotas]
    shared[base + SLOT_READY] = 1
    if not go.wait(60):
        raise TimeoutError("the parent never started the phase")
    t0 = t0_value.value
    # This loop allocates no reference cycles; the collector would only add pauses to the
    # latency figures.
    gc.disable()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)

    window = spec.window
    ticks = spec.ticks
    last_tick = ticks - 1
    ack_ticks = array("q", bytes(8 * ticks))
    receipt_ticks = array("q", bytes(8 * ticks))
    latencies = array("d")
    lat_append = latencies.append
    errors: Counter[int] = Counter()
    unexpected: Counter[int] = Counter()
    ok = 0
    receipts = 0
    late_receipts = 0
    enquire_links = 0
    verified = 0
    bad_receipts: list[str] = []
    verify_every = spec.verify_every
    closed_by_daemon = 0
    max_backlog = spec.max_backlog
    held = False  # submitting paused by --max-receipt-backlog
    held_since = 0.0
    held_total = 0.0
    all_slots = range(spec.workers)

    submit = encode_submit(spec.receipts)
    frame_len = len(submit)
    # `window` copies of the frame: a batch of k submits is the first k, seqs patched in.
    batch = bytearray(submit * window)
    batch_view = memoryview(batch)
    deliver_resp = bytearray(codec.encode(DeliverSmResp(sequence_number=1)))
    enquire_resp = bytearray(codec.encode(EnquireLinkResp(sequence_number=1)))
    unbind_resp = bytearray(codec.encode(UnbindResp(sequence_number=1)))
    unpack_from = HEADER.unpack_from
    pack_into = U32.pack_into
    monotonic = time.monotonic

    sel = selectors.DefaultSelector()
    for session in sessions:
        sel.register(session.sock, selectors.EVENT_READ, session)

    def fill(s: Session, now: float) -> None:
        """Top the session's window up with one batch of submit_sm."""
        k = min(window - s.outstanding, s.quota - s.sent)
        if k <= 0:
            return
        seq = s.next_seq
        mask = s.mask
        sent_at = s.sent_at
        if seq + k <= MAX_SEQ:
            offset = SEQ_OFFSET
            for n in range(seq, seq + k):
                pack_into(batch, offset, n)
                sent_at[n & mask] = now
                offset += frame_len
            s.next_seq = seq + k
        else:  # wrap-around of the sequence number, once per 2**31 sends
            for i in range(k):
                n = s.take_seq()
                pack_into(batch, SEQ_OFFSET + i * frame_len, n)
                sent_at[n & mask] = now
        s.out += batch_view[: k * frame_len]
        s.sent += k
        s.outstanding += k

    def flush(s: Session) -> None:
        """Write what the session has queued; whatever the kernel refuses waits for EVENT_WRITE."""
        out = s.out
        if out and not s.closed:
            try:
                n = s.sock.send(out)
            except BlockingIOError:
                n = 0
            except OSError:
                s.closed = True
                return
            del out[:n]
        want = selectors.EVENT_READ | selectors.EVENT_WRITE if out else selectors.EVENT_READ
        if want != s.events and not s.closed:
            s.events = want
            sel.modify(s.sock, want, s)

    def on_readable(s: Session, now: float, filling: bool) -> None:
        nonlocal ok, receipts, late_receipts, enquire_links, verified, closed_by_daemon
        try:
            data = s.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            s.closed = True
            if not s.unbound:
                closed_by_daemon += 1
            sel.unregister(s.sock)
            return
        buf = s.inbuf + data if s.inbuf else data
        end = len(buf)
        pos = 0
        acks = 0
        new_receipts = 0
        out = s.out
        sent_at = s.sent_at
        mask = s.mask
        while end - pos >= 16:
            length, command_id, status, seq = unpack_from(buf, pos)
            if end - pos < length:
                break
            if command_id == SUBMIT_SM_RESP:
                acks += 1
                if status:
                    errors[status] += 1
                lat_append(now - sent_at[seq & mask])
            elif command_id == DELIVER_SM:
                new_receipts += 1
                pack_into(deliver_resp, SEQ_OFFSET, seq)
                out += deliver_resp
                if (receipts + new_receipts) % verify_every == 1 or verify_every == 1:
                    problem = check_receipt(bytes(buf[pos : pos + length]))
                    verified += 1
                    if problem and len(bad_receipts) < 10:
                        bad_receipts.append(problem)
            elif command_id == ENQUIRE_LINK:
                enquire_links += 1
                pack_into(enquire_resp, SEQ_OFFSET, seq)
                out += enquire_resp
            elif command_id == UNBIND_RESP:
                s.unbound = True
            elif command_id == UNBIND:
                pack_into(unbind_resp, SEQ_OFFSET, seq)
                out += unbind_resp
                s.unbound = True
                if filling:  # the daemon hangs up on us mid-load: worth reporting
                    unexpected[UNBIND] += 1
            elif command_id == GENERIC_NACK:
                # Our only requests are submits (and the final unbind): treat it as the answer.
                errors[GENERIC_NACK | status] += 1
                acks += 1
            else:
                unexpected[command_id] += 1
            pos += length
            if length < 16:  # a corrupt stream; stop rather than loop forever
                s.closed = True
                unexpected[0xFFFFFFFF] += 1
                break
        if s.closed:
            sel.unregister(s.sock)
            return
        s.inbuf = buf[pos:] if pos < end else b""
        if acks:
            s.outstanding -= acks
            s.acked += acks
            tick = int((now - t0) / TICK)
            ack_ticks[tick if tick < last_tick else last_tick] += acks
        if new_receipts:
            if filling:
                receipts += new_receipts
                tick = int((now - t0) / TICK)
                receipt_ticks[tick if tick < last_tick else last_tick] += new_receipts
            else:
                late_receipts += new_receipts
        if filling and not held and s.outstanding < window:
            fill(s, now)
        flush(s)

    def pump(timeout: float, filling: bool) -> None:
        for key, mask_ in sel.select(timeout):
            s = key.data
            now = monotonic()
            if mask_ & selectors.EVENT_READ:
                on_readable(s, now, filling)
            if mask_ & selectors.EVENT_WRITE and not s.closed:
                flush(s)

    now = monotonic()
    for session in sessions:
        fill(session, now)
        flush(session)
    first_send = now
    last_ack = now
    last_receipt = now
    acked_before = 0
    receipts_before = 0
    while not stop.is_set():
        pump(0.05, True)
        acked = sum(s.acked for s in sessions)
        if acked != acked_before:
            acked_before = acked
            last_ack = monotonic()
        if receipts != receipts_before:
            receipts_before = receipts
            last_receipt = monotonic()
        err = sum(errors.values())
        shared[base + SLOT_OK] = acked - err
        shared[base + SLOT_ERR] = err
        shared[base + SLOT_RECEIPTS] = receipts
        if max_backlog:
            # Receipts come back on any of the account's sessions, in any worker: the backlog
            # is global, read from every worker's counters.
            backlog = sum(
                shared[i * SLOTS + SLOT_OK] - shared[i * SLOTS + SLOT_RECEIPTS] for i in all_slots
            )
            now = monotonic()
            if backlog >= max_backlog:
                if not held:
                    held, held_since = True, now
            else:
                if held:
                    held = False
                    held_total += now - held_since
                # Sessions whose window emptied while held get no reads to refill them.
                for s in sessions:
                    if not s.closed and s.outstanding < window and s.sent < s.quota:
                        fill(s, now)
                        flush(s)
        if any(s.closed for s in sessions):
            # A lost session's quota can never be answered: end the phase now, not at the
            # time limit.
            shared[base + SLOT_DEAD] = 1
            break
        if monotonic() > spec.deadline:
            break
    ok = acked_before - sum(errors.values())
    if held:
        held_total += monotonic() - held_since
    usage1 = resource.getrusage(resource.RUSAGE_SELF)

    # Unbind politely, still answering whatever the daemon sends meanwhile.
    unbind = bytearray(codec.encode(Unbind(sequence_number=1)))
    for s in sessions:
        if not s.closed:
            pack_into(unbind, SEQ_OFFSET, s.take_seq())
            s.out += unbind
            flush(s)
    unbind_deadline = monotonic() + 5
    while monotonic() < unbind_deadline and not all(s.unbound or s.closed for s in sessions):
        pump(0.05, False)
    unbind_failed = sum(1 for s in sessions if not (s.unbound or s.closed))
    for s in sessions:
        s.sock.close()
    gc.enable()

    return {
        "ok": ok,
        "acked": acked_before,
        "sent": sum(s.sent for s in sessions),
        "receipts": receipts,
        "late_receipts": late_receipts,
        "errors": dict(errors),
        "unexpected": dict(unexpected),
        "enquire_links": enquire_links,
        "verified": verified,
        "bad_receipts": bad_receipts,
        "closed_by_daemon": closed_by_daemon,
        "unbind_failed": unbind_failed,
        "latencies": latencies.tobytes(),
        "ack_ticks": ack_ticks.tobytes(),
        "receipt_ticks": receipt_ticks.tobytes(),
        "first_send": first_send,
        "last_ack": last_ack,
        "last_receipt": last_receipt,
        "held_s": held_total,
        "cpu": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
    }


def check_receipt(frame: bytes) -> str | None:
    """Decode one deliver_sm fully and check that it is a DELIVRD receipt; None when it is."""
    try:
        pdu = codec.decode(frame)
    except Exception as exc:
        return f"undecodable deliver_sm: {exc}"
    if not isinstance(pdu, DeliverSm):
        return f"not a deliver_sm: {pdu!r}"
    text = pdu.short_message
    if not pdu.esm_class & 0x04:
        return f"esm_class 0x{pdu.esm_class:02X} is not a receipt: {text!r}"
    if not text.startswith(b"id:") or b"stat:DELIVRD" not in text:
        return f"unexpected receipt text: {text!r}"
    return None


# ------------------------------------------------------------------------------------ daemon


def proc_cpu_seconds(pid: int) -> float | None:
    """user+sys CPU seconds of a process, from /proc/PID/stat (fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields restart after ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_busy_seconds() -> float:
    """CPU seconds all processes on the host have used (every CPU), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB, from /proc/PID/status."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def bench_daemon(config: Path, profile: Path | None) -> DaemonProcess:
    """The daemon on a benchmark config, with an empty store, on a free SMPP port."""
    fresh_store(config)
    return DaemonProcess(
        ["--config", str(config), "--smpp-listen", "127.0.0.1:0", "--http-listen", "off"],
        # smscd_ready is logged at info; the config's "warning" would hide it.
        log_level="info",
        python=() if profile is None else ("-m", "cProfile", "-o", str(profile)),
    )


def fresh_store(config: Path) -> None:
    """Delete the durable store a benchmark config names, so the run starts empty."""
    store = tomllib.loads(config.read_text("utf-8")).get("store", {})
    if store.get("backend", "sqlite") != "sqlite" or not store.get("path"):
        return
    path = Path(store["path"])
    if str(path) == ":memory:":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class DaemonProcess:
    """``smscd run ARGUMENTS`` as a child, as users run it, logging JSON at ``log_level``; its
    stderr is drained on a thread so it never blocks, and every line is kept, counted by
    level and by event; the first record of each event is in ``records`` (``smscd_ready``,
    ``store_resumed``, ...). The benchmark and the other scripts under ``scripts/`` start
    the daemon through this.

    Args:
        python: interpreter options before ``-m smscd`` (e.g. a profiler).
    """

    def __init__(
        self, arguments: Sequence[str], *, log_level: str = "info", python: Sequence[str] = ()
    ) -> None:
        self.command = [
            *(sys.executable, *python, "-m", "smscd", "run", *arguments),
            *("--log-format", "json", "--log-level", log_level),
        ]
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self.tail: deque[str] = deque(maxlen=40)
        self.levels: Counter[str] = Counter()
        #: Log events by name, and every line as printed.
        self.events: Counter[str] = Counter()
        self.lines: list[str] = []
        self.records: dict[str, dict[str, Any]] = {}
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    @property
    def ready_line(self) -> dict[str, Any] | None:
        return self.records.get("smscd_ready")

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            self.tail.append(line.rstrip("\n"))
            try:
                record = json.loads(line)
            except ValueError:
                self.levels["unparsed"] += 1
                continue
            if not isinstance(record, dict):
                continue
            self.levels[str(record.get("level", "?"))] += 1
            event = str(record.get("event"))
            self.events[event] += 1
            self.records.setdefault(event, record)
            if event == "smscd_ready":
                self._ready.set()
        self._ready.set()  # EOF: the daemon is gone; wake whoever waits

    def wait_ready(self, timeout: float) -> tuple[str, int]:
        self._ready.wait(timeout)
        if self.ready_line is None:
            self.stop(5)
            tail = "\n".join(self.tail)
            raise RuntimeError(f"smscd did not report ready within {timeout:g}s:\n{tail}")
        host, _, port = str(self.ready_line["smpp"]).rpartition(":")
        return host.strip("[]"), int(port)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float) -> int | str:
        """SIGTERM, then wait; SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return f"killed after {timeout:g}s without exiting on SIGTERM"
        self._reader.join(2)
        return self.proc.returncode


# ------------------------------------------------------------------------------------ phases


@dataclass
class PhaseResult:
    name: str
    binds: int
    window: int
    messages: int
    receipts_on: bool
    workers: int
    complete: bool = False
    acked: int = 0
    ok: int = 0
    receipts: int = 0
    late_receipts: int = 0
    submit_rate: float = 0.0
    submit_rate_overall: float = 0.0
    receipt_rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    bad_receipts: list[str] = field(default_factory=list)
    verified_receipts: int = 0
    enquire_links: int = 0
    closed_by_daemon: int = 0
    unbind_failed: int = 0
    fatal: list[str] = field(default_factory=list)
    daemon_cpu_s: float | None = None
    daemon_cpu_pct: float | None = None
    generator_cpu_s: float = 0.0
    generator_cpu_pct: float = 0.0
    # CPU used by everything else on the host meanwhile, in % of one core: the figures are
    # only comparable between runs when this is near 0.
    other_cpu_pct: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)
    rss_min_mb: float | None = None
    # Accepted messages whose receipt had not arrived yet, at the worst moment: receipts the
    # daemon holds in its outbox (the generator answers every deliver_sm at once).
    receipt_backlog_max: int = 0
    held_s: float = 0.0
    rss_max_mb: float | None = None


def steady_rate(ticks: array[int], total: int) -> float:
    """Events per second between the moments STEADY_FROM and STEADY_TO of `total` had happened.

    Within a tick the events are taken as evenly spread, so the crossing times interpolate.
    """
    if total <= 0:
        return 0.0
    targets = [STEADY_FROM * total, STEADY_TO * total]
    times: list[float] = []
    cumulative = 0
    for i, count in enumerate(ticks):
        while targets and count and cumulative + count >= targets[0]:
            times.append((i + (targets.pop(0) - cumulative) / count) * TICK)
        cumulative += count
        if not targets:
            break
    if len(times) < 2 or times[1] <= times[0]:
        return 0.0
    return (STEADY_TO - STEADY_FROM) * total / (times[1] - times[0])


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_phase(
    name: str,
    *,
    host: str,
    port: int,
    binds: int,
    window: int,
    messages: int,
    receipts: bool,
    workers: int,
    args: argparse.Namespace,
    daemon_pid: int | None,
    daemon: DaemonProcess | None,
) -> PhaseResult:
    """Run one load phase to completion (or its time limit) and gather its figures."""
    result = PhaseResult(name, binds, window, messages, receipts, workers)
    ctx = mp.get_context("spawn")
    workers = max(1, min(workers, binds))
    result.workers = workers
    quotas = split(messages, binds)
    # Binds are dealt to the workers round-robin, so each has the same share of the load.
    per_worker = [tuple(quotas[i::workers]) for i in range(workers)]
    limit = float(args.duration_limit)
    ticks = int(limit / TICK) + 100
    shared = ctx.RawArray("q", SLOTS * workers)
    t0 = ctx.Value("d", 0.0, lock=False)
    go = ctx.Event()
    stop = ctx.Event()
    procs: list[tuple[Any, Connection]] = []
    deadline = time.monotonic() + limit + 30  # set-up time plus the load's own limit
    for index, quota in enumerate(per_worker):
        spec = WorkerSpec(
            index=index,
            host=host,
            port=port,
            system_id=args.system_id,
            password=args.password,
            quotas=quota,
            window=window,
            receipts=receipts,
            verify_every=args.verify_every,
            max_backlog=args.max_receipt_backlog if receipts else 0,
            workers=workers,
            deadline=deadline,
            ticks=ticks,
        )
        rx, tx = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=worker_main, args=(spec, shared, t0, go, stop, tx), name=f"bench-{index}"
        )
        proc.daemon = True
        proc.start()
        tx.close()
        procs.append((proc, rx))

    setup_deadline = time.monotonic() + 30
    while not all(shared[i * SLOTS + SLOT_READY] for i in range(workers)):
        if time.monotonic() > setup_deadline:
            stop.set()
            break
        time.sleep(0.01)

    cpu_start = proc_cpu_seconds(daemon_pid) if daemon_pid else None
    host_start = host_busy_seconds()
    start = time.monotonic()
    t0.value = start
    go.set()
    end_by = start + limit
    next_sample = start
    next_progress = start + args.progress_interval
    rss: list[float] = []
    while True:
        now = time.monotonic()
        ok = sum(shared[i * SLOTS + SLOT_OK] for i in range(workers))
        err = sum(shared[i * SLOTS + SLOT_ERR] for i in range(workers))
        got = sum(shared[i * SLOTS + SLOT_RECEIPTS] for i in range(workers))
        dead = any(shared[i * SLOTS + SLOT_DEAD] for i in range(workers))
        if receipts:
            result.receipt_backlog_max = max(result.receipt_backlog_max, ok - got)
        if ok + err >= messages and (not receipts or got >= ok):
            result.complete = True
            break
        if dead or now > end_by or (daemon is not None and not daemon.alive()):
            break
        if daemon_pid and now >= next_sample:
            memory = proc_memory_kb(daemon_pid)
            if "VmRSS" in memory:
                rss.append(memory["VmRSS"] / 1024)
            next_sample += args.sample_interval
        if now >= next_progress and not args.quiet:
            rss_text = f" rss {rss[-1]:.0f} MB" if rss else ""
            print(
                f"  [{name}] {now - start:6.1f}s submit_sm_resp {ok + err}/{messages}"
                f" receipts {got} (backlog {ok - got if receipts else 0}){rss_text}",
                file=sys.stderr,
            )
            next_progress += args.progress_interval
        time.sleep(0.02)
    wall = time.monotonic() - start
    cpu_end = proc_cpu_seconds(daemon_pid) if daemon_pid else None
    host_used = host_busy_seconds() - host_start
    if daemon_pid:
        memory = proc_memory_kb(daemon_pid)
        if "VmRSS" in memory:
            rss.append(memory["VmRSS"] / 1024)
    stop.set()

    latencies: list[float] = []
    ack_ticks = array("q", bytes(8 * ticks))
    receipt_ticks = array("q", bytes(8 * ticks))
    errors: Counter[int] = Counter()
    unexpected: Counter[int] = Counter()
    first_send = None
    last_ack = start
    last_receipt = start
    for proc, rx in procs:
        if not rx.poll(60):
            result.fatal.append(f"{proc.name}: no result within 60s")
            continue
        data: dict[str, Any] = rx.recv()
        proc.join(10)
        if "fatal" in data:
            result.fatal.append(f"{proc.name}: {data['fatal']}")
            continue
        result.acked += data["acked"]
        result.ok += data["ok"]
        result.receipts += data["receipts"]
        result.late_receipts += data["late_receipts"]
        result.verified_receipts += data["verified"]
        result.bad_receipts += data["bad_receipts"]
        result.enquire_links += data["enquire_links"]
        result.closed_by_daemon += data["closed_by_daemon"]
        result.unbind_failed += data["unbind_failed"]
        result.generator_cpu_s += data["cpu"]
        result.held_s = max(result.held_s, data["held_s"])
        errors.update(data["errors"])
        unexpected.update(data["unexpected"])
        lat = array("d")
        lat.frombytes(data["latencies"])
        latencies.extend(lat)
        for target, raw in ((ack_ticks, data["ack_ticks"]), (receipt_ticks, data["receipt_ticks"])):
            part = array("q")
            part.frombytes(raw)
            for i, count in enumerate(part):
                if count:
                    target[i] += count
        first_send = (
            data["first_send"] if first_send is None else min(first_send, data["first_send"])
        )
        last_ack = max(last_ack, data["last_ack"])
        last_receipt = max(last_receipt, data["last_receipt"])
    for proc, _ in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)

    latencies.sort()
    result.p50_ms = percentile(latencies, 0.50) * 1000
    result.p99_ms = percentile(latencies, 0.99) * 1000
    result.p999_ms = percentile(latencies, 0.999) * 1000
    result.max_ms = (latencies[-1] if latencies else 0.0) * 1000
    result.submit_rate = steady_rate(ack_ticks, sum(ack_ticks))
    if first_send is not None and last_ack > first_send:
        result.submit_rate_overall = result.acked / (last_ack - first_send)
    result.receipt_rate = steady_rate(receipt_ticks, sum(receipt_ticks))
    result.elapsed = wall
    result.errors = {status_name(k): v for k, v in sorted(errors.items())}
    result.unexpected = {f"0x{k:08X}": v for k, v in sorted(unexpected.items())}
    result.generator_cpu_pct = 100 * result.generator_cpu_s / wall if wall else 0.0
    others = host_used - result.generator_cpu_s
    if cpu_start is not None and cpu_end is not None:
        result.daemon_cpu_s = cpu_end - cpu_start
        result.daemon_cpu_pct = 100 * result.daemon_cpu_s / wall if wall else 0.0
        others -= result.daemon_cpu_s
    # The parent's own polling is counted in `others` too; it is well under 1 %.
    result.other_cpu_pct = max(0.0, 100 * others / wall) if wall else 0.0
    result.rss_samples_mb = [round(x, 1) for x in rss]
    if rss:
        result.rss_min_mb = min(rss)
        result.rss_max_mb = max(rss)
    return result


# ------------------------------------------------------------------------------------ report


def fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def print_report(report: dict[str, Any], phases: list[PhaseResult]) -> None:
    print()
    print(
        f"smscd bench: {report['python']} on {report['cpus']} CPUs;"
        f" daemon {report['daemon_command'] or report['target']}"
    )
    header = (
        f"{'phase':<10} {'binds':>5} {'window':>6} {'msgs':>8} {'rcpt':>4} {'wk':>2}"
        f" {'submit/s':>9} {'overall/s':>9} {'receipts/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'max ms':>7} {'daemon CPU':>14} {'gen CPU':>7} {'others':>6}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        cpu = (
            f"{p.daemon_cpu_s:.1f}s {p.daemon_cpu_pct:.0f}%"
            if p.daemon_cpu_s is not None and p.daemon_cpu_pct is not None
            else "n/a"
        )
        print(
            f"{p.name:<10} {p.binds:>5} {p.window:>6} {p.messages:>8}"
            f" {'on' if p.receipts_on else 'off':>4} {p.workers:>2}"
            f" {p.submit_rate:>9.0f} {p.submit_rate_overall:>9.0f}"
            f" {p.receipt_rate if p.receipts_on else 0:>10.0f}"
            f" {p.p50_ms:>7.3f} {p.p99_ms:>7.3f} {p.max_ms:>7.1f} {cpu:>14}"
            f" {p.generator_cpu_pct:>6.0f}% {p.other_cpu_pct:>5.0f}%"
        )
    for p in phases:
        notes = []
        if not p.complete:
            notes.append("INCOMPLETE (time limit, dead sessions or daemon exit)")
        notes.append(
            f"acked {p.acked}/{p.messages} (ok {p.ok}), receipts {p.receipts}"
            f" in {p.elapsed:.2f}s; receipts checked {p.verified_receipts}"
        )
        if p.errors:
            notes.append(f"errors {p.errors}")
        if p.unexpected:
            notes.append(f"unexpected frames {p.unexpected}")
        if p.bad_receipts:
            notes.append(f"bad receipts {p.bad_receipts[:3]}")
        if p.receipts_on:
            notes.append(f"receipt backlog max {p.receipt_backlog_max}")
        if p.held_s:
            notes.append(f"submitting paused by --max-receipt-backlog {p.held_s:.1f}s")
        if p.late_receipts:
            notes.append(f"late receipts (during unbind) {p.late_receipts}")
        if p.enquire_links:
            notes.append(f"enquire_link answered {p.enquire_links}")
        if p.closed_by_daemon:
            notes.append(f"sessions closed by the daemon {p.closed_by_daemon}")
        if p.unbind_failed:
            notes.append(f"unbind unanswered {p.unbind_failed}")
        if p.fatal:
            notes.append(f"worker failures {p.fatal}")
        if p.rss_samples_mb:
            notes.append(
                f"RSS during load min {fmt(p.rss_min_mb)} MB max {fmt(p.rss_max_mb)} MB"
                f" ({len(p.rss_samples_mb)} samples)"
            )
        print(f"{p.name}: " + "; ".join(notes))
    daemon = report.get("daemon", {})
    if daemon:
        print(
            f"daemon: pid {daemon.get('pid')}; CPU {fmt(daemon.get('cpu_s'), '.2f', ' s')} total;"
            f" peak RSS (VmHWM) {fmt(daemon.get('peak_rss_mb'), '.1f', ' MB')};"
            f" RSS at end {fmt(daemon.get('rss_end_mb'), '.1f', ' MB')};"
            f" log lines {daemon.get('log_levels', {})}; exit code {daemon.get('exit_code')}"
        )
    for p in phases:
        if len(p.rss_samples_mb) > 2:
            samples = " ".join(f"{x:.0f}" for x in p.rss_samples_mb)
            print(f"{p.name} RSS MB every {report['sample_interval']:g}s: {samples}")


# ------------------------------------------------------------------------------------ main


def parse_external(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        if host == "localhost":
            host = "127.0.0.1"
        if not ipaddress.ip_address(host).is_loopback:
            raise argparse.ArgumentTypeError("the benchmark runs on the loopback interface only")
        return host, int(port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected 127.0.0.1:PORT, got {value!r}") from exc


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="SMPP load generator and benchmark for smscd (see the module docstring).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--binds", type=positive, default=4, help="SMPP sessions")
    parser.add_argument("--window", type=positive, default=100, help="submit_sm outstanding/bind")
    parser.add_argument(
        "--messages", type=int, default=200_000, help="submit_sm in total (0: probe only)"
    )
    parser.add_argument(
        "--receipts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask for receipts (bind_transceiver) and wait for all of them",
    )
    parser.add_argument(
        "--duration-limit", type=float, default=120.0, help="seconds each phase may take"
    )
    parser.add_argument(
        "--workers", type=positive, default=1, help="load generator processes (binds spread)"
    )
    parser.add_argument(
        "--latency-probe",
        action="store_true",
        help="first run a probe: 1 bind, window 1, --probe-messages messages",
    )
    parser.add_argument("--probe-messages", type=positive, default=5000)
    parser.add_argument("--daemon-config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--external",
        type=parse_external,
        metavar="HOST:PORT",
        help="load a running daemon on the loopback instead of starting one",
    )
    parser.add_argument(
        "--daemon-pid", type=int, help="with --external: the daemon's pid, for CPU and RSS"
    )
    parser.add_argument(
        "--daemon-profile",
        type=Path,
        metavar="FILE",
        help="run the daemon under cProfile and write its stats here (slows it down)",
    )
    parser.add_argument(
        "--max-receipt-backlog",
        type=int,
        default=0,
        metavar="N",
        help="pause submitting while N accepted messages still wait for their receipt"
        " (0: never; models a client that keeps receipts current)",
    )
    parser.add_argument("--system-id", default="smppclient1")
    parser.add_argument("--password", default="password")
    parser.add_argument(
        "--verify-every", type=positive, default=1000, help="decode one receipt in this many"
    )
    parser.add_argument(
        "--sample-interval", type=float, default=2.0, help="seconds between RSS samples"
    )
    parser.add_argument(
        "--progress-interval", type=float, default=5.0, help="seconds between progress lines"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.messages < 0:
        raise SystemExit("--messages must be 0 or more")
    daemon: DaemonProcess | None = None
    pid: int | None = args.daemon_pid
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "sample_interval": args.sample_interval,
        "daemon_command": None,
        "target": None,
    }
    phases: list[PhaseResult] = []
    try:
        if args.external is not None:
            host, port = args.external
        else:
            daemon = bench_daemon(args.daemon_config, args.daemon_profile)
            report["daemon_command"] = " ".join(daemon.command)
            host, port = daemon.wait_ready(30)
            pid = daemon.pid
        report["target"] = f"{host}:{port}"
        if not args.quiet:
            print(f"smscd at {host}:{port} (pid {pid})", file=sys.stderr)
        rss_start = proc_memory_kb(pid).get("VmRSS") if pid else None
        common: dict[str, Any] = {
            "host": host,
            "port": port,
            "args": args,
            "daemon_pid": pid,
            "daemon": daemon,
        }
        if args.latency_probe:
            phases.append(
                run_phase(
                    "probe",
                    binds=1,
                    window=1,
                    messages=args.probe_messages,
                    receipts=args.receipts,
                    workers=1,
                    **common,
                )
            )
        if args.messages:
            phases.append(
                run_phase(
                    "load",
                    binds=args.binds,
                    window=args.window,
                    messages=args.messages,
                    receipts=args.receipts,
                    workers=args.workers,
                    **common,
                )
            )
        if pid:
            memory = proc_memory_kb(pid)
            report["daemon"] = {
                "pid": pid,
                "cpu_s": proc_cpu_seconds(pid),
                "rss_start_mb": rss_start / 1024 if rss_start else None,
                "peak_rss_mb": memory["VmHWM"] / 1024 if "VmHWM" in memory else None,
                "rss_end_mb": memory["VmRSS"] / 1024 if "VmRSS" in memory else None,
            }
    finally:
        if daemon is not None:
            exit_code = daemon.stop(30)
            info = report.setdefault("daemon", {"pid": daemon.pid})
            info["exit_code"] = exit_code
            info["log_levels"] = dict(daemon.levels)
            if exit_code != 0 or daemon.levels.keys() - {"info"}:
                info["log_tail"] = list(daemon.tail)[-20:]
    report["phases"] = [vars(p) for p in phases]
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, phases)
        tail = report.get("daemon", {}).get("log_tail")
        if tail:
            print("daemon log tail (warnings, errors or a bad exit):")
            for line in tail:
                print(f"  {line}")
    failed = any(not p.complete or p.errors or p.bad_receipts or p.fatal for p in phases)
    exit_code = report.get("daemon", {}).get("exit_code", 0)
    return 1 if failed or exit_code not in (0, None) else 0


if __name__ == "__main__":
    sys.exit(main())
