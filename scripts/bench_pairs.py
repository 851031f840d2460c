"""Compare two daemon configurations in interleaved pairs of `bench.py` runs.

This machine's speed drifts by ±20 % between runs of the same build (it is shared), so one
run of each configuration says little about their ratio. Running them in pairs, one right
after the other, and comparing each pair's throughput and daemon CPU per message gives ratios
that drift much less than the figures themselves.

For each pair it prints both submit rates and the daemon's CPU time per message, then the
ratio of the rates and of the CPU costs; at the end, the median and range of each ratio.
The default compares the carrier simulator with the core (issue 3's bar: the simulator's rate
within 20 % of the core's, i.e. a ratio of 0.80 or more).

``--rev-a``/``--rev-b`` run that side's daemon from another git revision instead of this
tree: the revision is checked out in a temporary worktree and put first on the daemon's
PYTHONPATH (the load generator and the configuration files stay this tree's). This is how a
change is measured against the build before it, e.g. ``--config-a X --config-b X --rev-b
HEAD~1``.

Usage: .venv/bin/python scripts/bench_pairs.py [--pairs N] [--messages N]
           [--config-a FILE] [--config-b FILE] [--rev-a REV] [--rev-b REV]
           [bench.py options after --]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@contextlib.contextmanager
def sources(rev: str | None) -> Iterator[Path | None]:
    """The ``src`` directory of ``rev`` in a temporary git worktree, or None for this tree."""
    if rev is None:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="bench-pairs-")) / "tree"
    git = ["git", "-C", str(REPO), "worktree"]
    subprocess.run([*git, "add", "--detach", str(path), rev], check=True, capture_output=True)
    try:
        yield path / "src"
    finally:
        subprocess.run([*git, "remove", "--force", str(path)], check=False, capture_output=True)


def run(config: Path, messages: int, extra: list[str], src: Path | None) -> tuple[float, float]:
    """One bench.py run: (submit_sm/s, daemon CPU µs per message)."""
    command = [sys.executable, str(HERE / "bench.py"), "--json", "--quiet"]
    command += ["--daemon-config", str(config), "--messages", str(messages)]
    command += ["--max-receipt-backlog", "10000", *extra]
    env = None if src is None else {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    phase = json.loads(result.stdout)["phases"][-1]
    if not phase["complete"]:
        sys.exit(f"{config.name}: the run did not complete: {phase}")
    return phase["submit_rate"], phase["daemon_cpu_s"] / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--config-a", type=Path, default=HERE / "bench_simulator.toml")
    parser.add_argument("--config-b", type=Path, default=HERE / "bench.toml")
    parser.add_argument("--rev-a", help="run side a's daemon from this git revision")
    parser.add_argument("--rev-b", help="run side b's daemon from this git revision")
    parser.add_argument("extra", nargs="*", help="more bench.py options (after --)")
    args = parser.parse_args()
    with sources(args.rev_a) as src_a, sources(args.rev_b) as src_b:
        compare(args, src_a, src_b)


def compare(args: argparse.Namespace, src_a: Path | None, src_b: Path | None) -> None:
    a = args.config_a.name + (f"@{args.rev_a}" if args.rev_a else "")
    b = args.config_b.name + (f"@{args.rev_b}" if args.rev_b else "")
    print(f"{'pair':>4} {a:>24} {b:>24}   rate a/b   cost b/a")
    rate_ratios: list[float] = []
    cost_ratios: list[float] = []
    for pair in range(1, args.pairs + 1):
        rate_a, cost_a = run(args.config_a, args.messages, args.extra, src_a)
        rate_b, cost_b = run(args.config_b, args.messages, args.extra, src_b)
        rate_ratios.append(rate_a / rate_b)
        cost_ratios.append(cost_b / cost_a)
        print(
            f"{pair:>4} {rate_a:>9,.0f}/s {cost_a:>6.1f} µs/msg"
            f" {rate_b:>9,.0f}/s {cost_b:>6.1f} µs/msg"
            f"   {rate_ratios[-1]:8.2f}   {cost_ratios[-1]:8.2f}",
            flush=True,
        )
    for name, ratios in (("rate a/b", rate_ratios), ("cost b/a", cost_ratios)):
        print(
            f"{name}: median {statistics.median(ratios):.2f},"
            f" range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} pairs"
        )


if __name__ == "__main__":
    main()
