from __future__ import annotations

import ipaddress

from smscd.accounts import Accounts, TokenBucket
from smscd.config import Account
from smscd.smpp.constants import BindType, CommandStatus


def account(**overrides: object) -> Account:
    fields: dict[str, object] = {"system_id": "acme", "password": "secret"}
    fields.update(overrides)
    return Account(**fields)  # type: ignore[arg-type]


def test_token_bucket_admits_burst_then_rate() -> None:
    bucket = TokenBucket(rate=100, burst=10, now=0.0)
    assert sum(bucket.take(0.0) for _ in range(50)) == 10
    # 0.5 s later, 50 more tokens (capped by burst 10 at any instant).
    assert sum(bucket.take(0.5) for _ in range(50)) == 10


def test_token_bucket_bound_over_ten_seconds_at_five_times_the_rate() -> None:
    bucket = TokenBucket(rate=100, burst=10, now=0.0)
    accepted = 0
    for i in range(5000):  # 500/s offered for 10 s
        accepted += bucket.take(i / 500)
    assert 10 + 100 * 9.998 - 1 <= accepted <= 10 + 100 * 10


def test_bind_decisions() -> None:
    accounts = Accounts(
        [
            account(
                bind_types=frozenset({BindType.TRANSMITTER}),
                max_binds=1,
                allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            )
        ],
        now=0.0,
    )
    authorize = accounts.authorize_bind
    assert authorize("nobody", "secret", BindType.TRANSMITTER, "127.0.0.1") == (
        CommandStatus.ESME_RINVSYSID
    )
    assert authorize("acme", "wrong", BindType.TRANSMITTER, "127.0.0.1") == (
        CommandStatus.ESME_RINVPASWD
    )
    assert authorize("acme", "secret", BindType.TRANSMITTER, "10.0.0.1") == (
        CommandStatus.ESME_RBINDFAIL
    )
    assert authorize("acme", "secret", BindType.RECEIVER, "127.0.0.1") == (
        CommandStatus.ESME_RBINDFAIL
    )
    assert authorize("acme", "secret", BindType.TRANSMITTER, "::ffff:127.0.0.1") == (
        CommandStatus.ESME_ROK
    )
    state = accounts.get("acme")
    assert state is not None
    state.binds = 1
    assert authorize("acme", "secret", BindType.TRANSMITTER, "127.0.0.1") == (
        CommandStatus.ESME_RBINDFAIL
    )


def test_submit_limits() -> None:
    accounts = Accounts([account(throughput=1, burst=1, max_queued=2)], now=0.0)
    state = accounts.get("acme")
    assert state is not None
    assert state.admit_submit(0.0) == CommandStatus.ESME_ROK
    assert state.admit_submit(0.0) == CommandStatus.ESME_RTHROTTLED
    state.queued = 2
    assert state.admit_submit(5.0) == CommandStatus.ESME_RMSGQFUL
