"""The HTTP control API (`/api/v1`): thin routes over the daemon's live state.

Served by Hypercorn's trio worker inside the daemon's nursery, so handlers run on the same
thread as the SMPP sessions and read their state without locks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smscd import __version__
from smscd.message import Message
from smscd.status import STATUS_CODES, lookup
from smscd.transport.server import ServerContext


@attrs.frozen
class ApiState:
    """What the API reads: the SMPP server context and a few daemon facts."""

    context: ServerContext
    started_at: float
    wall_clock: Callable[[], float]
    sim_now: Callable[[], float]


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def message_view(message: Message) -> dict[str, Any]:
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
        "submit_time": iso(message.submit_time),
        "done_time": iso(message.done_time),
        "final": row.final,
        "status": {"code": row.code, "name": row.name, "group": row.group.name.lower()},
        "history": [
            {"code": event.code, "name": lookup(event.code).name, "at": iso(event.at)}
            for event in message.history
        ],
    }


def create_app(state: ApiState) -> Starlette:
    context = state.context

    async def health(request: Request) -> Response:
        store = context.router.store.statistics()
        return JSONResponse(
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
        return JSONResponse(
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
        return JSONResponse(message_view(found))

    async def status_codes(request: Request) -> Response:
        return JSONResponse(
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
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    return Starlette(
        routes=[
            Route("/api/v1/health", health),
            Route("/api/v1/sessions", sessions),
            Route("/api/v1/messages/{message_id}", message),
            Route("/api/v1/status-codes", status_codes),
        ],
        exception_handlers={HTTPException: http_error},
    )
