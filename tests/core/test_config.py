"""Configuration loading, validation and error reporting."""

from __future__ import annotations

import importlib.resources
import ipaddress
import tomllib
from pathlib import Path

import attrs
import pytest

from smscd.config import (
    Account,
    Config,
    ConfigError,
    ListenAddress,
    default_config_text,
    load_config,
    parse_config,
    parse_duration,
    parse_listen_address,
    walk_keys,
)
from smscd.smpp.constants import BindType, CommandStatus

REPO = Path(__file__).resolve().parents[2]
ANNOTATED = REPO / "conf" / "smscd.toml"
ACCOUNT = '[[accounts]]\nsystem_id = "smppclient1"\npassword = "password"\n'


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf.toml")
    return info.value


# --- the shipped files ----------------------------------------------------------------------


def test_default_is_package_data() -> None:
    resource = importlib.resources.files("smscd").joinpath("default.toml")
    assert resource.is_file()
    assert resource.read_text("utf-8") == default_config_text()


def test_embedded_default() -> None:
    config = load_config(None)
    assert config.smpp.listen == ListenAddress("127.0.0.1", 2775)
    assert config.http.listen == ListenAddress("127.0.0.1", 8775)
    assert config.smpp.tls_listen is None
    assert config.smpp.system_id == "smscd"
    assert config.smpp.inactivity_timeout == 300.0
    assert config.delivery.delay == 0.1
    assert config.store.retention == 7 * 86400.0
    assert (config.store.backend, config.store.path) == ("sqlite", None)
    assert config.log.level == "info"
    assert config.log.format == "auto"
    [account] = config.accounts
    assert account.system_id == "smppclient1"
    assert account.check_password("password")
    assert account.bind_types == frozenset(BindType)
    assert account.max_binds == 10
    assert account.throughput == 0.0
    assert account.burst == 1.0
    assert account.max_queued == 10000
    assert account.allowed_networks == (
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
    )


def test_annotated_file_equals_embedded_default() -> None:
    assert load_config(ANNOTATED) == load_config(None)


def test_code_defaults_equal_embedded_default() -> None:
    # A file with only the account takes every other value from the code; default.toml must
    # say the same, or "the default" would mean two things.
    # The account's virtual numbers are its own data, not a default.
    assert parse_config(ACCOUNT + 'virtual_numbers = ["72000"]\n') == load_config(None)


@pytest.mark.parametrize("path", [ANNOTATED, None], ids=["annotated", "default"])
def test_every_config_key_is_written_out(path: Path | None) -> None:
    text = path.read_text("utf-8") if path else default_config_text()
    data = tomllib.loads(text)
    missing = []
    for dotted in walk_keys():
        section, key = dotted.split(".")
        arrays = ("accounts", "carriers", "routes")
        table = data[section][0] if section in arrays else data.get(section, {})
        if key not in table:
            missing.append(dotted)
    assert missing == []


def test_walk_keys_covers_the_tree() -> None:
    keys = list(walk_keys())
    assert len(keys) == len(set(keys))
    # Every table; `source` records where the config was read from and is not a key.
    assert {k.split(".")[0] for k in keys} == {f.name for f in attrs.fields(Config)} - {"source"}
    assert "accounts.allowed_networks" in keys
    assert "smpp.max_connections" in keys


def test_annotated_file_documents_every_key() -> None:
    # Every key line is preceded by a comment, or by another key sharing that comment.
    lines = ANNOTATED.read_text("utf-8").splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            previous = lines[number - 1]
            assert previous.startswith("#") or ("=" in previous and not previous.startswith("[")), (
                f"conf/smscd.toml line {number + 1} has no comment: {line}"
            )


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0.5, 0.5),
        (0, 0.0),
        ("100ms", 0.1),
        ("30s", 30.0),
        ("5m", 300.0),
        ("72h", 259200.0),
        ("3d", 259200.0),
        ("1.5h", 5400.0),
        (" 2 s ", 2.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["30", "5 minutes", "-1s", "1M", "", True, -1, float("nan"), []])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:2775", "127.0.0.1", 2775),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:2775", "::1", 2775),
        ("[::]:8775", "::", 8775),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    address = parse_listen_address(text)
    assert address == ListenAddress(host, port)
    assert str(address) == text


