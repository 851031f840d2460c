"""The `smscd` command line: run the daemon, check a config, send a message by hand, and
control a running daemon's simulator (handsets, MO messages, the clock) over its HTTP API."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

import attrs
import click
import trio

from smscd import __version__
from smscd.carriers.profile import HandsetState
from smscd.config import Config, ConfigError, default_store_path, load_config, parse_duration
from smscd.store.errors import StoreError

if TYPE_CHECKING:
    from smscd.store.sqlite import SqliteStore
from smscd.control import (
    API_ENV,
    DEFAULT_API,
    UNSET,
    ControlClient,
    ControlError,
    Unset,
    format_clock,
    format_handset,
    format_mo,
)


def _load(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"smscd: configuration error: {exc}", err=True)
        sys.exit(2)


async def _check_loadable(config: Config) -> None:
    """Build what the config names (carriers, their profiles, the scenario) as `run` would.

    Raises:
        ConfigError: naming the file, key and line of the first problem.
    """
    from smscd.carriers.registry import build_carriers  # noqa: PLC0415
    from smscd.carriers.scenario import load_scenario  # noqa: PLC0415
    from smscd.simtime import SimulationTime  # noqa: PLC0415

    build_carriers(config, SimulationTime(0.0), seed=0)
    if config.simulation.scenario is not None:
        load_scenario(config.simulation.scenario)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smscd")
def main() -> None:
    """smscd: an SMPP 3.4 SMSC simulator and gateway daemon."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML configuration file (default: the embedded default configuration).",
)
@click.option("--smpp-listen", metavar="HOST:PORT", help="Override smpp.listen (port 0: any).")
@click.option("--http-listen", metavar="HOST:PORT", help="Override http.listen; 'off' disables.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Override log.level.",
)
@click.option(
    "--log-format", type=click.Choice(["auto", "json", "console"]), help="Override log.format."
)
@click.option(
    "--time-scale",
    type=float,
    metavar="N",
    help="Run the simulation clock N times real speed (simulation.rate; 0 starts paused).",
)
@click.option("--seed", type=int, metavar="N", help="Seed every random draw (simulation.seed).")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False),
    help="Play a scenario file from start-up (simulation.scenario).",
)
@click.option(
    "--store",
    "store_path",
    metavar="PATH",
    help="The SQLite store file (store.path; ':memory:' for a throwaway one).",
)
def run(  # noqa: PLR0917 - click passes each option as an argument
    config_path: Path | None,
    smpp_listen: str | None,
    http_listen: str | None,
    log_level: str | None,
    log_format: str | None,
    time_scale: float | None,
    seed: int | None,
    scenario: str | None,
    store_path: str | None,
) -> None:
    """Run the SMSC until SIGINT or SIGTERM."""
    from smscd.daemon import Daemon  # noqa: PLC0415 - keep `smscd --help` fast
    from smscd.logs import configure_logging  # noqa: PLC0415

    config = _load(config_path)
    try:
        config = config.with_overrides(
            smpp_listen=smpp_listen,
            http_listen="" if http_listen == "off" else http_listen,
            log_level=log_level,
            log_format=log_format,
            time_scale=time_scale,
            seed=seed,
            scenario=scenario,
            store=store_path,
        )
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    configure_logging(config.log.level, config.log.format)

    async def serve() -> None:
        await Daemon(config).run()

    try:
        trio.run(serve)
    except ConfigError as exc:
        # A carrier, profile or scenario file named by the config failed to load.
        click.echo(f"smscd: configuration error: {exc}", err=True)
        sys.exit(2)
    except StoreError as exc:
        click.echo(f"smscd: store error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"smscd: cannot start: {exc}", err=True)
        sys.exit(1)
    except BaseExceptionGroup as group:
        # A listener that cannot bind fails inside the daemon's nurseries, wrapped.
        cause = _first_os_error(group)
        if cause is None:
            raise
        click.echo(f"smscd: cannot start: {cause}", err=True)
        sys.exit(1)


def _first_os_error(error: BaseException) -> OSError | None:
    if isinstance(error, OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _first_os_error(inner)
            if found is not None:
                return found
    return None


@main.command("check-config")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_config(path: Path) -> None:
    """Validate a configuration file; errors name the key and line."""
    config = _load(path)
    try:
        trio.run(_check_loadable, config)
    except ConfigError as exc:
        click.echo(f"smscd: configuration error: {exc}", err=True)
        sys.exit(2)
    accounts = ", ".join(account.system_id for account in config.accounts) or "none"
    click.echo(f"{path}: ok (smpp {config.smpp.listen}, accounts: {accounts})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2775, show_default=True, type=int)
@click.option("--system-id", default="smppclient1", show_default=True)
@click.option("--password", default="password", show_default=True)
@click.option("--from", "source", default="smscd", show_default=True, help="source_addr")
@click.option("--to", "destination", required=True, help="destination_addr")
@click.option("--text", required=True, help="Message text; long texts are split with UDH.")
@click.option(
    "--coding",
    type=click.Choice(["auto", "gsm", "ucs2", "latin1"]),
    default="auto",
    show_default=True,
)
@click.option("--no-receipt", is_flag=True, help="Do not ask for (or wait for) receipts.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for receipts.")
def send(  # noqa: PLR0917 - click passes each option as an argument
    host: str,
    port: int,
    system_id: str,
    password: str,
    source: str,
    destination: str,
    text: str,
    coding: str,
    no_receipt: bool,
    timeout: float,
) -> None:
    """Bind as a transceiver, submit a text, and print its receipt(s)."""
    from smscd.sendtool import SendRequest, send_message  # noqa: PLC0415

    request = SendRequest(
        host=host,
        port=port,
        system_id=system_id,
        password=password,
        source=source,
        destination=destination,
        text=text,
        coding=coding,
        want_receipt=not no_receipt,
        timeout=timeout,
    )
    try:
        ok = trio.run(send_message, request, click.echo)
    except (OSError, ValueError) as exc:
        click.echo(f"smscd send: {exc}", err=True)
        sys.exit(1)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------------------------
# Control commands: talk to a running daemon's HTTP API (smscd.control).

_F = TypeVar("_F", bound=Callable[..., object])


if TYPE_CHECKING:
    _CodingParam = click.ParamType[int | None]
else:  # click < 8.2 has no generic ParamType (pyproject allows 8.1)
    _CodingParam = click.ParamType


class _DataCoding(_CodingParam):
    """``--coding`` of ``mo``: a name, as ``send`` takes, or any data_coding number."""

    name = "coding"
    NAMES: Mapping[str, int | None] = {"auto": None, "gsm": 0, "latin1": 3, "ucs2": 8}

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in self.NAMES:
            return self.NAMES[text]
        if text.isascii() and text.isdigit() and int(text) <= 255:
            return int(text)
        self.fail(f"{value!r}: one of {', '.join(self.NAMES)} or a number 0..255", param, ctx)


@attrs.frozen
class _Answer:
    """An API answer: its JSON body for --json, and the text people read."""

    body: Mapping[str, object]
    text: str


def _api_options(command: _F) -> _F:
    """``--api URL`` (or ``$SMSCD_API``) and ``--json``, shared by the control commands."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print the API's JSON answer instead of text."
    )(command)
    return click.option(
        "--api",
        metavar="URL",
        envvar=API_ENV,
        show_envvar=True,
        default=DEFAULT_API,
        show_default=True,
        help="The daemon's HTTP API (its http.listen).",
    )(command)


def _duration_option(value: str | None, option: str, *, positive: bool = False) -> float | None:
    """A duration typed on the command line (``30``, ``"10m"``, ``"72h"``), or None."""
    if value is None:
        return None
    # Every command-line value is a string, and a string duration needs a unit in the config
    # syntax; a bare number here means seconds, as it does in a file.
    try:
        number: object = float(value)
    except ValueError:
        number = value
    try:
        seconds = parse_duration(number)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if positive and seconds <= 0:
        raise click.BadParameter("must be a duration > 0", param_hint=option)
    return seconds


def _control(
    command: str, api: str, as_json: bool, call: Callable[[ControlClient], _Answer]
) -> None:
    """Run one API call and print its answer; exit 1 on an API or connection error."""
    try:
        client = ControlClient(api)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--api") from None
    try:
        answer = call(client)
    except ControlError as exc:
        click.echo(f"smscd {command}: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(answer.body, indent=2, ensure_ascii=False) if as_json else answer.text)


@main.command()
@click.argument("number")
@click.option(
    "--state", type=click.Choice([s.value for s in HandsetState]), help="Set the handset's state."
)
@click.option(
    "--for", "duration", metavar="DURATION", help="With --state: how long it lasts (e.g. 2h)."
)
@click.option(
    "--max-age",
    metavar="DURATION|none",
    help="Set the phone's maximum message age; 'none' lifts the limit.",
)
@_api_options
def handset(  # noqa: PLR0917 - click passes each option as an argument
    number: str,
    state: str | None,
    duration: str | None,
    max_age: str | None,
    api: str,
    as_json: bool,
) -> None:
    """Show a handset's state and inbox, or set its state (NUMBER may be a glob: '4670*')."""
    seconds = _duration_option(duration, "--for", positive=True)
    if seconds is not None and state is None:
        raise click.UsageError("--for goes with --state")
    age: float | Unset | None = UNSET
    if max_age is not None:
        age = (
            None
            if max_age.lower() == "none"
            else _duration_option(max_age, "--max-age", positive=True)
        )

    def call(client: ControlClient) -> _Answer:
        if state is None and age is UNSET:
            view = client.handset(number)
        else:
            view = client.set_handset(number, state=state, duration=seconds, max_message_age=age)
        return _Answer(view, format_handset(view))

    _control("handset", api, as_json, call)


@main.command()
@click.option("--from", "source", required=True, help="The handset's number.")
@click.option("--to", "destination", required=True, help="The account's virtual number.")
@click.option("--text", required=True, help="The message text.")
@click.option(
    "--coding",
    type=_DataCoding(),
    help="auto, gsm, latin1, ucs2, or a data_coding number 0..255 (default auto: GSM 7-bit"
    " if it fits, else UCS-2).",
)
@_api_options
def mo(  # noqa: PLR0917 - click passes each option as an argument
    source: str, destination: str, text: str, coding: int | None, api: str, as_json: bool
) -> None:
    """Make a handset send a message (MO) to an account's virtual number."""

    def call(client: ControlClient) -> _Answer:
        answer = client.send_mo(source, destination, text, coding)
        return _Answer(answer, format_mo(answer))

    _control("mo", api, as_json, call)


@main.command()
@click.option("--advance", metavar="DURATION", help="Move simulation time forward (e.g. 72h).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    help="Simulated seconds per real second from now on (0 pauses).",
)
@_api_options
def clock(advance: str | None, rate: float | None, api: str, as_json: bool) -> None:
    """Show the simulation clock, advance it, or change its rate."""
    seconds = _duration_option(advance, "--advance")
    if seconds is not None and rate is not None:
        raise click.UsageError("give --advance or --rate, not both")
    if rate is not None and not math.isfinite(rate):
        raise click.BadParameter("must be a finite number", param_hint="--rate")

    def call(client: ControlClient) -> _Answer:
        if seconds is not None:
            state = client.advance_clock(seconds)
        elif rate is not None:
            state = client.set_clock_rate(rate)
        else:
            state = client.clock()
        return _Answer(state, format_clock(state))

    _control("clock", api, as_json, call)


# ------------------------------------------------------------------------------------------
# smscd store: look after the durable store file


@main.group()
def store() -> None:
    """Inspect and maintain the SQLite store (the daemon may be running)."""


def _store_options(command: _F) -> _F:
    command = click.option(
        "--store",
        "store_path",
        metavar="PATH",
        help="The store file (default: store.path of the config, else the data directory).",
    )(command)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Configuration file whose store.path to use.",
    )(command)


def _open_store(config_path: Path | None, store_path: str | None) -> SqliteStore:
    from smscd.store.sqlite import SqliteStore  # noqa: PLC0415

    config = _load(config_path)
    path = Path(store_path) if store_path else (config.store.path or default_store_path())
    if str(path) != ":memory:" and not path.exists():
        click.echo(f"smscd store: {path}: no such store", err=True)
        sys.exit(1)
    try:
        return SqliteStore(
            path,
            durability=config.store.durability,
            retention=config.store.retention,
            max_finished=1,
            busy_timeout=5.0,
        )
    except StoreError as exc:
        click.echo(f"smscd store: {exc}", err=True)
        sys.exit(1)


@store.command("stats")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def store_stats(config_path: Path | None, store_path: str | None, as_json: bool) -> None:
    """Count messages (pending, finished), waiting deliver_sm and state rows."""
    opened = _open_store(config_path, store_path)
    try:
        counts = opened.counts()
    except StoreError as exc:
        click.echo(f"smscd store: {exc}", err=True)
        sys.exit(1)
    finally:
        opened.close()
    if as_json:
        click.echo(json.dumps({"path": opened.path, **counts}))
        return
    click.echo(opened.path)
    for key, value in counts.items():
        click.echo(f"  {key:<13} {value}")


@store.command("vacuum")
@_store_options
def store_vacuum(config_path: Path | None, store_path: str | None) -> None:
    """Rebuild the file to return the space of purged messages to the disk."""
    opened = _open_store(config_path, store_path)
    try:
        opened.vacuum()
    except StoreError as exc:
        click.echo(f"smscd store: {exc}", err=True)
        sys.exit(1)
    finally:
        opened.close()
    click.echo(f"{opened.path}: vacuumed")


@store.command("export")
@_store_options
@click.option(
    "--since",
    metavar="ISO8601",
    help="Only messages submitted at or after this (simulation) time, e.g. 2026-11-23T00:00Z.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write to this file instead of standard output.",
)
def store_export(
    config_path: Path | None, store_path: str | None, since: str | None, output: TextIO
) -> None:
    """Write every stored message as one JSON object per line."""
    since_epoch = None
    if since is not None:
        try:
            moment = dt.datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(
                f"{since!r} is not an ISO 8601 time", param_hint="--since"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        since_epoch = moment.timestamp()
    opened = _open_store(config_path, store_path)
    try:
        count = opened.export_jsonl(output, since=since_epoch)
    except StoreError as exc:
        click.echo(f"smscd store: {exc}", err=True)
        sys.exit(1)
    finally:
        opened.close()
    click.echo(f"{count} message{'' if count == 1 else 's'} exported", err=True)
