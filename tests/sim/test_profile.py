"""Carrier profiles: the default, every key, and errors naming file, key, line and reason."""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from smscd.carriers.profile import (
    Distribution,
    HandsetRule,
    HandsetState,
    Latency,
    Profile,
    default_profile,
    default_profile_text,
    load_profile,
    parse_profile,
)
from smscd.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
SIMULATOR_DEFAULT = REPO / "simulator" / "default.toml"


def test_default_profile_equals_package_copy_and_code_defaults() -> None:
    assert SIMULATOR_DEFAULT.read_text("utf-8") == default_profile_text()
    assert load_profile(SIMULATOR_DEFAULT) == default_profile() == Profile()


def test_default_profile_values() -> None:
    profile = default_profile()
    assert profile.default_validity == profile.max_validity == 72 * 3600
    assert dict(profile.outcomes) == {201: 1.0}
    assert profile.retry_schedule[0] == 300 and profile.retry_schedule[-1] == 12 * 3600
    assert profile.max_message_age is None
    assert profile.retry_alert is None  # attempts on the schedule only
    assert profile.serves("+46701234567")


def test_every_key(tmp_path: Path) -> None:
    text = """
name = "telia"
prefixes = ["4670", "4672"]
[latency.gateway]
kind = "fixed"
value = "1s"
[latency.carrier]
kind = "normal"
mean = 2
stddev = "500ms"
[latency.handset]
kind = "uniform"
low = 1
high = "3s"
[outcomes]
201 = 90
514 = 10
[retry]
schedule = ["1m", "2m"]
alert = "30s"
[validity]
default = "24h"
maximum = "3d"
[handset]
max_message_age = "12h"
reassembly_timeout = "10m"
[content]
banned_words = ["Casino", "jackpot"]
[[handsets]]
pattern = "4670000*"
state = "offline"
[[handsets]]
pattern = "46721111111"
max_message_age = "1h"
"""
    path = tmp_path / "telia.toml"
    path.write_text(text, "utf-8")
    profile = load_profile(path)
    assert profile.name == "telia"
    assert profile.serves("46701234567") and not profile.serves("4673")
    assert profile.latency.gateway == Distribution(kind="fixed", a=1.0)
    assert profile.latency.carrier == Distribution(kind="normal", a=2.0, b=0.5)
    assert profile.latency.handset == Distribution(kind="uniform", a=1.0, b=3.0)
    assert dict(profile.outcomes) == {201: 90.0, 514: 10.0}
    assert (profile.retry_schedule, profile.retry_alert) == ((60.0, 120.0), 30.0)
    assert (profile.default_validity, profile.max_validity) == (86400.0, 3 * 86400.0)
    assert profile.max_message_age == 12 * 3600
    assert profile.reassembly_timeout == 600
    assert profile.banned_words == {"casino", "jackpot"}
    assert profile.handsets == (
        HandsetRule(pattern="4670000*", state=HandsetState.OFFLINE),
        HandsetRule(pattern="46721111111", max_message_age=3600.0),
    )
    assert profile.validity_deadline(100.0, None) == 100.0 + 86400
    assert profile.validity_deadline(100.0, 200.0) == 200.0
    assert profile.validity_deadline(100.0, 1e9) == 100.0 + 3 * 86400


def test_missing_hop_keeps_its_default() -> None:
    profile = parse_profile('[latency.gateway]\nkind = "fixed"\nvalue = 0\n')
    assert profile.latency.carrier == Profile().latency.carrier


