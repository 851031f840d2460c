"""The configuration: a frozen attrs tree loaded from TOML.

One TOML file configures the daemon; ``conf/smscd.toml`` documents every key, and the embedded
``default.toml`` (package data) is used when no file is given. Both parse to the same
``Config``, and a test keeps them so.

Rules the loader enforces, because a simulator that silently ignores a typo wastes an
afternoon:

- unknown keys and tables are errors;
- every error is one ``ConfigError`` naming the key as a dotted path with list indices
  (``accounts[0].max_binds``) and, where it can be found, the line;
- durations are a number of seconds or a string with a unit: ``"100ms"``, ``"30s"``, ``"5m"``,
  ``"1h"``, ``"3d"``;
- listen addresses are ``"HOST:PORT"`` (``"[::1]:2775"`` for IPv6; port 0 picks a free port);
  ``""`` switches an optional listener off.

A key missing from a file takes the default written in this module, which is also what
``default.toml`` says. The exception is ``[[accounts]]``: a file must list at least one,
since defaults cannot be merged into a list and a daemon nobody can bind to is a mistake.
``[[carriers]]`` and ``[[routes]]`` default to the carrier simulator on its built-in profile
taking every destination; a file with one carrier and no routes routes everything to it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import importlib.resources
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import attrs

from smscd.smpp.constants import BindType, CommandStatus

__all__ = [
    "Account",
    "CarrierConfig",
    "Config",
    "ConfigError",
    "DeliveryConfig",
    "HttpConfig",
    "ListenAddress",
    "LogConfig",
    "RouteConfig",
    "RoutingConfig",
    "SimulationConfig",
    "SmppConfig",
    "StoreConfig",
    "TextConfig",
    "default_config_text",
    "default_store_path",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_listen_address",
    "walk_keys",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["auto", "json", "console"]

_T = TypeVar("_T")

_LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "json", "console")
_STORE_BACKENDS = ("sqlite", "memory")
_DURABILITY = ("full", "normal")
_STORE_WRITERS = ("process", "thread")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
# SMPP 3.4 §5.2.1/§5.2.2: system_id is a C-Octet String of 16 octets and password of 9,
# both counting the terminating NUL.
_MAX_SYSTEM_ID = 15
_MAX_PASSWORD = 8


class ConfigError(Exception):
    """A configuration problem, located as precisely as possible.

    Attributes:
        key: the dotted key path with list indices, e.g. ``accounts[0].max_binds``; "" for
            errors that concern no key (TOML syntax).
        line: the 1-based line in the source, or None when it cannot be found.
        reason: what is wrong, e.g. ``must be a positive integer``.
        source: where the text came from (a file path, ``<default>``, ``command line``).
    """

    def __init__(self, key: str, line: int | None, reason: str, source: str = "<config>") -> None:
        super().__init__(key, line, reason, source)
        self.key = key
        self.line = line
        self.reason = reason
        self.source = source

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"


class _BadValueError(Exception):
    """Raised by value parsers; the loader adds the key and line."""


# ---------------------------------------------------------------------------------------------
# Value types


@attrs.frozen
class ListenAddress:
    """A host and port to listen on; ``str()`` gives back the ``HOST:PORT`` form."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_listen_address(text: str) -> ListenAddress:
    """Parses ``HOST:PORT`` or ``[IPV6]:PORT``.

    Raises:
        ValueError: with a reason fit for a ``ConfigError``.
    """
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r} is not [IPV6]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {text!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r} is not HOST:PORT")
        if ":" in host:
            raise ValueError(f"{text!r}: write IPv6 addresses in brackets, e.g. [::1]:2775")
        if not _HOSTNAME.fullmatch(host):
            raise ValueError(f"{host!r} in {text!r} is not a host name or address")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"port {port!r} in {text!r} is not a number 0..65535")
    return ListenAddress(host, int(port))


