"""The HTTP control API (`/api/v1`): thin routes over the daemon's live state.

Served by Hypercorn's trio worker inside the daemon's nursery, so handlers run on the same
thread as the SMPP sessions and read their state without locks.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smscd import __version__
from smscd.carriers.base import Waiting
from smscd.carriers.profile import HandsetState
from smscd.carriers.simulated import SimulatedCarrier
from smscd.config import parse_duration
from smscd.message import Message
from smscd.mo import MoError
from smscd.simtime import SimulationTime
from smscd.status import STATUS_CODES, lookup
from smscd.transport.server import ServerContext


class ApiJson(JSONResponse):
    """JSON with every non-ASCII character escaped: a message text may hold half of a
    surrogate pair (a UCS-2 part cut inside an emoji), which UTF-8 cannot carry raw and
    ``JSONResponse`` would fail on."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


@attrs.frozen
class ApiState:
    """What the API reads: the SMPP server context and a few daemon facts."""

    context: ServerContext
    started_at: float
    wall_clock: Callable[[], float]
    sim_now: Callable[[], float]
    time: SimulationTime
    carriers: Sequence[SimulatedCarrier] = ()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def _code_view(code: int) -> dict[str, Any]:
    row = lookup(code)
    return {"code": row.code, "name": row.name, "group": row.group.name.lower()}


def message_view(message: Message, waiting: Waiting | None = None) -> dict[str, Any]:
    """The message as ``GET /api/v1/messages/{id}`` shows it; ``waiting``: why and until when
    it waits at its carrier (``Router.waiting_for``), shown as ``"waiting"`` (null when none)."""
    row = lookup(message.status)
    return {
        "message_id": message.message_id,
        "system_id": message.system_id,
        "source": attrs.asdict(message.source),
        "destination": attrs.asdict(message.destination),
        "data_coding": message.data_coding,
        "esm_class": message.esm_class,
        "registered_delivery": message.registered_delivery,
        "text": message.text,
        "payload_hex": message.payload.hex(),
        "parts": message.parts,
        "concat": None
        if message.concat is None
        else {
            **attrs.asdict(message.concat),
            "complete": message.concat_text is not None,
            "text": message.concat_text,
        },
        "carrier": message.carrier,
        "submit_time": iso(message.submit_time),
        "validity_deadline": iso(message.validity_deadline),
        "scheduled_time": iso(message.scheduled_time),
        "done_time": iso(message.done_time),
        "final": row.final,
        "status": _code_view(row.code),
        "waiting": None
        if waiting is None
        else {
            **_code_view(waiting.code),
            "next_attempt": iso(waiting.next_attempt),
            "expires": iso(waiting.deadline),
        },
        "history": [
            {"code": event.code, "name": lookup(event.code).name, "at": iso(event.at)}
            for event in message.history
        ],
    }


