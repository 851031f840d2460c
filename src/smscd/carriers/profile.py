"""Carrier profiles: what a simulated operator network does, as a frozen tree loaded from TOML.

A profile says which numbers a carrier serves, how long each hop takes, how messages end, how
often an unreachable handset is retried, how long a message may live, and which content is
refused. ``simulator/default.toml`` documents every key; the same text ships as package data
(``default_profile.toml``) and a test keeps the two equal.

The loader follows ``smscd.config``: unknown keys are errors, durations are seconds or
``"30s"``/``"72h"`` strings, and every problem is one ``ConfigError`` naming the file, the
dotted key and, where it can be found, the line. It reuses that module's loader helpers
rather than a second copy of them.

Pure: stdlib, attrs and smscd L0/L1 only. Randomness comes from a ``random.Random`` the caller
seeds, so a run is reproducible.
"""

from __future__ import annotations

import enum
import importlib.resources
import math
import random
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal, TypeVar

import attrs

from smscd.config import (
    ConfigError,
    _BadValueError,
    _duration,
    _Loader,
    _number,
    _Parser,
    _Path,
    _positive_duration,
    _syntax_error,
)
from smscd.status import STATUS_CODES, is_final

__all__ = [
    "DEFAULT_PROFILE_RESOURCE",
    "Distribution",
    "HandsetRule",
    "HandsetState",
    "Latency",
    "Profile",
    "default_profile",
    "default_profile_text",
    "load_profile",
    "parse_profile",
]

#: The package-data copy of ``simulator/default.toml``.
DEFAULT_PROFILE_RESOURCE = "default_profile.toml"

DistributionKind = Literal["fixed", "uniform", "normal", "lognormal"]
_T = TypeVar("_T")


class HandsetState(enum.Enum):
    """What the network knows about a handset when a message is to be delivered to it.

    ``online`` takes the message; ``offline`` (switched off) and ``no_coverage`` keep it
    waiting at the carrier and retried; the other three end it at once:
    ``unknown_subscriber`` with 501 UnknownSubscriber, ``no_sms_subscription`` with
    410 MissingSmsSubscription and ``barred`` with 405 RecipientRejected (the operator's
    "the recipient is illegal": the network refuses the recipient, not the content; 406
    GenericRejected would hide that).
    """

    ONLINE = "online"
    OFFLINE = "offline"
    NO_COVERAGE = "no_coverage"
    UNKNOWN_SUBSCRIBER = "unknown_subscriber"
    NO_SMS_SUBSCRIPTION = "no_sms_subscription"
    BARRED = "barred"


@attrs.frozen(kw_only=True)
class Distribution:
    """A hop latency in seconds.

    Attributes:
        kind: ``fixed`` (``value``), ``uniform`` (``low``..``high``), ``normal`` (``mean``,
            ``stddev``, clamped at 0) or ``lognormal`` (``median``, ``sigma``: the median in
            seconds and the standard deviation of the logarithm, the usual long right tail).
        a: the first parameter (value, low, mean or median).
        b: the second (0, high, stddev or sigma).
    """

    kind: DistributionKind = "fixed"
    a: float = 0.0
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """Draws one latency (seconds, never negative) from ``rng``."""
        return self.sampler(rng)()

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """``sample`` bound to ``rng``, as one small function: the simulator draws three
        latencies a message, and the kind is decided here once instead of at each draw.
        Draws the same values as ``sample``."""
        a, b = self.a, self.b
        if self.kind == "fixed":
            return lambda: a
        if self.kind == "uniform":
            uniform, width = rng.random, b - a  # random.uniform's own formula
            return lambda: a + width * uniform()
        if self.kind == "normal":
            normal = rng.normalvariate
            return lambda: max(0.0, normal(a, b))
        if a == 0.0:
            return lambda: 0.0
        # exp(gauss) is lognormvariate at half the cost: gauss draws its normals in pairs.
        gauss, exp, mu = rng.gauss, math.exp, math.log(a)
        return lambda: exp(gauss(mu, b))


