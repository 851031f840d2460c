"""Scenario files: every shipped example, every event kind, ordering, and precise errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from smscd.carriers.profile import HandsetState
from smscd.carriers.scenario import (
    ClockRate,
    HandsetChange,
    MaxAgeChange,
    MobileOriginated,
    Scenario,
    load_scenario,
    parse_scenario,
)
from smscd.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "simulator" / "scenarios").glob("*.toml"))


def test_several_examples_ship() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_parses(path: Path) -> None:
    scenario = load_scenario(path)
    # The name is what logs show; keeping it equal to the file name makes it findable.
    assert scenario.name == path.stem
    assert scenario.description.strip()
    assert scenario.events
    assert [e.at for e in scenario.events] == sorted(e.at for e in scenario.events)
    # Each example documents the format at its top, so it can be copied as a starting point.
    assert "Scenario file format" in path.read_text("utf-8")


def test_stop_opt_out_sends_stop_to_72000_at_ten_minutes() -> None:
    scenario = load_scenario(REPO / "simulator" / "scenarios" / "stop-opt-out.toml")
    assert MobileOriginated(at=600.0, source="46700000002", destination="72000", text="STOP") in (
        scenario.events
    )


EVERY_KIND = """
name = "all"
description = "every event kind"

[[events]]
at = "0s"
handset = "46700000001"
state = "offline"

[[events]]
at = 30
handset = "4670*"
state = "no_coverage"
until = "2h"

[[events]]
at = "1m"
handset = "+46700000002"
state = "barred"
for = "1d"

[[events]]
at = "100ms"
handset = "4672?"
max_message_age = "12h"

[[events]]
at = "10m"
handset = "46700000003"
max_message_age = ""

[[events]]
at = "10m"
mo = { from = "46700000002", to = "72000", text = "STOP" }

[[events]]
at = "1h"
mo = { from = "+46700000004", to = "72000", text = "Hej 🙂", data_coding = 8 }

[[events]]
at = "1h"
clock_rate = 60

