"""smpp.frozen: the fast constructors build ordinary frozen attrs instances."""

from __future__ import annotations

import attrs
import pytest

from smscd.message import Address, StatusEvent
from smscd.smpp.frozen import positional_factory
from smscd.smpp.pdus import DeliverSm
from smscd.smpp.tlv import Tlvs


def test_positional_factory_builds_what_init_builds() -> None:
    make = positional_factory(StatusEvent)
    event = make(201, 12.5)
    assert type(event) is StatusEvent
    assert event == StatusEvent(201, 12.5)
    assert hash(event) == hash(StatusEvent(201, 12.5))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.code = 1  # type: ignore[misc]
    assert positional_factory(Address)(1, 1, "4670") == Address(1, 1, "4670")


def test_positional_factory_needs_a_fast_frozen_class() -> None:
    with pytest.raises(TypeError):
        positional_factory(attrs.frozen(type("Plain", (), {"__annotations__": {"x": "int"}})))


def test_keyword_only_records_refuse_positional_arguments() -> None:
    # The generated __init__ keeps defaults positional for speed; a sentinel keeps the
    # keyword-only contract.
    with pytest.raises(TypeError, match="keyword arguments only"):
        Tlvs(1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="keyword arguments only"):
        DeliverSm(1)  # type: ignore[misc]
    assert Tlvs(message_state=2) == Tlvs(message_state=2)