_STATES = ", ".join(state.value for state in HandsetState)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _seconds(data: dict[str, Any], key: str, *, allow_null: bool = False) -> float | None:
    """A duration from the body: seconds as a number, or a string such as "72h"."""
    value = data[key]
    if value is None and allow_null:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise HTTPException(400, f"{key}: {exc}") from None


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def create_app(state: ApiState) -> Starlette:
    context = state.context
    time = state.time

    def carriers_for(pattern: str) -> list[SimulatedCarrier]:
        if not state.carriers:
            raise HTTPException(404, "no carrier simulator is configured (see [[carriers]])")
        number = pattern.removeprefix("+")
        if _is_glob(number):
            return list(state.carriers)
        if not (number.isascii() and number.isdigit()):
            raise HTTPException(
                400, f"{pattern!r} is not a number or a pattern such as 4670* (digits, * ? [])"
            )
        serving = [c for c in state.carriers if c.profile.serves(number)]
        return serving or list(state.carriers)

    def handset_view(pattern: str, carriers: list[SimulatedCarrier]) -> dict[str, Any]:
        carrier = carriers[0]
        glob = _is_glob(pattern)
        number = pattern.removeprefix("+")
        return {
            "number": number,
            "state": None if glob else carrier.handset_state(number).value,
            "state_until": None if glob else iso(carrier.handset_state_until(number)),
            "max_message_age": None if glob else carrier.handset_max_age(number),
            "pending": sum(c.pending_for(number) for c in carriers),
            "inbox": []
            if glob
            else [
                {
                    "from": entry.source,
                    "text": entry.text,
                    "at": iso(entry.at),
                    "parts": entry.parts,
                    "missing": list(entry.missing),
                }
                for entry in carrier.inbox(number)
            ],
        }

    async def handset(request: Request) -> Response:
        pattern: str = request.path_params["number"]
        carriers = carriers_for(pattern)
        if request.method == "PUT":
            data = await _json_object(request)
            unknown = set(data) - {"state", "for", "max_message_age"}
            if unknown:
                raise HTTPException(
                    400,
                    f"unknown field(s) {', '.join(sorted(unknown))} (known: state, for, "
                    "max_message_age)",
                )
            if "state" not in data and "max_message_age" not in data:
                raise HTTPException(400, "give state and/or max_message_age")
            if "for" in data and "state" not in data:
                raise HTTPException(400, "for: goes with state")
            new_state = None
            if "state" in data:
                try:
                    new_state = HandsetState(data["state"])
                except ValueError:
                    raise HTTPException(
                        400, f"state: {data['state']!r} is not one of {_STATES}"
                    ) from None
            until = None
            if "for" in data:
                duration = _seconds(data, "for")
                assert duration is not None
                until = time.now() + duration
            for carrier in carriers:
                if new_state is not None:
                    carrier.set_handset(pattern, new_state, until=until)
                if "max_message_age" in data:
                    carrier.set_max_age(pattern, _seconds(data, "max_message_age", allow_null=True))
        return ApiJson(handset_view(pattern, carriers))

    async def mo(request: Request) -> Response:
        data = await _json_object(request)
        for key in ("from", "to", "text"):
            if not isinstance(data.get(key), str):
                raise HTTPException(400, f"{key}: required, a string")
        coding = data.get("data_coding")
        if coding is not None and (isinstance(coding, bool) or not isinstance(coding, int)):
            raise HTTPException(400, "data_coding: must be an integer 0..255")
        try:
            accepted = context.router.inject_mo(data["from"], data["to"], data["text"], coding)
        except MoError as exc:
            raise HTTPException(404 if exc.not_found else 422, exc.reason) from None
        return ApiJson(
            {
                "mo_id": accepted.mo_id,
                "system_id": accepted.system_id,
                "parts": len(accepted.parts),
            },
            status_code=202,
        )

    def clock_view() -> dict[str, Any]:
        now = time.now()
        return {"now": iso(now), "epoch": now, "rate": time.rate, "paused": time.rate == 0}

    async def clock(request: Request) -> Response:
        if request.method == "PUT":
            data = await _json_object(request)
            rate = data.get("rate")
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
                or rate < 0
            ):
                got = "missing" if rate is None else f"got {rate!r}"
                raise HTTPException(400, f"rate: must be a finite number >= 0 (0 pauses), {got}")
            time.set_rate(float(rate))
        return ApiJson(clock_view())

    async def clock_advance(request: Request) -> Response:
        data = await _json_object(request)
        if "seconds" not in data:
            raise HTTPException(400, 'seconds: required, e.g. {"seconds": 259200} or "72h"')
        seconds = _seconds(data, "seconds")
        assert seconds is not None
        time.advance(seconds)
        return ApiJson(clock_view())

    async def health(request: Request) -> Response:
        store = context.router.store.statistics()
        return ApiJson(
            {
                "status": "draining" if context.draining else "ok",
                "version": __version__,
                "uptime_seconds": round(state.wall_clock() - state.started_at, 3),
                "simulation_time": iso(state.sim_now()),
                "sessions": len(context.connections),
                "messages": attrs.asdict(store),
                "receipts_waiting": context.router.outboxes.waiting(),
            }
        )

    async def sessions(request: Request) -> Response:
        return ApiJson(
            [
                {**attrs.asdict(info), "connected_at": iso(info.connected_at)}
                for info in context.sessions()
            ]
        )

    async def message(request: Request) -> Response:
        message_id = request.path_params["message_id"]
        found = context.router.store.get(message_id)
        if found is None:
            raise HTTPException(404, f"no message with id {message_id!r} (unknown or purged)")
        return ApiJson(message_view(found, context.router.waiting_for(found)))

    async def status_codes(request: Request) -> Response:
        return ApiJson(
            [
                {
                    "code": row.code,
                    "name": row.name,
                    "group": row.group.name.lower(),
                    "final": row.final,
                    "meaning": row.meaning,
                    "message_state": row.message_state.name,
                    "stat": row.stat,
                }
                for row in STATUS_CODES.values()
            ]
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return ApiJson({"error": exc.detail}, status_code=exc.status_code)

    return Starlette(
        routes=[
            Route("/api/v1/health", health),
            Route("/api/v1/sessions", sessions),
            Route("/api/v1/messages/{message_id}", message),
            Route("/api/v1/status-codes", status_codes),
            Route("/api/v1/handsets/{number}", handset, methods=["GET", "PUT"]),
            Route("/api/v1/mo", mo, methods=["POST"]),
            Route("/api/v1/clock", clock, methods=["GET", "PUT"]),
            Route("/api/v1/clock/advance", clock_advance, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