@pytest.mark.parametrize(
    "text",
    [
        "2775",
        "::1:2775",
        "[::1]2775",
        "[nothost]:1",
        "host:65536",
        "host:",
        ":2775",
        "a b:1",
        "h:x",
    ],
)
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen_address(text)


def test_optional_listeners_switch_off() -> None:
    config = parse_config('[http]\nlisten = ""\n' + ACCOUNT)
    assert config.http.listen is None


def test_tls_listener() -> None:
    config = parse_config(
        '[smpp]\ntls_listen = "[::]:3550"\ntls_cert = "c.pem"\ntls_key = "k.pem"\n' + ACCOUNT
    )
    assert config.smpp.tls_listen == ListenAddress("::", 3550)
    assert config.smpp.tls_cert == Path("c.pem")


def test_account_values() -> None:
    config = parse_config(
        ACCOUNT
        + 'bind_types = ["Transmitter"]\nthroughput = 50\nallowed_networks = ["10.0.0.0/8"]\n'
        + '[[accounts]]\nsystem_id = "b"\npassword = ""\nthroughput = 0.5\nburst = 20\n'
    )
    first, second = config.accounts
    assert first.bind_types == frozenset({BindType.TRANSMITTER})
    assert first.burst == 50.0  # defaults to throughput
    assert second.burst == 20.0
    assert config.account("b") is second
    assert config.account("nobody") is None
    assert Account(system_id="c", password="", throughput=0.5).burst == 1.0


def test_account_helpers() -> None:
    account = Account(
        system_id="a",
        password="secret",
        allowed_networks=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")),
    )
    assert account.check_password("secret")
    assert not account.check_password("secreT")
    assert account.allows_address("10.1.2.3")
    assert account.allows_address("::ffff:10.1.2.3")  # dual-stack socket, IPv4 client
    assert account.allows_address("fd00::1%eth0")
    assert not account.allows_address("192.168.1.1")
    assert not account.allows_address("not an ip")
    assert "secret" not in repr(account)


def test_config_is_frozen() -> None:
    config = load_config(None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.smpp = config.smpp  # type: ignore[misc]


def test_with_overrides() -> None:
    config = load_config(None).with_overrides(
        smpp_listen="0.0.0.0:0", http_listen="", log_level="DEBUG", log_format="json"
    )
    assert config.smpp.listen == ListenAddress("0.0.0.0", 0)
    assert config.http.listen is None
    assert (config.log.level, config.log.format) == ("debug", "json")
    assert config.accounts == load_config(None).accounts
    assert load_config(None).with_overrides() == load_config(None)


def test_with_overrides_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None).with_overrides(smpp_listen="nonsense")
    assert info.value.key == "smpp.listen"
    assert info.value.line is None
    assert str(info.value).startswith("command line: smpp.listen: ")


# --- errors -------------------------------------------------------------------------------


def test_error_format_with_key_and_line() -> None:
    text = ACCOUNT + "max_binds = 0\n"
    exc = error(text)
    assert (exc.key, exc.line) == ("accounts[0].max_binds", 4)
    assert str(exc) == "conf.toml:4: accounts[0].max_binds: must be a positive integer"


def test_unknown_key_is_an_error() -> None:
    exc = error('[smpp]\nlisten = "127.0.0.1:2775"\nwindwo = 10\n' + ACCOUNT)
    assert (exc.key, exc.line) == ("smpp.windwo", 3)
    assert "unknown key" in exc.reason
    assert "window" in exc.reason  # lists the known keys


def test_unknown_table_is_an_error() -> None:
    exc = error(ACCOUNT + "\n[smtp]\nlisten = 1\n")
    assert (exc.key, exc.line) == ("smtp", 5)


def test_error_in_second_account_points_at_it() -> None:
    text = ACCOUNT + '\n[[accounts]]\nsystem_id = "b"\npassword = "b"\nmax_bind = 3\n'
    exc = error(text)
    assert (exc.key, exc.line) == ("accounts[1].max_bind", 8)


def test_missing_required_key_points_at_its_table() -> None:
    exc = error('[smpp]\nwindow = 5\n\n[[accounts]]\nsystem_id = "x"\n')
    assert (exc.key, exc.line) == ("accounts[0].password", 4)
    assert exc.reason == "is required"


def test_accounts_are_required() -> None:
    exc = error("[smpp]\nwindow = 5\n")
    assert exc.key == "accounts"
    assert exc.line is None


