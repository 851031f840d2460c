"""Plays a scenario (`smscd.carriers.scenario`) on the daemon's simulation clock.

Handset changes are handed to the carrier models up front as dated rules: the model already
knows future state changes, so a clock advanced over them in one jump still sees each change
at its exact simulation time, in order with the messages it affects; the player only logs
each (``scenario_handset``) when simulation time reaches it. MO messages and clock rate
changes are actions, played when simulation time reaches them. ``scenario_finished`` is
logged once the last event is behind, and the last state given for a while has ended.

Progress. With a durable store the daemon keeps a ``ScenarioProgress`` (which timeline, when
it started, how many events are behind it) and a restart with the same timeline goes on where
the last run stopped: events already played are not played again (an MO sent twice would be a
message the handset never sent), the handset rules are already in the carriers' saved state,
and the rest keep their times from the original start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import attrs
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


@attrs.frozen
class ScenarioProgress:
    """How far a scenario has been played.

    Attributes:
        digest: ``scenario_digest`` of the timeline played.
        start: the simulation time its offsets count from.
        played: how many of its events (in timeline order) are behind it.
    """

    digest: str
    start: float
    played: int

    def dumps(self) -> str:
        return json.dumps({"digest": self.digest, "start": self.start, "played": self.played})

    @classmethod
    def loads(cls, text: str | None) -> ScenarioProgress | None:
        """The progress saved by ``dumps``; None when there is none or it is unreadable."""
        if text is None:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["digest"]), float(data["start"]), int(data["played"]))
        except (ValueError, KeyError, TypeError):
            log.warning("scenario_progress_unreadable", progress=text[:100])
            return None


def scenario_digest(scenario: Scenario) -> str:
    """What identifies a timeline across restarts: the SHA-256 of the parsed scenario's repr,
    not of the file's octets, so that an edit that changes no event (a comment, spacing)
    still resumes."""
    return hashlib.sha256(repr(scenario).encode()).hexdigest()


async def play_scenario(
    scenario: Scenario,
    time: SimulationTime,
    carriers: Sequence[SimulatedCarrier],
    router: Router,
    *,
    resume: ScenarioProgress | None = None,
    on_progress: Callable[[ScenarioProgress], None] | None = None,
) -> None:
    """Run the scenario to its last event, then return.

    Args:
        resume: the progress of an earlier run; taken up when it is of this timeline
            (``scenario_digest``), otherwise the scenario starts now.
        on_progress: called with the progress once the handset rules are scheduled and
            after each event played, to be saved with the same batch as what it did.
    """
    total = len(scenario.events)
    digest = scenario_digest(scenario)
    if resume is not None and resume.digest == digest:
        start, played = resume.start, resume.played
        log.info(
            "scenario_resumed", scenario=scenario.name, events=total, played=played, start=start
        )
    else:
        start, played = time.now(), 0
        log.info("scenario_started", scenario=scenario.name, events=total)
        schedule_handsets(scenario, start, carriers)
    if on_progress is not None:
        on_progress(ScenarioProgress(digest, start, played))
    for index in range(played, total):
        event = scenario.events[index]
        await time.sleep_until(start + event.at)
        if isinstance(event, HandsetChange | MaxAgeChange):
            _announce(scenario, index, event)
        else:
            _play(scenario, index, event, time, router)
        if on_progress is not None:
            on_progress(ScenarioProgress(digest, start, index + 1))
    # A state given for a while ("for", "until") is part of the timeline until it ends.
    ends = [
        start + event.until
        for event in scenario.events
        if isinstance(event, HandsetChange) and event.until is not None
    ]
    if ends:
        await time.sleep_until(max(ends))
    log.info("scenario_finished", scenario=scenario.name)


def _announce(scenario: Scenario, index: int, event: HandsetChange | MaxAgeChange) -> None:
    """Log a handset change as it takes effect. The carriers have had it as a dated rule
    since the start (``schedule_handsets``): a clock jump over it changes nothing here."""
    change: dict[str, object] = (
        {"state": event.state.value, "until": event.until}
        if isinstance(event, HandsetChange)
        else {"max_message_age": event.max_message_age}
    )
    log.info(
        "scenario_handset",
        scenario=scenario.name,
        event_index=index,
        handset=event.pattern,
        **change,
    )


def _play(
    scenario: Scenario,
    index: int,
    event: MobileOriginated | ClockRate,
    time: SimulationTime,
    router: Router,
) -> None:
    if isinstance(event, MobileOriginated):
        try:
            router.inject_mo(event.source, event.destination, event.text, event.data_coding)
        except MoError as exc:
            # A scenario written for another account set-up: say so, keep playing.
            log.warning(
                "scenario_mo_refused", scenario=scenario.name, event_index=index, reason=exc.reason
            )
    else:
        time.set_rate(event.rate)
        log.info("scenario_clock_rate", scenario=scenario.name, rate=event.rate)
