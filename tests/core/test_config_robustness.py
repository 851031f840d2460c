"""The [smpp] keys of the robustness work: pdu_timeout, bind_failure_limit, bind_lockout."""

from __future__ import annotations

import pytest

from smscd.config import ConfigError, SmppConfig, parse_config

ACCOUNT = '[[accounts]]\nsystem_id = "a"\npassword = "b"\n'


def smpp(lines: str) -> SmppConfig:
    return parse_config(f"[smpp]\n{lines}{ACCOUNT}", "t.toml").smpp


def test_defaults() -> None:
    config = SmppConfig()
    assert (config.pdu_timeout, config.bind_failure_limit, config.bind_lockout) == (30, 10, 60)


def test_values_and_off_switches() -> None:
    config = smpp('pdu_timeout = "2m"\nbind_failure_limit = 3\nbind_lockout = "15m"\n')
    assert (config.pdu_timeout, config.bind_failure_limit, config.bind_lockout) == (120, 3, 900)
    config = smpp("pdu_timeout = 0\nbind_failure_limit = 0\n")
    assert (config.pdu_timeout, config.bind_failure_limit) == (0, 0)


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ("bind_lockout = 0", "smpp.bind_lockout", "> 0"),
        ("bind_failure_limit = -1", "smpp.bind_failure_limit", ">= 0"),
        ("bind_failure_limit = 2.5", "smpp.bind_failure_limit", "integer"),
        ('pdu_timeout = "soon"', "smpp.pdu_timeout", "duration"),
    ],
)
def test_bad_values_name_key_and_line(line: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        smpp(f"\n{line}\n")
    assert (info.value.key, info.value.line) == (key, 3)
    assert reason in info.value.reason
