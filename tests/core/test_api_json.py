"""The HTTP API's JSON: any text the daemon holds can be sent."""

from __future__ import annotations

import json

from smscd.api.app import ApiJson


def test_half_a_surrogate_pair_is_escaped_not_an_error() -> None:
    # A UCS-2 part cut inside an emoji keeps half a pair in its text.
    body = ApiJson({"text": "Hi \ud83d", "name": "Åsa ✓"}).body
    assert body.isascii()
    assert json.loads(body) == {"text": "Hi \ud83d", "name": "Åsa ✓"}
