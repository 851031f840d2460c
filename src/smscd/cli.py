"""The `smscd` command line: run the daemon, check a config, send a message by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import trio

from smscd import __version__
from smscd.config import Config, ConfigError, load_config


def _load(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"smscd: configuration error: {exc}", err=True)
        sys.exit(2)


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
def run(
    config_path: Path | None,
    smpp_listen: str | None,
    http_listen: str | None,
    log_level: str | None,
    log_format: str | None,
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
        )
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    configure_logging(config.log.level, config.log.format)

    async def serve() -> None:
        await Daemon(config).run()

    try:
        trio.run(serve)
    except OSError as exc:
        click.echo(f"smscd: cannot start: {exc}", err=True)
        sys.exit(1)


@main.command("check-config")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_config(path: Path) -> None:
    """Validate a configuration file; errors name the key and line."""
    config = _load(path)
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
