"""uvicorn's h11 protocol with the edge limits of web/server.py.

The server runs httptools (uvicorn's default with ``uvicorn[standard]``);
this is the other HTTP/1.1 implementation uvicorn offers, held to the same
limits, and loaded (with h11) only when ``make_server(http="h11")`` asks for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from feedsvc.web.server import (
    FRAMING,
    INVALID,
    EdgeConfig,
    EdgeLimits,
    Refusal,
    _EdgeHooks,
    _Refused,
    refuse_block,
    refuse_field,
    refuse_target,
)


class BoundedH11Connection(h11.Connection):
    """h11's server connection, raising _Refused where h11 stops at its buffer limit,
    and for a request whose lines or block are over the limits."""

    def __init__(self, limits: EdgeLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.header_block_bytes + FRAMING)
        self.limits = limits

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint != 431:
                raise
            buffered, _ = self.trailing_data  # at most the block limit and one read
            line_end = buffered.find(b"\n")
            target = refuse_target(self.limits, len(buffered) if line_end < 0 else 0)
            raise _Refused(target or refuse_block(self.limits, len(buffered) - FRAMING) or INVALID) from None
        if isinstance(event, h11.Request):
            size = len(event.target)
            for name, value in event.headers.raw_items():
                size += len(name) + len(value) + 4
                refusal = refuse_field(self.limits, name, value)
                if refusal is not None:
                    raise _Refused(refusal)
            refusal = refuse_target(self.limits, len(event.target)) or refuse_block(self.limits, size)
            if refusal is not None:
                raise _Refused(refusal)
        return event


class H11Edge(_EdgeHooks, H11Protocol):
    """uvicorn's h11 protocol with the edge limits; h11 bounds its own buffer."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, EdgeConfig)
        self.edge_config = config
        self.conn = BoundedH11Connection(config.limits)

    def data_received(self, data: bytes) -> None:
        if self.edge.lingering:
            self.edge.discard(len(data))
            return
        if self.conn.their_state is h11.IDLE and data:
            self.edge.begin_request()
        super().data_received(data)

    def handle_events(self) -> None:
        try:
            super().handle_events()
        except _Refused as stop:
            self.refuse(stop.refusal)
            return
        idle = self.conn.their_state is h11.IDLE
        if idle and not self.edge.awaiting_headers:
            self.edge.begin_headers()
        elif not idle and self.edge.awaiting_headers:
            self.edge.headers_complete()

    def send_400_response(self, msg: str) -> None:
        self.refuse(INVALID)

    def refuse(self, refusal: Refusal) -> None:
        busy = self.cycle is not None and not self.cycle.response_complete
        self.edge.refuse(refusal, answer=not busy)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next cycle when both sides are done
        if self.transport.is_closing() or self.edge.lingering:
            return
        if self.conn.our_state in (h11.DONE, h11.MUST_CLOSE) and self.conn.their_state is h11.SEND_BODY:
            self.edge.answered(body_pending=True)
        elif self.conn.their_state is h11.IDLE:
            self.edge.answered(body_pending=False)