[[events]]
at = "2d"
clock_rate = 0
"""


def test_every_event_kind() -> None:
    assert parse_scenario(EVERY_KIND) == Scenario(
        name="all",
        description="every event kind",
        events=(
            HandsetChange(at=0.0, pattern="46700000001", state=HandsetState.OFFLINE),
            MaxAgeChange(at=0.1, pattern="4672?", max_message_age=12 * 3600.0),
            HandsetChange(at=30.0, pattern="4670*", state=HandsetState.NO_COVERAGE, until=7200.0),
            HandsetChange(
                at=60.0, pattern="+46700000002", state=HandsetState.BARRED, until=60.0 + 86400
            ),
            MaxAgeChange(at=600.0, pattern="46700000003", max_message_age=None),
            MobileOriginated(at=600.0, source="46700000002", destination="72000", text="STOP"),
            MobileOriginated(
                at=3600.0,
                source="+46700000004",
                destination="72000",
                text="Hej 🙂",
                data_coding=8,
            ),
            ClockRate(at=3600.0, rate=60.0),
            ClockRate(at=2 * 86400.0, rate=0.0),
        ),
    )


@pytest.mark.parametrize("state", list(HandsetState))
def test_every_handset_state(state: HandsetState) -> None:
    text = f'name = "s"\n[[events]]\nat = 0\nhandset = "1"\nstate = "{state.value}"\n'
    assert parse_scenario(text).events == (HandsetChange(at=0.0, pattern="1", state=state),)


def test_sorted_by_time_and_stable_for_ties() -> None:
    events = "".join(
        f'[[events]]\nat = {at}\nmo = {{ from = "1", to = "2", text = "{text}" }}\n'
        for at, text in [('"2h"', "d"), ('"1m"', "a"), ('"60s"', "b"), (60, "c"), (0, "first")]
    )
    scenario = parse_scenario(f'name = "order"\n{events}')
    assert [e.text for e in scenario.events if isinstance(e, MobileOriginated)] == [
        "first",
        "a",
        "b",
        "c",
        "d",
    ]
    assert scenario.description == ""


HEAD = 'name = "broken"\n'
EVENT = '[[events]]\nat = "0s"\nhandset = "1"\nstate = "offline"\n'


@pytest.mark.parametrize(
    ("text", "key", "line", "reason"),
    [
        ('nme = "x"\n' + EVENT, "nme", 1, "unknown key"),
        (EVENT, "name", None, "required"),
        ("name = 1\n" + EVENT, "name", 1, "non-empty string"),
        (HEAD + "description = 3\n" + EVENT, "description", 2, "must be a string"),
        (HEAD, "events", None, "at least one"),
        (HEAD + "events = 3\n", "events", 2, "array of tables"),
        (
            HEAD + EVENT + '[[events]]\nat = "1s"\nhandest = "1"\n',
            "events[1].handest",
            8,
            "unknown",
        ),
        (HEAD + EVENT + EVENT.replace("offline", "asleep"), "events[1].state", 9, "must be one of"),
        (HEAD + '[[events]]\nhandset = "1"\nstate = "online"\n', "events[0].at", 2, "required"),
        (HEAD + "[[events]]\nat = -5\nclock_rate = 1\n", "events[0].at", 3, ">= 0"),
        (HEAD + '[[events]]\nat = "-5m"\nclock_rate = 1\n', "events[0].at", 3, "not a duration"),
        (HEAD + '[[events]]\nat = "soon"\nclock_rate = 1\n', "events[0].at", 3, "not a duration"),
        (
            HEAD + EVENT + "clock_rate = 2\n",
            "events[0].clock_rate",
            6,
            "exactly one of state, max_message_age, mo, clock_rate (found state and clock_rate)",
        ),
        (
            HEAD + '[[events]]\nat = 0\nhandset = "1"\nstate = "online"\nmax_message_age = "1h"\n',
            "events[0].max_message_age",
            6,
            "exactly one",
        ),
        (HEAD + '[[events]]\nat = 0\nhandset = "1"\n', "events[0]", 2, "(found none)"),
        (HEAD + '[[events]]\nat = 0\nstate = "offline"\n', "events[0].handset", 2, "required"),
        (
            HEAD + '[[events]]\nat = 0\nhandset = "1"\nclock_rate = 2\n',
            "events[0].handset",
            4,
            "does not go with clock_rate",
        ),
        (
            HEAD + '[[events]]\nat = 0\nhandset = "1"\nmax_message_age = "1h"\nfor = "1h"\n',
            "events[0].for",
            6,
            "does not go with max_message_age",
        ),
        (HEAD + EVENT + 'until = "1h"\nfor = "1h"\n', "events[0].for", 7, "not both"),
        (
            HEAD + '[[events]]\nat = "1h"\nhandset = "1"\nstate = "offline"\nuntil = "1h"\n',
            "events[0].until",
            6,
            "after at",
        ),
        (HEAD + EVENT + 'for = "0s"\n', "events[0].for", 6, "> 0"),
        (
            HEAD + '[[events]]\nat = 0\nhandset = "CEO"\nstate = "offline"\n',
            "events[0].handset",
            4,
            "glob",
        ),
        (
            HEAD + '[[events]]\nat = 0\nhandset = "1"\nmax_message_age = "old"\n',
            "events[0].max_message_age",
            5,
            "duration",
        ),
        (HEAD + "[[events]]\nat = 0\nclock_rate = -1\n", "events[0].clock_rate", 4, ">= 0"),
        (HEAD + '[[events]]\nat = 0\nmo = "STOP"\n', "events[0].mo", 4, "must be a table"),
        (
            HEAD + '[[events]]\nat = 0\nmo = { to = "72000", text = "STOP" }\n',
            "events[0].mo.from",
            4,
            "required",
        ),
        (
            HEAD + '[[events]]\nat = 0\nmo = { from = "1", to = "Bank", text = "STOP" }\n',
            "events[0].mo.to",
            4,
            "alphanumeric sender",
        ),
        (
            HEAD + '[[events]]\nat = 0\nmo = { from = "1", to = "2", text = "" }\n',
            "events[0].mo.text",
            4,
            "non-empty",
        ),
        (
            HEAD + '[[events]]\nat = 0\nmo = { from = "1", to = "2", text = "a", coding = 8 }\n',
            "events[0].mo.coding",
            4,
            "unknown key",
        ),
        (
            HEAD
            + '[[events]]\nat = 0\nmo = { from = "1", to = "2", text = "a", data_coding = 256 }\n',
            "events[0].mo.data_coding",
            4,
            "0..255",
        ),
        (HEAD + "[[events]\n", "", 2, "invalid TOML"),
    ],
)
def test_errors_name_file_key_line_reason(
    tmp_path: Path, text: str, key: str, line: int | None, reason: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    error = caught.value
    assert (error.source, error.key, error.line) == (str(path), key, line)
    assert reason in error.reason
    where = str(path) if line is None else f"{path}:{line}"
    assert str(error).startswith(f"{where}: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")


def test_scenario_is_held_pure_by_the_layering_check() -> None:
    spec = importlib.util.spec_from_file_location(
        "check_layers", REPO / "scripts" / "check_layers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PURE["carriers/scenario.py"] == "L1"
    assert not [p for p in module.check() if "scenario" in p]