def parse_duration(value: object) -> float:
    """Parses a duration: seconds as a number, or a string with a unit (ms, s, m, h, d).

    Returns:
        Seconds, >= 0.

    Raises:
        ValueError: with a reason fit for a ``ConfigError``.
    """
    if isinstance(value, bool):
        raise ValueError('must be a duration such as 30, "100ms", "5m" or "72h"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match is None:
            raise ValueError(
                f"{value!r} is not a duration: use a number of seconds or a number with a "
                'unit ms, s, m, h or d, e.g. "100ms", "72h"'
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError('must be a duration such as 30, "100ms", "5m" or "72h"')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"must be a finite duration >= 0, got {value!r}")
    return seconds


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _BadValueError(str(exc)) from None


def _positive_duration(value: object) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise _BadValueError("must be a duration > 0")
    return seconds


def _address(value: object) -> ListenAddress:
    if not isinstance(value, str):
        raise _BadValueError('must be a string "HOST:PORT"')
    try:
        return parse_listen_address(value)
    except ValueError as exc:
        raise _BadValueError(str(exc)) from None


def _optional_address(value: object) -> ListenAddress | None:
    if value == "":
        return None
    return _address(value)


def _integer(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadValueError(_integer_reason(minimum))
        if value < minimum:
            raise _BadValueError(_integer_reason(minimum))
        return value

    return parse


def _integer_reason(minimum: int) -> str:
    if minimum == 1:
        return "must be a positive integer"
    if minimum == 0:
        return "must be an integer >= 0"
    return f"must be an integer >= {minimum}"


def _number(minimum: float) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _BadValueError(f"must be a number >= {minimum:g}")
        if not math.isfinite(value) or value < minimum:
            raise _BadValueError(f"must be a finite number >= {minimum:g}")
        return float(value)

    return parse


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValueError("must be true or false")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise _BadValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return value.lower()

    return parse


def _optional_path(value: object) -> Path | None:
    if not isinstance(value, str):
        raise _BadValueError("must be a file path string")
    # Relative paths stay relative to the daemon's working directory, like the CLI's own.
    return Path(value) if value else None


def _seed(value: object) -> int | None:
    if value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadValueError('must be an integer >= 0, or "" for a random seed')
    return value


def _start_time(value: object) -> float | None:
    if value == "":
        return None
    if not isinstance(value, str):
        raise _BadValueError('must be an ISO 8601 time such as "2026-01-01T00:00:00Z", or ""')
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _BadValueError(
            f'{value!r} is not an ISO 8601 time such as "2026-01-01T00:00:00Z"'
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _digits(what: str, *, allow_empty: bool) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
            if allow_empty and value == "":
                return ""
            raise _BadValueError(f"must be a string of digits ({what})")
        return value

    return parse


def _virtual_numbers(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _BadValueError('must be a list of numbers, e.g. ["72000", "46700000000"]')
    parse = _digits("a long number or short code, without +", allow_empty=False)
    numbers = tuple(parse(item) for item in value)
    if len(set(numbers)) != len(numbers):
        raise _BadValueError("lists a number twice")
    return numbers


def _unroutable(value: object) -> int:
    # An operator code accepts the message and ends it with that code (a receipt says why);
    # an SMPP status name refuses the submit_sm itself.
    if isinstance(value, str):
        try:
            return CommandStatus[value.upper()]
        except KeyError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
        from smscd.status import STATUS_CODES  # noqa: PLC0415 - status imports nothing back

        if value in STATUS_CODES:
            return value
    raise _BadValueError(
        "must be an operator code 400..599 from the status table (e.g. 409) or an SMPP "
        'command_status name (e.g. "ESME_RINVDSTADR")'
    )


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _BadValueError("must be a name of letters, digits, '-' and '_'")
    return value


def _type_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadValueError(
            'must be "simulator", "instant", an entry point name of the smscd.carriers group '
            'or a dotted import path "package.module:factory"'
        )
    return value.strip()


def _c_octet_string(what: str, maximum: int, *, allow_empty: bool) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise _BadValueError("must be a string")
        if not value and not allow_empty:
            raise _BadValueError("must not be empty")
        if len(value) > maximum:
            raise _BadValueError(
                f"must be at most {maximum} characters (the SMPP 3.4 {what} limit)"
            )
        # It travels as an ASCII C-Octet String; anything else could never match a bind.
        if not (value.isascii() and value.isprintable()):
            raise _BadValueError("must be printable ASCII (it is sent as an SMPP C-Octet String)")
        return value

    return parse


def _bind_types(value: object) -> frozenset[BindType]:
    names = ", ".join(repr(t.name.lower()) for t in BindType)
    if not isinstance(value, list) or not value:
        raise _BadValueError(f"must be a non-empty list of {names}")
    result: set[BindType] = set()
    for item in value:
        if not isinstance(item, str) or item.upper() not in BindType.__members__:
            raise _BadValueError(f"{item!r} is not a bind type; use {names}")
        bind_type = BindType[item.upper()]
        if bind_type in result:
            raise _BadValueError(f"{item!r} is listed twice")
        result.add(bind_type)
    return frozenset(result)


def _networks(value: object) -> tuple[IPNetwork, ...]:
    if not isinstance(value, list) or not value:
        raise _BadValueError('must be a non-empty list of CIDR strings such as "10.0.0.0/8"')
    result: list[IPNetwork] = []
    for item in value:
        if not isinstance(item, str):
            raise _BadValueError(f"{item!r} is not a CIDR string")
        try:
            result.append(ipaddress.ip_network(item))
        except ValueError as exc:
            # ip_network is strict: "10.1.2.3/8" has host bits set. Say what was meant rather
            # than guess, since a wrong guess would widen who may bind.
            raise _BadValueError(f"{item!r} is not a network: {exc}") from None
    return tuple(result)


# ---------------------------------------------------------------------------------------------
# The tree. Every default here is also written in default.toml; a test keeps them equal.


@attrs.frozen(kw_only=True)
class SmppConfig:
    """``[smpp]``: the SMPP listeners and session limits (durations in seconds)."""

    listen: ListenAddress = ListenAddress("127.0.0.1", 2775)
    tls_listen: ListenAddress | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    system_id: str = "smscd"
    max_command_length: int = 65536
    window: int = 10
    response_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    session_init_timeout: float = 30.0
    inactivity_timeout: float = 300.0
    max_connections: int = 1000
    drain_timeout: float = 5.0
    pdu_timeout: float = 30.0
    bind_failure_limit: int = 10
    bind_lockout: float = 60.0


@attrs.frozen(kw_only=True)
class HttpConfig:
    """``[http]``: the HTTP API listener; ``listen`` None when switched off."""

    listen: ListenAddress | None = ListenAddress("127.0.0.1", 8775)


@attrs.frozen(kw_only=True)
class LogConfig:
    """``[log]``: level and output format."""

    level: LogLevel = "info"
    format: LogFormat = "auto"


@attrs.frozen(kw_only=True)
class TextConfig:
    """``[text]``: text handling."""

    gsm_default_is_latin1: bool = False
    concat_timeout: float = 300.0


@attrs.frozen(kw_only=True)
class DeliveryConfig:
    """``[delivery]``: the default carrier's timing (seconds)."""

    delay: float = 0.1
    receipt_retry: float = 10.0


@attrs.frozen(kw_only=True)
class StoreConfig:
    """``[store]``: where messages live and for how long after they are final.

    Attributes:
        backend: "sqlite" (durable) or "memory" (lost on exit; tests and load tests).
        path: the SQLite file; None for the user's data directory (``default_store_path``);
            ``:memory:`` for an SQLite database that lives as long as the process.
        durability: "full" (synchronous=FULL: survives power loss) or "normal"
            (synchronous=NORMAL: survives a crash of the process).
        writer: "process" (a child process writes the file, off the daemon's GIL) or
            "thread" (a worker thread of the daemon does). A ``:memory:`` path always uses
            the thread.
        batch_size: at most this many changes per transaction (group commit).
        batch_delay: how long changes nobody waits for (carrier statuses, receipts) wait for
            more before a commit; a waiting submit starts one at once when the writer is free.
        retention: how long final messages are kept (then purged).
        max_finished: how many final messages are kept in memory for queries.
    """

    backend: Literal["sqlite", "memory"] = "sqlite"
    path: Path | None = None
    durability: Literal["full", "normal"] = "full"
    writer: Literal["process", "thread"] = "process"
    batch_size: int = 1000
    batch_delay: float = 0.002
    retention: float = 7 * 86400.0
    max_finished: int = 100_000


def default_store_path() -> Path:
    """``$XDG_DATA_HOME/smscd/smscd.db``, or ``~/.local/share/smscd/smscd.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smscd" / "smscd.db"


@attrs.frozen(kw_only=True)
class SimulationConfig:
    """``[simulation]``: the simulation clock and the carrier simulator's randomness.

    Attributes:
        rate: simulated seconds per real second (``--time-scale``); 0 starts paused.
        seed: the seed of every random draw (``--seed``); None draws one and logs it.
        start: the simulation time at start-up (epoch seconds); None for the wall clock.
        scenario: a scenario file to play from start-up (``--scenario``).
    """

    rate: float = 1.0
    seed: int | None = None
    start: float | None = None
    scenario: Path | None = None


@attrs.frozen(kw_only=True)
class RoutingConfig:
    """``[routing]``: what routing does beside the routes table.

    Attributes:
        country_code: digits put in front of national (TON 2) numbers before matching.
        unroutable: for a destination no route matches, an operator code (4xx/5xx: the
            message is accepted and ends with it, e.g. 409 InvalidRecipient) or a
            ``CommandStatus`` (the submit_sm is refused with it).
    """

    country_code: str = ""
    unroutable: int = 409


@attrs.frozen(kw_only=True)
class CarrierConfig:
    """``[[carriers]]``: one carrier, by name, of a type; the table's other keys are its
    options, checked by the carrier type (``smscd.carriers.registry``).

    Attributes:
        name: what routes refer to.
        type: "simulator", "instant", an entry point of the ``smscd.carriers`` group, or a
            dotted path ``package.module:factory``.
        options: the other keys of the table, as written.
        lines: the line of each option key, for errors found when the carrier is built.
    """

    name: str
    type: str
    options: Mapping[str, object] = attrs.field(factory=dict)
    index: int = attrs.field(default=0, eq=False)
    lines: Mapping[str, int | None] = attrs.field(factory=dict, eq=False)


@attrs.frozen(kw_only=True)
class RouteConfig:
    """``[[routes]]``: destinations starting with ``prefix`` go to ``carrier``; ``account``
    limits the route to one system_id."""

    prefix: str = ""
    carrier: str
    account: str | None = None


_DEFAULT_CARRIERS = (CarrierConfig(name="simulator", type="simulator", options={"profile": ""}),)
_DEFAULT_ROUTES = (RouteConfig(prefix="", carrier="simulator"),)


_ALL_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("0.0.0.0/0"),
    ipaddress.ip_network("::/0"),
)
_ALL_BIND_TYPES = frozenset(BindType)


@attrs.frozen(kw_only=True)
class Account:
    """``[[accounts]]``: one ESME account.

    Attributes:
        system_id: the bind system_id (at most 15 characters).
        password: the bind password (at most 8 characters); never shown in repr.
        bind_types: the bind operations this account may use.
        max_binds: how many sessions may be bound at once.
        throughput: messages per second accepted, 0 for unlimited.
        burst: how many messages may arrive at once before throttling; defaults to
            ``throughput`` (at least 1).
        max_queued: messages accepted and not finished (not final, or final with its
            receipt not yet acknowledged) before ESME_RMSGQFUL.
        allowed_networks: client addresses that may bind.
        virtual_numbers: long numbers and short codes this account receives MO messages on.
    """

    system_id: str
    password: str = attrs.field(repr=False)
    bind_types: frozenset[BindType] = _ALL_BIND_TYPES
    max_binds: int = 10
    throughput: float = 0.0
    burst: float = attrs.field()
    max_queued: int = 10_000
    allowed_networks: tuple[IPNetwork, ...] = _ALL_NETWORKS
    virtual_numbers: tuple[str, ...] = ()

    @burst.default
    def _burst_default(self) -> float:
        # A bucket smaller than one message would never let one through.
        return max(self.throughput, 1.0)

    def check_password(self, password: str) -> bool:
        """Compares in constant time, so response timing does not reveal the password."""
        return hmac.compare_digest(self.password.encode(), password.encode())

    def allows_address(self, address: str) -> bool:
        """Whether a client at IP ``address`` may bind; an IPv4-mapped IPv6 address counts
        as IPv4 (dual-stack sockets report IPv4 clients that way). False if unparsable."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.allowed_networks)


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration."""

    smpp: SmppConfig = SmppConfig()
    http: HttpConfig = HttpConfig()
    log: LogConfig = LogConfig()
    text: TextConfig = TextConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    store: StoreConfig = StoreConfig()
    simulation: SimulationConfig = SimulationConfig()
    routing: RoutingConfig = RoutingConfig()
    accounts: tuple[Account, ...] = ()
    carriers: tuple[CarrierConfig, ...] = _DEFAULT_CARRIERS
    routes: tuple[RouteConfig, ...] = _DEFAULT_ROUTES
    # Where it was read from, for errors found after loading (e.g. building a carrier).
    source: str = attrs.field(default="<config>", eq=False)

    def account(self, system_id: str) -> Account | None:
        """The account with this system_id, or None."""
        return next((a for a in self.accounts if a.system_id == system_id), None)

    def with_overrides(
        self,
        *,
        smpp_listen: str | None = None,
        http_listen: str | None = None,
        log_level: str | None = None,
        log_format: str | None = None,
        time_scale: float | None = None,
        seed: int | None = None,
        scenario: str | None = None,
        store: str | None = None,
        source: str = "command line",
    ) -> Config:
        """Returns a copy with command-line values applied; None leaves a value alone.

        Values are validated exactly as in a file (``http_listen=""`` switches HTTP off).

        Raises:
            ConfigError: naming the key (e.g. ``smpp.listen``) with no line.
        """

        def check(key: str, parse: Callable[[object], _T], value: object) -> _T:
            try:
                return parse(value)
            except _BadValueError as exc:
                raise ConfigError(key, None, str(exc), source) from None

        smpp, http, log = self.smpp, self.http, self.log
        if smpp_listen is not None:
            smpp = attrs.evolve(smpp, listen=check("smpp.listen", _address, smpp_listen))
        if http_listen is not None:
            http = attrs.evolve(http, listen=check("http.listen", _optional_address, http_listen))
        if log_level is not None:
            level = cast(LogLevel, check("log.level", _choice(_LOG_LEVELS), log_level))
            log = attrs.evolve(log, level=level)
        if log_format is not None:
            fmt = cast(LogFormat, check("log.format", _choice(_LOG_FORMATS), log_format))
            log = attrs.evolve(log, format=fmt)
        simulation = self.simulation
        if time_scale is not None:
            simulation = attrs.evolve(
                simulation, rate=check("simulation.rate", _number(0.0), time_scale)
            )
        if seed is not None:
            simulation = attrs.evolve(simulation, seed=check("simulation.seed", _seed, seed))
        if scenario is not None:
            path = check("simulation.scenario", _optional_path, scenario)
            simulation = attrs.evolve(simulation, scenario=path)
        store_config = self.store
        if store is not None:
            # --store names an SQLite file (or :memory:), so it also selects that backend.
            path = check("store.path", _optional_path, store)
            store_config = attrs.evolve(store_config, backend="sqlite", path=path)
        return attrs.evolve(
            self, smpp=smpp, http=http, log=log, simulation=simulation, store=store_config
        )


# ---------------------------------------------------------------------------------------------
# Key tables: TOML key -> value parser. Names equal the attrs field names.

_Parser = Callable[[object], object]

_SECTIONS: dict[str, tuple[type[Any], dict[str, _Parser]]] = {
    "smpp": (
        SmppConfig,
        {
            "listen": _address,
            "tls_listen": _optional_address,
            "tls_cert": _optional_path,
            "tls_key": _optional_path,
            "system_id": _c_octet_string("system_id", _MAX_SYSTEM_ID, allow_empty=False),
            # 16 octets is the header alone; anything smaller could never frame a PDU.
            "max_command_length": _integer(16),
            "window": _integer(1),
            "response_timeout": _positive_duration,
            "enquire_link_interval": _duration,  # 0 switches the SMSC's enquire_link off
            "session_init_timeout": _positive_duration,
            "inactivity_timeout": _duration,  # 0 switches the inactivity timer off
            "max_connections": _integer(1),
            "drain_timeout": _duration,  # on SIGTERM: how long sessions get to unbind
            "pdu_timeout": _duration,  # 0 lets a PDU take for ever to arrive
            "bind_failure_limit": _integer(0),  # 0 switches the bind lock-out off
            "bind_lockout": _positive_duration,
        },
    ),
    "http": (HttpConfig, {"listen": _optional_address}),
    "log": (LogConfig, {"level": _choice(_LOG_LEVELS), "format": _choice(_LOG_FORMATS)}),
    "text": (
        TextConfig,
        {"gsm_default_is_latin1": _boolean, "concat_timeout": _positive_duration},
    ),
    "delivery": (DeliveryConfig, {"delay": _duration, "receipt_retry": _positive_duration}),
    "store": (
        StoreConfig,
        {
            "backend": _choice(_STORE_BACKENDS),
            "path": _optional_path,
            "durability": _choice(_DURABILITY),
            "writer": _choice(_STORE_WRITERS),
            "batch_size": _integer(1),
            "batch_delay": _duration,
            "retention": _duration,
            "max_finished": _integer(1),
        },
    ),
    "simulation": (
        SimulationConfig,
        {"rate": _number(0.0), "seed": _seed, "start": _start_time, "scenario": _optional_path},
    ),
    "routing": (
        RoutingConfig,
        {
            "country_code": _digits("the country calling code", allow_empty=True),
            "unroutable": _unroutable,
        },
    ),
}

_ACCOUNT_KEYS: dict[str, _Parser] = {
    "system_id": _c_octet_string("system_id", _MAX_SYSTEM_ID, allow_empty=False),
    "password": _c_octet_string("password", _MAX_PASSWORD, allow_empty=True),
    "bind_types": _bind_types,
    "max_binds": _integer(1),
    "throughput": _number(0.0),
    "burst": _number(1.0),
    "max_queued": _integer(1),
    "allowed_networks": _networks,
    "virtual_numbers": _virtual_numbers,
}
_ACCOUNT_REQUIRED = ("system_id", "password")

_CARRIER_KEYS: dict[str, _Parser] = {"name": _name, "type": _type_name}
_ROUTE_KEYS: dict[str, _Parser] = {
    "prefix": _digits("an E.164 prefix without +; empty for every destination", allow_empty=True),
    "carrier": _name,
    "account": _c_octet_string("system_id", _MAX_SYSTEM_ID, allow_empty=True),
}
_ARRAYS = ("accounts", "carriers", "routes")


# ---------------------------------------------------------------------------------------------
# Finding lines. tomllib reports lines only for syntax errors, so semantic errors find their
# key by scanning the text: good for the way people write config files (one key per line,
# [table] and [[array]] headers), and None rather than a wrong line otherwise.

_Path = tuple[str | int, ...]
_HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r"\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _split_key(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in raw.split("."))


def _index_lines(text: str) -> dict[_Path, int]:
    lines: dict[_Path, int] = {}
    table: _Path = ()
    array_counts: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header is not None:
            name = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = (*name, index)
            else:
                table = name
            lines.setdefault(table, number)
            continue
        key = _KEY_LINE.match(line)
        if key is not None:
            lines.setdefault((*table, *_split_key(key.group(1))), number)
    return lines


def _dotted(path: _Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Loader:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self._lines: dict[_Path, int] | None = None

    def error(self, path: _Path, reason: str) -> ConfigError:
        if self._lines is None:
            self._lines = _index_lines(self.text)
        line = None
        # The key's own line, else the line of its closest table header (e.g. a required key
        # missing from [[accounts]] points at that header).
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                break
        return ConfigError(_dotted(path), line, reason, self.source)

    def table(self, value: object, path: _Path) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.error(path, "must be a table")
        return cast(dict[str, object], value)

    def fields(
        self, data: dict[str, object], path: _Path, parsers: Mapping[str, _Parser]
    ) -> dict[str, object]:
        for key in data:
            if key not in parsers:
                known = ", ".join(parsers)
                raise self.error((*path, key), f"unknown key (known keys: {known})")
        result: dict[str, object] = {}
        for key, value in data.items():
            try:
                result[key] = parsers[key](value)
            except _BadValueError as exc:
                raise self.error((*path, key), str(exc)) from None
        return result

    def load(self) -> Config:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise _syntax_error(exc, self.source) from None
        for key in data:
            if key not in _SECTIONS and key not in _ARRAYS:
                known = ", ".join([*_SECTIONS, *_ARRAYS])
                raise self.error((key,), f"unknown table (known tables: {known})")
        sections: dict[str, object] = {}
        for name, (cls, parsers) in _SECTIONS.items():
            if name in data:
                values = self.fields(self.table(data[name], (name,)), (name,), parsers)
                sections[name] = cls(**values)
        sections["accounts"] = self.accounts(data.get("accounts"))
        if "carriers" in data:
            sections["carriers"] = self.carriers(data["carriers"])
        if "routes" in data:
            sections["routes"] = self.routes(data["routes"])
        elif "carriers" in data:
            carriers = cast(tuple[CarrierConfig, ...], sections["carriers"])
            if len(carriers) > 1:
                raise self.error(
                    ("routes",), "is required when more than one carrier is configured"
                )
            sections["routes"] = (RouteConfig(prefix="", carrier=carriers[0].name),)
        config = Config(source=self.source, **cast(dict[str, Any], sections))
        self.check(config)
        return config

    def accounts(self, value: object) -> tuple[Account, ...]:
        if value is None:
            raise self.error(
                ("accounts",), "at least one [[accounts]] table is required (nobody could bind)"
            )
        if not isinstance(value, list) or not value:
            raise self.error(("accounts",), "must be an array of tables: [[accounts]]")
        accounts: list[Account] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            path: _Path = ("accounts", index)
            values = self.fields(self.table(item, path), path, _ACCOUNT_KEYS)
            for key in _ACCOUNT_REQUIRED:
                if key not in values:
                    raise self.error((*path, key), "is required")
            account = Account(**cast(dict[str, Any], values))
            if account.system_id in seen:
                raise self.error(
                    (*path, "system_id"),
                    f"{account.system_id!r} is already used by accounts[{seen[account.system_id]}]",
                )
            seen[account.system_id] = index
            accounts.append(account)
        return tuple(accounts)

    def array(self, value: object, name: str) -> list[tuple[_Path, dict[str, object]]]:
        if not isinstance(value, list) or not value:
            raise self.error((name,), f"must be a non-empty array of tables: [[{name}]]")
        return [
            ((name, index), self.table(item, (name, index))) for index, item in enumerate(value)
        ]

    def carriers(self, value: object) -> tuple[CarrierConfig, ...]:
        carriers: list[CarrierConfig] = []
        seen: set[str] = set()
        for path, table in self.array(value, "carriers"):
            known = {key: table[key] for key in _CARRIER_KEYS if key in table}
            values = self.fields(known, path, _CARRIER_KEYS)
            for key in _CARRIER_KEYS:
                if key not in values:
                    raise self.error((*path, key), "is required")
            name = cast(str, values["name"])
            if name in seen:
                raise self.error((*path, "name"), f"carrier {name!r} is defined twice")
            seen.add(name)
            options = {key: item for key, item in table.items() if key not in _CARRIER_KEYS}
            carriers.append(
                CarrierConfig(
                    name=name,
                    type=cast(str, values["type"]),
                    options=options,
                    index=cast(int, path[1]),
                    lines={key: self.error((*path, key), "").line for key in table},
                )
            )
        return tuple(carriers)

    def routes(self, value: object) -> tuple[RouteConfig, ...]:
        routes: list[RouteConfig] = []
        for path, table in self.array(value, "routes"):
            values = self.fields(table, path, _ROUTE_KEYS)
            if "carrier" not in values:
                raise self.error((*path, "carrier"), "is required")
            if values.get("account") == "":
                values["account"] = None  # "" is every account, as when the key is absent
            routes.append(RouteConfig(**cast(dict[str, Any], values)))
        return tuple(routes)

    def check(self, config: Config) -> None:
        """Checks that involve more than one key."""
        carriers = {carrier.name for carrier in config.carriers}
        accounts = {account.system_id for account in config.accounts}
        for index, route in enumerate(config.routes):
            if route.carrier not in carriers:
                raise self.error(
                    ("routes", index, "carrier"),
                    f"no carrier named {route.carrier!r} (carriers: {', '.join(sorted(carriers))})",
                )
            if route.account is not None and route.account not in accounts:
                raise self.error(
                    ("routes", index, "account"), f"no account with system_id {route.account!r}"
                )
        owners: dict[str, str] = {}
        for index, account in enumerate(config.accounts):
            for number in account.virtual_numbers:
                if number in owners:
                    raise self.error(
                        ("accounts", index, "virtual_numbers"),
                        f"{number} already belongs to {owners[number]!r}",
                    )
                owners[number] = account.system_id
        smpp = config.smpp
        if smpp.tls_listen is not None:
            for key in ("tls_cert", "tls_key"):
                if getattr(smpp, key) is None:
                    raise self.error(("smpp", key), "is required when smpp.tls_listen is set")


def _syntax_error(exc: tomllib.TOMLDecodeError, source: str) -> ConfigError:
    # Python 3.11's TOMLDecodeError carries its position only in the message text.
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
    if match is None:
        return ConfigError("", None, f"invalid TOML: {message}", source)
    return ConfigError("", int(match.group(1)), f"invalid TOML: {message[: match.start()]}", source)


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parses and validates configuration text.

    Args:
        text: TOML text.
        source: where it came from, used in error messages (a path, ``<default>``).

    Raises:
        ConfigError: on the first problem found.
    """
    return _Loader(text, source).load()


def default_config_text() -> str:
    """The embedded ``default.toml``, as shipped in the package."""
    return importlib.resources.files("smscd").joinpath("default.toml").read_text("utf-8")


def load_config(path: Path | None) -> Config:
    """Loads a configuration file, or the embedded default when ``path`` is None.

    Raises:
        ConfigError: when the file cannot be read or is invalid (key "" for read errors).
    """
    if path is None:
        return parse_config(default_config_text(), "<default>")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", None, f"cannot read: {exc}", str(path)) from None
    return parse_config(text, str(path))


def walk_keys() -> Iterator[str]:
    """Yields every dotted key of the tree (``smpp.listen``, ..., ``accounts.system_id``).

    For documentation and for the test that keeps ``conf/smscd.toml`` complete.
    """
    arrays: dict[str, type[Any]] = {
        "accounts": Account,
        "carriers": CarrierConfig,
        "routes": RouteConfig,
    }
    for field in attrs.fields(Config):
        if field.name == "source":
            continue
        section: type[Any] = arrays.get(field.name) or type(field.default)
        for key in attrs.fields(section):
            if key.eq and key.name != "options":
                yield f"{field.name}.{key.name}"
