"""The scenario player on a paused simulation clock: when each event is said and done."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from structlog.testing import capture_logs

from smscd.carriers.scenario import parse_scenario
from smscd.mo import MoError
from smscd.router import Router
from smscd.scenario_player import play_scenario
from smscd.simtime import SimulationTime

HANDSETS_ONLY = """
name = "handsets"

[[events]]
at = "1m"
handset = "46700000001"
state = "offline"
for = "2h"

[[events]]
at = "10m"
handset = "4673*"
max_message_age = "1h"
"""


def said(logs: list[dict[str, Any]]) -> list[tuple[str, object]]:
    return [(entry["event"], entry.get("handset")) for entry in logs]


async def test_handset_changes_are_said_when_they_take_effect_and_end_the_timeline_with_them() -> (
    None
):
    """Only handset changes, which the carriers get up front as dated rules: the player still
    says each when simulation time reaches it, and finishes when the last state given for a
    while (here `for = "2h"`, from +1 min) has ended, not at once."""
    scenario = parse_scenario(HANDSETS_ONLY, "handsets.toml")
    time = SimulationTime(start=1_000_000.0, rate=0)
    router: Router = None  # type: ignore[assignment]  # handset events never reach it
    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(play_scenario, scenario, time, [], router)
            await trio.testing.wait_all_tasks_blocked()
            assert said(logs) == [("scenario_started", None)]
            time.advance(60)
            await trio.testing.wait_all_tasks_blocked()
            assert said(logs)[1:] == [("scenario_handset", "46700000001")]
            assert logs[1]["state"] == "offline" and logs[1]["until"] == 60 + 7200
            time.advance(540)
            await trio.testing.wait_all_tasks_blocked()
            assert said(logs)[2:] == [("scenario_handset", "4673*")]
            assert logs[2]["max_message_age"] == 3600
            time.advance(7200 - 600)  # +2 h: one minute before the offline period ends
            await trio.testing.wait_all_tasks_blocked()
            assert len(logs) == 3
            time.advance(60)
            await trio.testing.wait_all_tasks_blocked()
            assert said(logs)[3:] == [("scenario_finished", None)]
            assert [entry.get("event_index") for entry in logs[1:3]] == [0, 1]


class RefusingRouter:
    def inject_mo(self, source: str, destination: str, text: str, data_coding: int | None) -> None:
        raise MoError(f"no account owns {destination}", not_found=True)


async def test_a_refused_mo_is_logged_and_the_timeline_goes_on() -> None:
    scenario = parse_scenario(
        """name = "elsewhere"
[[events]]
at = "1s"
mo = { from = "46700000001", to = "5555", text = "hi" }
[[events]]
at = "2s"
clock_rate = 5
""",
        "elsewhere.toml",
    )
    time = SimulationTime(start=1_000_000.0, rate=0)
    router: Router = RefusingRouter()  # type: ignore[assignment]
    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(play_scenario, scenario, time, [], router)
            await trio.testing.wait_all_tasks_blocked()
            time.advance(2)
    events = [entry["event"] for entry in logs]
    assert events == [
        "scenario_started",
        "scenario_mo_refused",
        "scenario_clock_rate",
        "scenario_finished",
    ]
    assert logs[1]["event_index"] == 0 and "5555" in logs[1]["reason"]
    assert time.rate == 5