def test_syntax_error_has_a_line() -> None:
    exc = error(ACCOUNT + "max_binds = \n")
    assert exc.key == ""
    assert exc.line == 4
    assert str(exc).startswith("conf.toml:4: invalid TOML: ")


@pytest.mark.parametrize(
    ("snippet", "key", "fragment"),
    [
        ('[smpp]\nwindow = "10"\n', "smpp.window", "positive integer"),
        ("[smpp]\nwindow = true\n", "smpp.window", "positive integer"),
        ("[smpp]\nmax_command_length = 8\n", "smpp.max_command_length", ">= 16"),
        ('[smpp]\nsystem_id = "sixteen_chars_xx"\n', "smpp.system_id", "at most 15"),
        ('[smpp]\nlisten = ""\n', "smpp.listen", "HOST:PORT"),
        ('[smpp]\nresponse_timeout = "0s"\n', "smpp.response_timeout", "> 0"),
        ('[smpp]\ntls_listen = "0.0.0.0:3550"\n', "smpp.tls_cert", "required when"),
        ('[smpp]\ntls_listen = "0.0.0.0:3550"\ntls_cert = "c"\n', "smpp.tls_key", "required"),
        ('[http]\nlisten = "::1:8775"\n', "http.listen", "brackets"),
        ('[log]\nlevel = "verbose"\n', "log.level", "'debug'"),
        ('[log]\nformat = "xml"\n', "log.format", "'json'"),
        ('[text]\ngsm_default_is_latin1 = "yes"\n', "text.gsm_default_is_latin1", "true or"),
        ('[delivery]\ndelay = "soon"\n', "delivery.delay", "not a duration"),
        ('[store]\nbackend = "postgres"\n', "store.backend", "'sqlite', 'memory'"),
        ("[store]\nmax_finished = -5\n", "store.max_finished", "positive integer"),
        ("[simulation]\nrate = -1\n", "simulation.rate", ">= 0"),
        ("[simulation]\nrate = nan\n", "simulation.rate", "finite"),
        ("smpp = 3\n", "smpp", "must be a table"),
    ],
)
def test_bad_values(snippet: str, key: str, fragment: str) -> None:
    exc = error(snippet + ACCOUNT)
    assert exc.key == key
    assert fragment in exc.reason
    assert exc.line is not None


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ('password = "ninechars"', "accounts[0].password", "at most 8"),
        ('bind_types = ["transmiter"]', "accounts[0].bind_types", "'transmitter'"),
        ('bind_types = ["receiver", "RECEIVER"]', "accounts[0].bind_types", "twice"),
        ("bind_types = []", "accounts[0].bind_types", "non-empty"),
        ('allowed_networks = ["10.1.2.3/8"]', "accounts[0].allowed_networks", "host bits"),
        ('allowed_networks = ["10.0.0.0/33"]', "accounts[0].allowed_networks", "not a network"),
        ("allowed_networks = []", "accounts[0].allowed_networks", "non-empty"),
        ("throughput = -1", "accounts[0].throughput", ">= 0"),
        ("burst = 0.5", "accounts[0].burst", ">= 1"),
        ("max_queued = 0", "accounts[0].max_queued", "positive integer"),
    ],
)
def test_bad_account_values(line: str, key: str, fragment: str) -> None:
    text = '[[accounts]]\nsystem_id = "a"\n' + line + "\n"
    if "password" not in line:
        text += 'password = "p"\n'
    exc = error(text)
    assert exc.key == key
    assert fragment in exc.reason
    assert exc.line == 3


def test_system_id_must_be_ascii_and_unique() -> None:
    exc = error('[[accounts]]\nsystem_id = "bjö"\npassword = ""\n')
    assert exc.key == "accounts[0].system_id"
    assert "ASCII" in exc.reason
    exc = error(ACCOUNT + ACCOUNT)
    assert (exc.key, exc.line) == ("accounts[1].system_id", 5)
    assert "accounts[0]" in exc.reason


