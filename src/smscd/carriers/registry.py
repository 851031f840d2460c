"""Carriers by name: the built-in types, the ``smscd.carriers`` entry points, dotted paths.

A carrier type is a factory ``(CarrierConfig, CarrierEnvironment) -> Carrier``. The
``[[carriers]]`` table's own keys other than ``name`` and ``type`` reach the factory as
``config.options``; a factory rejects a bad option by raising ``ValueError`` (or ``KeyError``,
``TypeError``), which becomes a ``ConfigError`` naming the table, and the key when the message
starts with it followed by a colon (``"delay: must be a duration"``).

Third-party carriers register in their package metadata::

    [project.entry-points."smscd.carriers"]
    mycarrier = "mypackage.carrier:make_carrier"

or are named by path in the config: ``type = "mypackage.carrier:make_carrier"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

import attrs

from smscd.carriers.base import Carrier
from smscd.carriers.instant import InstantCarrier
from smscd.carriers.profile import Profile, default_profile, load_profile
from smscd.carriers.simulated import SimulatedCarrier
from smscd.config import CarrierConfig, Config, ConfigError, parse_duration
from smscd.simtime import SimulationTime

ENTRY_POINT_GROUP = "smscd.carriers"


@attrs.frozen
class CarrierEnvironment:
    """What a carrier may use from the daemon.

    Attributes:
        time: the simulation clock (carrier timing runs on it).
        rng: this carrier's random source, derived from the run's seed and the carrier's name,
            so adding a carrier does not change another's draws.
        delivery_delay: ``delivery.delay``, the instant carrier's default.
    """

    time: SimulationTime
    rng: random.Random
    delivery_delay: float


CarrierFactory = Callable[[CarrierConfig, CarrierEnvironment], Carrier]


def _options(config: CarrierConfig, known: tuple[str, ...]) -> Mapping[str, object]:
    for key in config.options:
        if key not in known:
            listed = ", ".join(("name", "type", *known))
            raise ValueError(f"{key}: unknown key for type {config.type!r} (known keys: {listed})")
    return config.options


def _profile(value: object) -> Profile:
    if not isinstance(value, str):
        raise ValueError("profile: must be a file path string")
    return default_profile() if value == "" else load_profile(Path(value))


def simulator_factory(config: CarrierConfig, env: CarrierEnvironment) -> Carrier:
    """The carrier simulator; option ``profile``: a profile file, "" for the built-in one."""
    options = _options(config, ("profile",))
    profile = _profile(options.get("profile", ""))
    return SimulatedCarrier(config.name, profile, env.rng, env.time)


def instant_factory(config: CarrierConfig, env: CarrierEnvironment) -> Carrier:
    """Delivers every message after a fixed real-time delay; option ``delay``."""
    options = _options(config, ("delay",))
    delay = env.delivery_delay
    if "delay" in options:
        try:
            delay = parse_duration(options["delay"])
        except ValueError as exc:
            raise ValueError(f"delay: {exc}") from None
    return InstantCarrier(delay)


BUILT_IN: Mapping[str, CarrierFactory] = {
    "simulator": simulator_factory,
    "instant": instant_factory,
}


def resolve(type_name: str) -> CarrierFactory:
    """The factory for a carrier type.

    Raises:
        LookupError: with a reason, when the type cannot be found or imported.
    """
    factory = BUILT_IN.get(type_name)
    if factory is not None:
        return factory
    if ":" not in type_name and "." not in type_name:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name == type_name:
                return cast(CarrierFactory, entry_point.load())
        known = ", ".join(
            [*BUILT_IN, *(e.name for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))]
        )
        raise LookupError(f"unknown carrier type {type_name!r} (known: {known})")
    module_name, _, attribute = (
        type_name.partition(":") if ":" in type_name else type_name.rpartition(".")
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import {module_name!r}: {exc}") from None
    found = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise LookupError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not callable(found):
        raise LookupError(f"{type_name!r} is not callable")
    return cast(CarrierFactory, found)


def seeded_rng(seed: int, carrier_name: str) -> random.Random:
    """A carrier's own random source: the run's seed and the carrier's name, hashed stably."""
    return random.Random(f"{seed}/{carrier_name}")


def build_carriers(config: Config, time: SimulationTime, seed: int) -> dict[str, Carrier]:
    """Builds every configured carrier, by name.

    Raises:
        ConfigError: naming ``carriers[i].type`` or the offending option, with its line.
    """
    carriers: dict[str, Carrier] = {}
    source = config.source
    for carrier in config.carriers:
        path = f"carriers[{carrier.index}]"
        try:
            factory = resolve(carrier.type)
        except LookupError as exc:
            line = carrier.lines.get("type")
            raise ConfigError(f"{path}.type", line, str(exc), source) from None
        env = CarrierEnvironment(
            time=time, rng=seeded_rng(seed, carrier.name), delivery_delay=config.delivery.delay
        )
        try:
            carriers[carrier.name] = factory(carrier, env)
        except ConfigError:
            raise  # a profile file's own error names its file, key and line
        except (ValueError, KeyError, TypeError) as exc:
            reason = str(exc.args[0]) if exc.args else type(exc).__name__
            key, sep, rest = reason.partition(": ")
            if sep and key in carrier.options:
                raise ConfigError(f"{path}.{key}", carrier.lines.get(key), rest, source) from None
            raise ConfigError(path, carrier.lines.get("name"), reason, source) from None
    return carriers