@attrs.frozen(kw_only=True)
class Latency:
    """``[latency.*]``: one distribution per hop.

    Attributes:
        gateway: 110 Sending → 111 DeliveredToGateway.
        carrier: 111 → 112 DeliveredToCarrier.
        handset: 113 DeliveredToGSM → 201 DeliveredToHandset.
    """

    gateway: Distribution = Distribution(kind="uniform", a=0.05, b=0.2)
    carrier: Distribution = Distribution(kind="lognormal", a=0.3, b=0.5)
    handset: Distribution = Distribution(kind="lognormal", a=2.0, b=0.75)

    def sampler(self, rng: random.Random) -> Callable[[], tuple[float, float, float]]:
        """A function drawing one message's (gateway, carrier, handset) latencies: the values
        the three hops' ``Distribution.sampler`` give when called in that order."""
        gateway = self.gateway.sampler(rng)
        carrier, handset = self.carrier, self.handset
        if not (
            carrier.kind == handset.kind == "lognormal"
            and carrier.a > 0.0
            and handset.a > 0.0
            and self.gateway.kind != "lognormal"
        ):
            draw_carrier, draw_handset = carrier.sampler(rng), handset.sampler(rng)
            return lambda: (gateway(), draw_carrier(), draw_handset())
        # Two lognormal hops after a gateway that does not use random.gauss: one pass of
        # gauss's Box-Muller gives both normals, as its two calls in a row would (the first
        # computes the pair and keeps the second for the next call), with half the calls.
        uniform, exp, log, sqrt, cos, sin = (
            rng.random,
            math.exp,
            math.log,
            math.sqrt,
            math.cos,
            math.sin,
        )
        mu_carrier, sigma_carrier = math.log(carrier.a), carrier.b
        mu_handset, sigma_handset = math.log(handset.a), handset.b
        two_pi = 2.0 * math.pi

        def draw() -> tuple[float, float, float]:
            at_gateway = gateway()
            if rng.gauss_next is not None:  # type: ignore[attr-defined]
                # A normal left over by someone else's gauss(): gauss would use it first.
                return (
                    at_gateway,
                    exp(rng.gauss(mu_carrier, sigma_carrier)),
                    exp(rng.gauss(mu_handset, sigma_handset)),
                )
            x2pi = uniform() * two_pi
            g2rad = sqrt(-2.0 * log(1.0 - uniform()))
            return (
                at_gateway,
                exp(mu_carrier + cos(x2pi) * g2rad * sigma_carrier),
                exp(mu_handset + sin(x2pi) * g2rad * sigma_handset),
            )

        return draw


@attrs.frozen(kw_only=True)
class HandsetRule:
    """``[[handsets]]``: a standing state for numbers matching ``pattern``.

    Attributes:
        pattern: an exact number (``"46701234567"``) or a glob (``"4670*"``, ``"46?0*"``).
        state: the handset state; None leaves the state alone (only sets the age limit).
        max_message_age: seconds; a message older than this when it reaches the phone is not
            taken (None: the profile's ``[handset] max_message_age``).
    """

    pattern: str
    state: HandsetState | None = None
    max_message_age: float | None = None


def _default_outcomes() -> Mapping[int, float]:
    return MappingProxyType({201: 1.0})


@attrs.frozen(kw_only=True)
class Profile:
    """A carrier profile. Durations are seconds; see ``simulator/default.toml``.

    The defaults here are the default profile's values (a test keeps them equal), so a key
    missing from a profile file means what the default profile says.

    Attributes:
        name: the carrier's name, for logs and routing.
        prefixes: the number prefixes it serves (digits, no ``+``); empty serves all.
        latency: per-hop latency distributions; a hop missing from ``[latency]`` keeps its
            default.
        outcomes: weights over final codes for an ordinary number whose handset is online.
        retry_schedule: delays between delivery attempts to an unreachable handset; the last
            one repeats.
        retry_alert: with a value, a waiting message also gets an attempt this long after its
            handset is back online (the network's alert, as an HLR alerts the SMSC when a
            phone re-attaches), when that comes before the next scheduled attempt; None
            (the default): attempts follow the schedule only.
        default_validity: the validity period when the ESME gives none (72 h, the seed's).
        max_validity: a longer requested validity period is cut to this.
        max_message_age: the handsets' own maximum message age, None for no limit.
        reassembly_timeout: how long a phone waits for the missing parts of a long message.
        banned_words: content rules; a message containing one (case-insensitive, whole word)
            ends with 404 ContentRejected.
        handsets: standing handset states by number pattern.
    """

    name: str = "default"
    prefixes: tuple[str, ...] = ()
    latency: Latency = Latency()
    outcomes: Mapping[int, float] = attrs.field(factory=_default_outcomes)
    retry_schedule: tuple[float, ...] = (
        300.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        14400.0,
        28800.0,
        43200.0,
    )
    retry_alert: float | None = None
    default_validity: float = 72 * 3600.0
    max_validity: float = 72 * 3600.0
    max_message_age: float | None = None
    reassembly_timeout: float = 3600.0
    banned_words: frozenset[str] = frozenset()
    handsets: tuple[HandsetRule, ...] = ()

    def serves(self, destination: str) -> bool:
        """Whether this carrier serves ``destination`` (a leading ``+`` is ignored)."""
        number = destination.removeprefix("+")
        return not self.prefixes or number.startswith(self.prefixes)

    def validity_deadline(self, submit_time: float, requested: float | None) -> float:
        """The simulation time a message expires at.

        Args:
            submit_time: when the message was accepted.
            requested: the ESME's validity_period as an absolute time (e.g. from
                ``smpp.timefmt.parse``), or None for the default.

        Returns:
            ``requested`` cut to ``max_validity`` after submission, or the default period.
        """
        if requested is None:
            return submit_time + self.default_validity
        return min(requested, submit_time + self.max_validity)


