"""Plays a scenario (`smscd.carriers.scenario`) on the daemon's simulation clock.

Handset changes are handed to the carrier models up front as dated rules: the model already
knows future state changes, so a clock advanced over them in one jump still sees each change
at its exact simulation time, in order with the messages it affects. MO messages and clock
rate changes are actions, played when simulation time reaches them.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from smscd.carriers.scenario import (
    ClockRate,
    HandsetChange,
    MaxAgeChange,
    MobileOriginated,
    Scenario,
)
from smscd.carriers.simulated import SimulatedCarrier
from smscd.mo import MoError
from smscd.router import Router
from smscd.simtime import SimulationTime

log = structlog.get_logger("smscd.scenario")


def schedule_handsets(
    scenario: Scenario, start: float, carriers: Sequence[SimulatedCarrier]
) -> None:
    """Give every carrier simulator the scenario's handset changes, dated from `start`."""
    for event in scenario.events:
        for carrier in carriers:
            if isinstance(event, HandsetChange):
                until = None if event.until is None else start + event.until
                carrier.set_handset(event.pattern, event.state, start=start + event.at, until=until)
            elif isinstance(event, MaxAgeChange):
                carrier.set_max_age(event.pattern, event.max_message_age, start=start + event.at)


async def play_scenario(
    scenario: Scenario,
    time: SimulationTime,
    carriers: Sequence[SimulatedCarrier],
    router: Router,
) -> None:
    """Run the scenario from now to its last event, then return."""
    start = time.now()
    log.info("scenario_started", scenario=scenario.name, events=len(scenario.events))
    schedule_handsets(scenario, start, carriers)
    for index, event in enumerate(scenario.events):
        if isinstance(event, HandsetChange | MaxAgeChange):
            continue
        await time.sleep_until(start + event.at)
        if isinstance(event, MobileOriginated):
            try:
                router.inject_mo(event.source, event.destination, event.text, event.data_coding)
            except MoError as exc:
                # A scenario written for another account set-up: say so, keep playing.
                log.warning(
                    "scenario_mo_refused", scenario=scenario.name, event=index, reason=exc.reason
                )
        elif isinstance(event, ClockRate):
            time.set_rate(event.rate)
            log.info("scenario_clock_rate", scenario=scenario.name, rate=event.rate)
    log.info("scenario_finished", scenario=scenario.name)