def test_line_falls_back_to_the_enclosing_key() -> None:
    # Inline tables put several keys on one line; the scanner reports the enclosing key's line.
    exc = error("smpp = { window = 0 }\n" + ACCOUNT)
    assert (exc.key, exc.line) == ("smpp.window", 1)
    exc = error('\naccounts = [{ system_id = "a", password = "p", max_binds = 0 }]\n')
    assert (exc.key, exc.line) == ("accounts[0].max_binds", 2)


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_load_config_reports_the_path(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ACCOUNT + "max_binds = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:4: accounts[0].max_binds: must be a positive integer"


# --- carriers, routes, routing, simulation ---------------------------------------------------


def test_default_carrier_is_the_simulator_on_every_route() -> None:
    config = load_config(None)
    [carrier] = config.carriers
    assert (carrier.name, carrier.type, dict(carrier.options)) == (
        "simulator",
        "simulator",
        {"profile": ""},
    )
    [route] = config.routes
    assert (route.prefix, route.carrier, route.account) == ("", "simulator", None)
    assert config.routing.unroutable == 409
    assert config.simulation.seed is None
    assert config.accounts[0].virtual_numbers == ("72000",)


def test_one_carrier_without_routes_takes_everything() -> None:
    config = parse_config(ACCOUNT + '[[carriers]]\nname = "fast"\ntype = "instant"\ndelay = 0\n')
    assert [(r.prefix, r.carrier) for r in config.routes] == [("", "fast")]
    assert config.carriers[0].options == {"delay": 0}


def test_unroutable_takes_an_smpp_status_name() -> None:
    config = parse_config(ACCOUNT + '[routing]\nunroutable = "esme_rinvdstadr"\n')
    assert config.routing.unroutable == CommandStatus.ESME_RINVDSTADR
    assert isinstance(config.routing.unroutable, CommandStatus)


def test_simulation_start_and_seed() -> None:
    config = parse_config(
        ACCOUNT + '[simulation]\nseed = 42\nstart = "2027-01-15T08:00:00Z"\nrate = 0\n'
    )
    assert config.simulation.seed == 42
    assert config.simulation.start == 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        (
            '[[carriers]]\nname = "a"\ntype = "instant"\n[[carriers]]\nname = "b"\n'
            'type = "instant"\n',
            "routes",
            None,
            "more than one carrier",
        ),
        ('[[carriers]]\nname = "a"\n', "carriers[0].type", 1, "is required"),
        (
            '[[carriers]]\nname = "a"\ntype = "instant"\n[[carriers]]\nname = "a"\n'
            'type = "instant"\n',
            "carriers[1].name",
            5,
            "defined twice",
        ),
        ('[[routes]]\nprefix = "46"\ncarrier = "nope"\n', "routes[0].carrier", 3, "no carrier"),
        ('[[routes]]\nprefix = "+46"\ncarrier = "simulator"\n', "routes[0].prefix", 2, "digits"),
        (
            '[[routes]]\ncarrier = "simulator"\naccount = "ghost"\n',
            "routes[0].account",
            3,
            "no account",
        ),
        ("[routing]\nunroutable = 201\n", "routing.unroutable", 2, "400..599"),
        ('[routing]\nunroutable = "ESME_NOPE"\n', "routing.unroutable", 2, "command_status"),
        ("[simulation]\nseed = -1\n", "simulation.seed", 2, "integer >= 0"),
        ('[simulation]\nstart = "yesterday"\n', "simulation.start", 2, "ISO 8601"),
    ],
)
def test_carrier_and_route_errors(text: str, key: str, line: int | None, words: str) -> None:
    exc = error(ACCOUNT + text)
    assert exc.key == key
    assert exc.line == (None if line is None else line + 3)
    assert words in exc.reason


def test_virtual_numbers_belong_to_one_account() -> None:
    text = (
        ACCOUNT
        + 'virtual_numbers = ["72000"]\n[[accounts]]\nsystem_id = "b"\npassword = "p"\n'
        + 'virtual_numbers = ["72000"]\n'
    )
    exc = error(text)
    assert (exc.key, exc.line) == ("accounts[1].virtual_numbers", 8)
    assert "already belongs to 'smppclient1'" in exc.reason
    assert "digits" in error(ACCOUNT + 'virtual_numbers = ["+4670"]\n').reason


def test_command_line_simulation_overrides() -> None:
    config = load_config(None).with_overrides(time_scale=60, seed=7, scenario="x.toml")
    assert (config.simulation.rate, config.simulation.seed) == (60.0, 7)
    assert config.simulation.scenario == Path("x.toml")
    with pytest.raises(ConfigError) as info:
        load_config(None).with_overrides(time_scale=-1)
    assert info.value.key == "simulation.rate"
