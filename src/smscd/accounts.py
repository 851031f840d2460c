"""ESME accounts at run time: bind decisions and the live limits of each account.

The policy is `config.Account`; this module adds the counters. Pure (L1): the caller passes
time in, so the token bucket is exact under a mock clock and binds are testable without sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
