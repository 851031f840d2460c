"""Routing: which carrier takes a destination, by longest prefix on its E.164 digits.

Destinations are normalised before matching, honouring the SMPP type of number:
international (TON 1) and unknown (TON 0) numbers are their digits without ``+`` or a
leading ``00``; national numbers (TON 2) get the configured country code in front of their
digits without the trunk ``0``; network-specific (3), subscriber (4) and abbreviated (6)
numbers (short codes) are matched as they are. Alphanumeric destinations (TON 5) and
anything that is not digits cannot be routed.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5


@attrs.frozen
class Route:
    """A route: destinations starting with ``prefix`` (digits; "" for all) go to ``carrier``;
    ``account`` limits the route to one system_id (None: every account)."""

    prefix: str
    carrier: str
    account: str | None = None


def normalise(addr: str, ton: int, country_code: str = "") -> str | None:
    """The E.164 digits routing matches on, or None when ``addr`` is not a routable number."""
    if ton == TON_ALPHANUMERIC:
        return None
    digits = addr.strip()
    if ton in (TON_UNKNOWN, TON_INTERNATIONAL):
        if digits.startswith("+"):
            digits = digits[1:]
        elif digits.startswith("00"):
            digits = digits[2:]
    elif ton == TON_NATIONAL and country_code:
        digits = country_code + digits.removeprefix("0")
    if not digits.isascii() or not digits.isdigit():
        return None
    return digits


class RouteTable:
    """Longest-prefix match; at equal length an account's own route beats a shared one.

    Lookups test one dictionary per distinct prefix length, longest first: a handful of
    probes whatever the number of routes.
    """

    def __init__(self, routes: Iterable[Route], country_code: str = "") -> None:
        self._country_code = country_code
        self._shared: dict[str, str] = {}
        self._own: dict[tuple[str, str], str] = {}
        lengths: set[int] = set()
        for route in routes:
            if route.account is None:
                self._shared.setdefault(route.prefix, route.carrier)
            else:
                self._own.setdefault((route.account, route.prefix), route.carrier)
            lengths.add(len(route.prefix))
        self._lengths = sorted(lengths, reverse=True)

    def digits(self, addr: str, ton: int) -> str | None:
        """The destination's E.164 digits under this table's country code (``normalise``)."""
        return normalise(addr, ton, self._country_code)

    def lookup(self, system_id: str, addr: str, ton: int) -> str | None:
        """The carrier name for a destination, or None when no route matches."""
        digits = normalise(addr, ton, self._country_code)
        return None if digits is None else self.lookup_digits(system_id, digits)

    def lookup_digits(self, system_id: str, digits: str) -> str | None:
        """``lookup`` for digits already normalised (``digits``)."""
        own, shared = self._own, self._shared
        for length in self._lengths:
            if length > len(digits):
                continue
            prefix = digits[:length]
            carrier = own.get((system_id, prefix)) if own else None
            if carrier is None:
                carrier = shared.get(prefix)
            if carrier is not None:
                return carrier
        return None
