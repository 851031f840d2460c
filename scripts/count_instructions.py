"""Count the CPU instructions one message costs on the daemon's hot paths, with callgrind.

Wall-clock benchmarks on a shared 2-core machine vary by 10-20 % between identical runs; an
instruction count does not, so it shows a change of a few per cent in the code. Each workload
runs in-process, with no sockets and no trio scheduling, N and then 6N messages under
``valgrind --tool=callgrind``; the difference divided by 5N is the cost of one message, start-up
cancelled out:

- ``router``: submit_sm accepted by the router (routing, text decoding, the message record,
  the memory store), the statuses of the ``instant`` carrier, the receipt built and put in
  the outbox, and its acknowledgement.
- ``session``: the SMSC side of the SMPP session and codec: a chunk of 100 submit_sm decoded,
  100 submit_sm_resp queued, 100 receipts (already encoded) sent, 100 deliver_sm_resp decoded.
- ``simulator``: ``router`` with the carrier simulator (default profile) in place of the
  instant carrier: the model's hops, latencies, handset inbox, and the statuses they report.

The daemon's cost per message is roughly router + session + the trio layer (not counted).

Usage: .venv/bin/python scripts/count_instructions.py [--messages N] [WORKLOAD ...]
       (needs valgrind; a run of the three takes about two minutes)
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

WORKLOADS = ("router", "session", "simulator")


def _submit_sm(sequence_number: int) -> Any:
    """The message every workload sends: GSM text from a sender ID, a receipt asked for."""
    from smscd.smpp.pdus import SubmitSm  # noqa: PLC0415

    return SubmitSm(
        sequence_number=sequence_number,
        source_addr="Acme",
        source_addr_ton=5,
        destination_addr="46700000001",
        dest_addr_ton=1,
        dest_addr_npi=1,
        registered_delivery=1,
        short_message=b"Hello world, this is message",
    )


def _router(messages: int, carrier_kind: str) -> None:
    from smscd.accounts import Accounts  # noqa: PLC0415 - imported in the measured child only
    from smscd.carriers.instant import _DELIVERY  # noqa: PLC0415
    from smscd.carriers.profile import default_profile_text, parse_profile  # noqa: PLC0415
    from smscd.carriers.simulated import SimulatedCarrier  # noqa: PLC0415
    from smscd.config import Account  # noqa: PLC0415
    from smscd.message import Message, MessageIdGenerator  # noqa: PLC0415
    from smscd.outbox import Outboxes  # noqa: PLC0415
    from smscd.router import Router  # noqa: PLC0415
    from smscd.sms.reassembly import Reassembler  # noqa: PLC0415
    from smscd.store.memory import MemoryStore  # noqa: PLC0415

    class Clock:
        now = 1_800_000_000.0

        def __call__(self) -> float:
            return self.now

        def poke(self) -> None:
            pass

    class Instant:
        name = "instant"

        def __init__(self) -> None:
            self.queued: list[str] = []

        def submit(self, message: Message) -> None:
            self.queued.append(message.message_id)

    clock = Clock()
    instant = Instant()
    simulated = None
    if carrier_kind == "simulator":
        profile = parse_profile(default_profile_text())
        simulated = SimulatedCarrier("simulator", profile, random.Random(1), clock)  # type: ignore[arg-type]
    router = Router(
        store=MemoryStore(3600, 100_000),
        carriers={"c": simulated if simulated is not None else instant},  # type: ignore[dict-item]
        accounts=Accounts([Account(system_id="acme", password="pw", max_queued=10**9)], now=0.0),
        outboxes=Outboxes(retry_delay=1.0),
        ids=MessageIdGenerator(10**15),
        sim_now=clock,
        reassembler=Reassembler(60.0),
    )
    pdu = _submit_sm(0)
    outbox = router.outboxes["acme"]
    for _ in range(messages // 100):
        for _ in range(100):
            router.submit("acme", pdu, 0.0)
        if simulated is None:
            for message_id in instant.queued:
                router.on_status(message_id, *_DELIVERY)
            instant.queued.clear()
        else:
            clock.now += 60.0
            while transitions := simulated.model.advance(clock.now, 2000):
                router.on_statuses(transitions)
        for item in outbox.take(1000):
            router.receipt_acknowledged(item)
    assert len(outbox) == 0


def _session(messages: int) -> None:
    from smscd.smpp.codec import EncodedRequest, encode, submit_response_frame  # noqa: PLC0415
    from smscd.smpp.pdus import BindTransceiver, DeliverSm, DeliverSmResp  # noqa: PLC0415
    from smscd.smpp.session import BindRequested, Role, Session, SessionConfig  # noqa: PLC0415

    session = Session(Role.SMSC, SessionConfig(window=100), 0.0)
    [bind] = session.receive_data(
        encode(BindTransceiver(sequence_number=1, system_id="a", password="b")), 0.0
    )
    assert isinstance(bind, BindRequested)
    session.answer_bind(bind.pdu, 0, "smscd")
    session.data_to_send()
    chunk = b"".join(encode(_submit_sm(n + 2)) for n in range(100))
    receipt = EncodedRequest.of(
        DeliverSm(
            source_addr="46700000001",
            destination_addr="Acme",
            esm_class=4,
            short_message=b"id:1795453364417043 sub:001 dlvrd:001 submit date:2701150800"
            b" done date:2701150801 stat:DELIVRD err:201 text:Hello world, this i",
        )
    )
    for _ in range(messages // 100):
        for event in session.receive_data(chunk, 1.0):
            sequence_number = event.pdu.sequence_number  # type: ignore[union-attr]
            session.send_response_frame(
                submit_response_frame(0x80000004, sequence_number, 0, "1795453364417043")
            )
        sent = [session.send_request(receipt, 1.0) for _ in range(100)]
        session.data_to_send()
        answers = b"".join(encode(DeliverSmResp(sequence_number=n)) for n in sent)
        assert len(session.receive_data(answers, 1.0)) == 100


RUNS: dict[str, Callable[[int], None]] = {
    "router": lambda n: _router(n, "instant"),
    "session": _session,
    "simulator": lambda n: _router(n, "simulator"),
}


def instructions(workload: str, messages: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--run", workload, "--messages", str(messages)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in result.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1].strip().replace(",", ""))
    sys.exit(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (all)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--run", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        RUNS[args.run](args.messages)
        return
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    for workload in args.workloads or WORKLOADS:
        small = instructions(workload, args.messages)
        large = instructions(workload, 6 * args.messages)
        per_message = (large - small) // (5 * args.messages)
        print(f"{workload:10} {per_message:9,} instructions a message", flush=True)


if __name__ == "__main__":
    main()
