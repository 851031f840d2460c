"""Route matching: E.164 normalisation by TON, longest prefix, per-account routes."""

from __future__ import annotations

import pytest

from smscd.routing import Route, RouteTable, normalise


@pytest.mark.parametrize(
    ("addr", "ton", "country", "digits"),
    [
        ("46701234567", 1, "", "46701234567"),
        ("+46701234567", 1, "", "46701234567"),
        ("0046701234567", 0, "", "46701234567"),
        ("0701234567", 2, "46", "46701234567"),
        ("701234567", 2, "46", "46701234567"),
        ("0701234567", 2, "", "0701234567"),
        ("72000", 3, "46", "72000"),
        ("72000", 6, "", "72000"),
        ("Shop", 5, "", None),
        ("4670-123", 1, "", None),
        ("", 1, "", None),
        ("٤٦٧", 1, "", None),  # Arabic-Indic digits are digits to Python, not to E.164
    ],
)
def test_normalise(addr: str, ton: int, country: str, digits: str | None) -> None:
    assert normalise(addr, ton, country) == digits


TABLE = RouteTable(
    [
        Route("", "default"),
        Route("46", "sweden"),
        Route("4670", "mobile"),
        Route("4670", "acme-mobile", account="acme"),
        Route("46", "acme-sweden", account="acme"),
    ]
)


@pytest.mark.parametrize(
    ("system_id", "addr", "carrier"),
    [
        ("other", "46701234567", "mobile"),  # the longest prefix wins
        ("other", "4681234567", "sweden"),
        ("other", "4412345678", "default"),
        ("acme", "46701234567", "acme-mobile"),  # an account's own route beats a shared one
        ("acme", "4681234567", "acme-sweden"),
        ("acme", "4412345678", "default"),
        ("other", "+46701234567", "mobile"),
        ("other", "4", "default"),  # shorter than every prefix but ""
    ],
)
def test_longest_prefix_per_account(system_id: str, addr: str, carrier: str) -> None:
    assert TABLE.lookup(system_id, addr, 1) == carrier


def test_no_default_route_leaves_others_unroutable() -> None:
    table = RouteTable([Route("46", "sweden")])
    assert table.lookup("acme", "4412345678", 1) is None
    assert table.lookup("acme", "Shop", 5) is None
    assert table.lookup("acme", "0701234567", 2) is None
    assert RouteTable([Route("46", "sweden")], "46").lookup("acme", "0701234567", 2) == "sweden"
