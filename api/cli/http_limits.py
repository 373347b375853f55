"""Bounds on what a client may send before a request reaches the app: the request line and headers.

uvicorn's default HTTP implementation (httptools) buffers headers of any size, so a few clients sending
huge headers can grow the server's memory at will. Tocsin serves with h11 instead, behind a check made
before each chunk is buffered: a request whose line and headers exceed MAX_HEADER_BYTES, or that has
more than MAX_HEADERS header lines, is answered 431 and its connection closed. `tocsin serve` and
`tocsin run` both use `server_options()`.
"""

from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 64 * 1024  # request line + headers; a browser with its cookies and a bearer token: a few KB
MAX_HEADERS = 100
PROTOCOL = "api.cli.http_limits:BoundedH11Protocol"  # as uvicorn's --http takes it (an import string)


def server_options() -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config that apply these bounds."""
    # h11's own bound is a backstop above ours (it answers 400 rather than 431).
    return {"http": PROTOCOL, "h11_max_incomplete_event_size": 2 * MAX_HEADER_BYTES}


def cli_options() -> list[str]:
    """The same, for `python -m uvicorn` (several server processes)."""
    return ["--http", PROTOCOL, "--h11-max-incomplete-event-size", str(2 * MAX_HEADER_BYTES)]


class BoundedH11Protocol(H11Protocol):
    """h11, refusing oversized or over-numerous headers with 431 before buffering more of them."""

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and _too_large(self.conn.trailing_data[0], data):
            self._refuse_headers()
            return
        super().data_received(data)

    def _refuse_headers(self) -> None:
        self.logger.warning("request headers too large or too many: refused with 431")
        body = "en-têtes de requête trop volumineux ou trop nombreux\n".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def _too_large(pending: bytes, data: bytes) -> bool:
    """Whether the head of the request being received (what h11 holds, then `data`) exceeds the bounds.

    `pending` never exceeds MAX_HEADER_BYTES (beyond it the request was refused), so joining is cheap."""
    head = pending + data
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    if end >= 0:
        head = head[:end]
    return len(head) > MAX_HEADER_BYTES or head.count(b"\n") > MAX_HEADERS
