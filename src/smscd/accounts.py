"""ESME accounts at run time: bind decisions and the live limits of each account.

The policy is `config.Account`; this module adds the counters, and the per-address lock-out
of peers that keep failing to bind. Pure (L1): the caller passes time in, so the token bucket
is exact under a mock clock and binds are testable without sockets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from smscd.config import Account
from smscd.smpp.constants import BindType, CommandStatus


class TokenBucket:
    """Classic token bucket: `rate` tokens a second, at most `burst` banked.

    With rate 100 and burst 10, over T seconds at most 10 + 100*T submits pass.
    """

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means throttle."""
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@attrs.define
class AccountState:
    """The live counters of one account, shared by all its binds."""

    policy: Account
    bucket: TokenBucket | None
    binds: int = 0
    queued: int = 0  # accepted and not finished: not final, or its final receipt unacknowledged

    def admit_submit(self, now: float) -> int:
        """The command_status a new submit gets from the account's limits (ESME_ROK to go on)."""
        if self.queued >= self.policy.max_queued:
            return CommandStatus.ESME_RMSGQFUL
        if self.bucket is not None and not self.bucket.take(now):
            return CommandStatus.ESME_RTHROTTLED
        return CommandStatus.ESME_ROK


class Accounts:
    """All configured accounts and their live counters."""

    def __init__(self, policies: Iterable[Account], now: float) -> None:
        self._states: dict[str, AccountState] = {}
        for policy in policies:
            bucket = (
                TokenBucket(policy.throughput, policy.burst, now) if policy.throughput else None
            )
            self._states[policy.system_id] = AccountState(policy, bucket)

    @property
    def states(self) -> Mapping[str, AccountState]:
        return self._states

    def get(self, system_id: str) -> AccountState | None:
        return self._states.get(system_id)

    def authorize_bind(
        self, system_id: str, password: str, bind_type: BindType, peer_host: str
    ) -> int:
        """Decide a bind: ESME_ROK, or the status to refuse it with.

        An unknown system_id and a wrong password get the same two distinct statuses
        the spec defines; we do not hide which one failed because this is a simulator
        whose users debug their clients against it.
        """
        state = self._states.get(system_id)
        if state is None:
            return CommandStatus.ESME_RINVSYSID
        policy = state.policy
        if not policy.check_password(password):
            return CommandStatus.ESME_RINVPASWD
        if not policy.allows_address(peer_host):
            return CommandStatus.ESME_RBINDFAIL
        if bind_type not in policy.bind_types:
            return CommandStatus.ESME_RBINDFAIL
        if state.binds >= policy.max_binds:
            return CommandStatus.ESME_RBINDFAIL
        return CommandStatus.ESME_ROK


#: The bind failures that count towards a lock-out: guesses at credentials. A refusal for
#: max_binds or a bind type is a client misconfigured, not an attack.
AUTHENTICATION_FAILURES: Final = frozenset(
    {CommandStatus.ESME_RINVSYSID, CommandStatus.ESME_RINVPASWD}
)


@attrs.define
class _Strikes:
    failures: int
    last_failure: float
    locked_until: float = -math.inf


class BindLockout:
    """Shuts out an address after repeated failed binds (`smpp.bind_failure_limit`).

    ``limit`` failures from one address, each within ``duration`` of the one before, lock it
    out for ``duration`` from the last of them. A success does not clear the count: on a shared
    address a legitimate client must not give a guesser more tries. ``limit`` 0 disables it.

    At most ``max_addresses`` addresses are remembered (a flood from many addresses must not
    grow memory without bound); past that, the one that failed longest ago is forgotten.
    """

    __slots__ = ("_duration", "_entries", "_limit", "_max_addresses")

    def __init__(self, limit: int, duration: float, max_addresses: int = 10_000) -> None:
        self._limit = limit
        self._duration = duration
        self._max_addresses = max_addresses
        # Insertion order is failure order: every failure moves its address to the end.
        self._entries: dict[str, _Strikes] = {}

    @property
    def duration(self) -> float:
        return self._duration

    def __len__(self) -> int:
        return len(self._entries)

    def locked(self, host: str, now: float) -> bool:
        """True while ``host`` is shut out."""
        entry = self._entries.get(host)
        return entry is not None and now < entry.locked_until

    def record(self, host: str, status: int, now: float) -> bool:
        """Note a bind refused with ``status``; True when it starts a lock-out (log it then).

        Only ``AUTHENTICATION_FAILURES`` count.
        """
        if self._limit <= 0 or status not in AUTHENTICATION_FAILURES:
            return False
        entries = self._entries
        entry = entries.pop(host, None)
        if entry is None or now - entry.last_failure >= self._duration:
            entry = _Strikes(0, now)
            if len(entries) >= self._max_addresses:
                del entries[next(iter(entries))]
        entry.failures += 1
        entry.last_failure = now
        entries[host] = entry
        if entry.failures < self._limit:
            return False
        entry.failures = 0
        entry.locked_until = now + self._duration
        return True