@pytest.mark.parametrize(
    ("text", "key", "line", "reason"),
    [
        ("nme = 1\n", "nme", 1, "unknown key"),
        ("name = 3\n", "name", 1, "non-empty string"),
        ('prefixes = ["+46"]\n', "prefixes", 1, "not a digit string"),
        ('[latency.radio]\nkind = "fixed"\n', "latency.radio", 1, "unknown hop"),
        ('[latency.gateway]\nkind = "gamma"\n', "latency.gateway.kind", 2, "must be one of"),
        ('[latency.gateway]\nkind = "uniform"\nlow = 1\n', "latency.gateway.high", 1, "required"),
        (
            '[latency.gateway]\nkind = "uniform"\nlow = 2\nhigh = 1\n',
            "latency.gateway.high",
            4,
            ">= low",
        ),
        ('[latency.gateway]\nkind = "fixed"\nvalue = "soon"\n', "latency.gateway.value", 3, "dur"),
        (
            '[latency.carrier]\nkind = "lognormal"\nmedian = 1\nsigma = -1\n',
            "latency.carrier.sigma",
            4,
            ">= 0",
        ),
        ('[latency.carrier]\nkind = "fixed"\nmean = 1\n', "latency.carrier.mean", 3, "unknown"),
        ("[outcomes]\n510 = 1\n", "outcomes.510", 2, "not an operator status code"),
        ("[outcomes]\nfoo = 1\n", "outcomes.foo", 2, "not an operator status code"),
        ("[outcomes]\n113 = 1\n", "outcomes.113", 2, "not a final code"),
        ("[outcomes]\n201 = -1\n", "outcomes.201", 2, ">= 0"),
        ("[outcomes]\n201 = 0\n", "outcomes", 1, "weight > 0"),
        ("[retry]\nschedule = []\n", "retry.schedule", 2, "non-empty list"),
        ('[retry]\nschedule = ["0s"]\n', "retry.schedule", 2, "> 0"),
        ('[retry]\nalert = "soon"\n', "retry.alert", 2, "duration"),
        ('[validity]\ndefault = "4d"\n', "validity.default", 2, "validity.maximum"),
        ('[handset]\nmax_message_age = "old"\n', "handset.max_message_age", 2, "duration"),
        ("[content]\nbanned_words = [1]\n", "content.banned_words", 2, "non-empty strings"),
        ('[[handsets]]\nstate = "offline"\n', "handsets[0].pattern", 1, "required"),
        (
            '[[handsets]]\npattern = "1"\n[[handsets]]\npattern = "2"\nstate = "asleep"\n',
            "handsets[1].state",
            5,
            "must be one of",
        ),
        ("handsets = 3\n", "handsets", 1, "array of tables"),
        ("[retry\n", "", 1, "invalid TOML"),
    ],
)
def test_errors_name_file_key_line_reason(
    tmp_path: Path, text: str, key: str, line: int, reason: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.source, error.key, error.line) == (str(path), key, line)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "distribution",
    [
        Distribution(kind="fixed", a=1.5),
        Distribution(kind="uniform", a=1.0, b=2.0),
        Distribution(kind="normal", a=0.1, b=5.0),
        Distribution(kind="lognormal", a=2.0, b=1.0),
        Distribution(kind="lognormal", a=0.0, b=1.0),
    ],
)
def test_distributions_never_negative_and_reproducible(distribution: Distribution) -> None:
    first = [distribution.sample(random.Random(7)) for _ in range(3)]
    rng = random.Random(7)
    samples = [distribution.sample(rng) for _ in range(2000)]
    assert min(samples) >= 0
    assert first[0] == samples[0]
    if distribution.kind == "uniform":
        assert min(samples) >= 1.0 and max(samples) <= 2.0
    if distribution.kind == "lognormal" and distribution.a:
        assert 1.5 < sorted(samples)[1000] < 2.5  # the median


def test_model_and_profile_are_pure() -> None:
    """They live in L2's folder but belong to L1 (DESIGN.md): no trio, time, I/O."""
    allowed = ("smscd.smpp", "smscd.sms", "smscd.status", "smscd.config", "smscd.carriers.profile")
    for name in ("model.py", "profile.py"):
        tree = ast.parse((REPO / "src" / "smscd" / "carriers" / name).read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"trio", "time", "socket", "structlog", "asyncio"}, module
                if top == "smscd":
                    assert module.startswith(allowed), module


@pytest.mark.parametrize(
    ("distribution", "reference"),
    [
        (Distribution(kind="fixed", a=1.5), lambda rng: 1.5),
        (Distribution(kind="uniform", a=1.0, b=2.0), lambda rng: rng.uniform(1.0, 2.0)),
        (
            Distribution(kind="normal", a=0.1, b=5.0),
            lambda rng: max(0.0, rng.normalvariate(0.1, 5.0)),
        ),
        (
            Distribution(kind="lognormal", a=2.0, b=1.0),
            lambda rng: math.exp(rng.gauss(math.log(2.0), 1.0)),
        ),
        (Distribution(kind="lognormal", a=0.0, b=1.0), lambda rng: 0.0),
    ],
)
def test_a_bound_sampler_draws_what_the_stdlib_formula_draws(
    distribution: Distribution, reference: Callable[[random.Random], float]
) -> None:
    """The simulator binds one sampler per hop (``sampler``); its draws, from the same seed,
    are those of the documented formula, so a seed gives the same latencies as before."""
    draw = distribution.sampler(random.Random(11))
    expected = random.Random(11)
    assert [draw() for _ in range(500)] == [reference(expected) for _ in range(500)]


@pytest.mark.parametrize(
    "latency",
    [
        Latency(),  # the default: uniform, then two lognormal hops drawn from one pair
        Latency(
            gateway=Distribution(kind="lognormal", a=0.1, b=0.3),
            carrier=Distribution(kind="lognormal", a=0.3, b=0.5),
            handset=Distribution(kind="lognormal", a=2.0, b=0.75),
        ),
        Latency(
            gateway=Distribution(kind="fixed", a=0.2),
            carrier=Distribution(kind="normal", a=0.3, b=0.1),
            handset=Distribution(kind="lognormal", a=2.0, b=0.75),
        ),
        Latency(
            gateway=Distribution(kind="uniform", a=0.0, b=1.0),
            carrier=Distribution(kind="lognormal", a=0.0, b=0.5),
            handset=Distribution(kind="lognormal", a=2.0, b=0.75),
        ),
    ],
)
@pytest.mark.parametrize("leftover_normal", [False, True])
def test_a_message_s_latencies_are_the_three_hop_samplers_in_turn(
    latency: Latency, leftover_normal: bool
) -> None:
    """``Latency.sampler`` draws one message's three latencies at once (the simulator does,
    at acceptance); they are exactly what the hops' own samplers draw called in turn, also
    when someone else's ``gauss()`` left its second normal behind."""
    ours, reference = random.Random(5), random.Random(5)
    if leftover_normal:
        ours.gauss()
        reference.gauss()
    draw = latency.sampler(ours)
    hops = [hop.sampler(reference) for hop in (latency.gateway, latency.carrier, latency.handset)]
    for _ in range(300):
        assert draw() == tuple(hop() for hop in hops)