# ---------------------------------------------------------------------------------------------
# Loading

_KINDS: dict[str, tuple[str, str]] = {
    "fixed": ("value", ""),
    "uniform": ("low", "high"),
    "normal": ("mean", "stddev"),
    "lognormal": ("median", "sigma"),
}
_TOP_KEYS = (
    "name",
    "prefixes",
    "latency",
    "outcomes",
    "retry",
    "validity",
    "handset",
    "content",
    "handsets",
)
_HOPS = ("gateway", "carrier", "handset")


def _string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _BadValueError("must be a non-empty string")
    return value


def _prefixes(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _BadValueError('must be a list of digit strings such as ["4670", "4672"]')
    for item in value:
        if not isinstance(item, str) or not (item.isascii() and item.isdigit()):
            raise _BadValueError(f"{item!r} is not a digit string (write numbers without +)")
    return tuple(value)


def _schedule(value: object) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise _BadValueError('must be a non-empty list of durations such as ["5m", "1h"]')
    return tuple(_positive_duration(item) for item in value)


def _optional_duration(value: object) -> float | None:
    return None if value == "" else _positive_duration(value)


def _optional_delay(value: object) -> float | None:
    return None if value == "" else _duration(value)


def _words(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
        raise _BadValueError("must be a list of non-empty strings")
    return frozenset(str(word).casefold() for word in value)


def _handset_state(value: object) -> HandsetState:
    names = ", ".join(repr(s.value) for s in HandsetState)
    if not isinstance(value, str) or value not in HandsetState._value2member_map_:
        raise _BadValueError(f"must be one of {names}")
    return HandsetState(value)


class _DocumentLoader(_Loader):
    """``smscd.config``'s loader for a TOML document of its own kind (a profile, a scenario)."""

    def document(self, top_keys: tuple[str, ...]) -> dict[str, object]:
        """The parsed TOML, once every top-level key is known."""
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise _syntax_error(exc, self.source) from None
        for key in data:
            if key not in top_keys:
                raise self.error((key,), f"unknown key (known keys: {', '.join(top_keys)})")
        return data


def _load_document(path: Path, parse: Callable[[str, str], _T]) -> _T:
    """Reads ``path`` and parses it with ``parse(text, source)``; an unreadable file is a
    ``ConfigError`` with key ""."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", None, f"cannot read: {exc}", str(path)) from None
    return parse(text, str(path))


class _ProfileLoader(_DocumentLoader):
    def profile(self) -> Profile:
        data = self.document(_TOP_KEYS)
        simple: dict[str, _Parser] = {"name": _string, "prefixes": _prefixes}
        values = self.fields({k: v for k, v in data.items() if k in simple}, (), simple)
        values.update(self.sections(data))
        profile = Profile(**values)  # type: ignore[arg-type]
        if profile.default_validity > profile.max_validity:
            raise self.error(("validity", "default"), "must not exceed validity.maximum")
        return profile

    def sections(self, data: dict[str, object]) -> dict[str, object]:
        values: dict[str, object] = {}
        if "latency" in data:
            values["latency"] = self.latency(self.table(data["latency"], ("latency",)))
        if "outcomes" in data:
            values["outcomes"] = self.outcomes(self.table(data["outcomes"], ("outcomes",)))
        sections: dict[str, dict[str, tuple[str, _Parser]]] = {
            "retry": {
                "schedule": ("retry_schedule", _schedule),
                "alert": ("retry_alert", _optional_delay),
            },
            "validity": {
                "default": ("default_validity", _positive_duration),
                "maximum": ("max_validity", _positive_duration),
            },
            "handset": {
                "max_message_age": ("max_message_age", _optional_duration),
                "reassembly_timeout": ("reassembly_timeout", _positive_duration),
            },
            "content": {"banned_words": ("banned_words", _words)},
        }
        for section, keys in sections.items():
            if section in data:
                parsers = {key: parser for key, (_, parser) in keys.items()}
                parsed = self.fields(self.table(data[section], (section,)), (section,), parsers)
                values.update({keys[key][0]: value for key, value in parsed.items()})
        if "handsets" in data:
            values["handsets"] = self.handsets(data["handsets"])
        return values

    def latency(self, data: dict[str, object]) -> Latency:
        hops: dict[str, Distribution] = {}
        for hop, value in data.items():
            if hop not in _HOPS:
                raise self.error(("latency", hop), f"unknown hop (known hops: {', '.join(_HOPS)})")
            hops[hop] = self.distribution(self.table(value, ("latency", hop)), ("latency", hop))
        return Latency(**hops)

    def distribution(self, data: dict[str, object], path: _Path) -> Distribution:
        kind = data.get("kind")
        if kind not in _KINDS:
            raise self.error((*path, "kind"), f"must be one of {', '.join(map(repr, _KINDS))}")
        first, second = _KINDS[str(kind)]
        parsers: dict[str, _Parser] = {"kind": str, first: _duration}
        if second:
            parsers[second] = _number(0) if second == "sigma" else _duration
        values = self.fields(data, path, parsers)
        for key in (first, second):
            if key and key not in values:
                raise self.error((*path, key), f"is required for kind {kind!r}")
        a = float(values[first])  # type: ignore[arg-type]
        b = float(values[second]) if second else 0.0  # type: ignore[arg-type]
        if kind == "uniform" and b < a:
            raise self.error((*path, "high"), "must be >= low")
        return Distribution(kind=kind, a=a, b=b)  # type: ignore[arg-type]

    def outcomes(self, data: dict[str, object]) -> Mapping[int, float]:
        weights: dict[int, float] = {}
        for key, value in data.items():
            path = ("outcomes", key)
            code = int(key) if key.isascii() and key.isdigit() else None
            if code is None or code not in STATUS_CODES:
                raise self.error(path, "is not an operator status code (101-599)")
            if not is_final(code):
                raise self.error(path, f"{code} is not a final code (2xx, 4xx or 5xx)")
            weight = self.fields({key: value}, ("outcomes",), {key: _number(0)})[key]
            weights[code] = float(weight)  # type: ignore[arg-type]
        if not weights or sum(weights.values()) <= 0:
            raise self.error(("outcomes",), "needs at least one code with a weight > 0")
        return MappingProxyType(weights)

    def handsets(self, value: object) -> tuple[HandsetRule, ...]:
        if not isinstance(value, list):
            raise self.error(("handsets",), "must be an array of tables: [[handsets]]")
        parsers: dict[str, _Parser] = {
            "pattern": _string,
            "state": _handset_state,
            "max_message_age": _optional_duration,
        }
        rules: list[HandsetRule] = []
        for index, item in enumerate(value):
            path: _Path = ("handsets", index)
            values = self.fields(self.table(item, path), path, parsers)
            if "pattern" not in values:
                raise self.error((*path, "pattern"), "is required")
            rules.append(HandsetRule(**values))  # type: ignore[arg-type]
        return tuple(rules)


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parses and validates a carrier profile.

    Args:
        text: TOML text.
        source: where it came from (a path), named in errors.

    Raises:
        ConfigError: the first problem, with its source, dotted key, line and reason.
    """
    return _ProfileLoader(text, source).profile()


def load_profile(path: Path) -> Profile:
    """Loads a carrier profile file.

    Raises:
        ConfigError: when the file cannot be read (key "") or is invalid.
    """
    return _load_document(path, parse_profile)


def default_profile_text() -> str:
    """The embedded default profile (package data)."""
    files = importlib.resources.files("smscd.carriers")
    return files.joinpath(DEFAULT_PROFILE_RESOURCE).read_text("utf-8")


def default_profile() -> Profile:
    """The embedded default profile, parsed."""
    return parse_profile(default_profile_text(), "<default profile>")
