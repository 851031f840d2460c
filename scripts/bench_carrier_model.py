"""Time the pure carrier model on its worst everyday case and print the figures.

100,000 messages are queued for switched-off handsets (the default profile: retries at 5 m,
15 m, 30 m, 1 h, 2 h, 4 h, 8 h, then every 12 h; 72 h validity). Simulation time is then
advanced 72 hours, in one call and in one-minute steps (as a daemon woken by a clock would),
until every message has expired. A third run switches each phone back on at a random moment
of the 72 hours (100,000 exact handset rules; most messages are delivered after retries).
Printed: accept time (including the rules), advance time, transitions reported, and the
tracemalloc peak (measured in a separate run, since tracing slows Python down).

Usage: .venv/bin/python scripts/bench_carrier_model.py [--messages N]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from smscd.carriers.model import CarrierModel
from smscd.carriers.profile import HandsetState, default_profile

T0 = 1_800_000_000.0
HOURS_72 = 72 * 3600.0


def run(messages: int, step: float | None, *, comeback: bool = False) -> tuple[float, float, int]:
    model = CarrierModel(default_profile(), random.Random(1))
    started = time.perf_counter()
    if comeback:
        # Each phone is switched off until a random moment of the 72 hours (one exact rule a
        # number), so most messages are delivered after several scheduled attempts.
        rng = random.Random(2)
        for index in range(messages):
            until = T0 + rng.uniform(0, HOURS_72)
            model.set_handset(f"4670{index:07d}", HandsetState.OFFLINE, T0, until)
    else:
        model.set_handset("4670*", HandsetState.OFFLINE, T0)
    for index in range(messages):
        # Spread over the first minute of traffic, one number each.
        model.accept(str(index), f"4670{index:07d}", "hello", T0 + index * 60.0 / messages)
    accepted = time.perf_counter()
    transitions = 0
    if step is None:
        transitions += len(model.advance(T0 + HOURS_72 + 60))
    else:
        now = T0
        while now < T0 + HOURS_72 + 60:
            now += step
            transitions += len(model.advance(now))
    finished = time.perf_counter()
    assert len(model) == 0, "every message should have ended"
    assert transitions >= 4 * messages  # (103, 110), 111, 112, then 202 or 113 and 201
    return accepted - started, finished - accepted, transitions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    n = args.messages
    schedule = default_profile().retry_schedule
    attempts = 1
    elapsed = schedule[0]
    while elapsed < HOURS_72:
        attempts += 1
        elapsed += schedule[min(attempts - 1, len(schedule) - 1)]
    print(f"{n} messages to offline handsets, ~{attempts} delivery attempts each over 72 h")
    cases = (
        ("one advance(72h)", None, False),
        ("advance every 60 s", 60.0, False),
        ("phones come back", 60.0, True),
    )
    for label, step, comeback in cases:
        accept, advance, transitions = run(n, step, comeback=comeback)
        print(
            f"{label:>20}: accept {accept:.2f} s ({accept / n * 1e6:.1f} us/msg), "
            f"advance {advance:.2f} s, {transitions} transitions"
        )
    tracemalloc.start()
    run(n, None)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"tracemalloc peak: {peak / 2**20:.1f} MiB ({peak / n:.0f} bytes/message)")


if __name__ == "__main__":
    main()
