"""Bounds on what a client may send before a request reaches the app: the request line and headers.

uvicorn's HTTP implementations buffer headers of any size, so a few clients sending huge headers can grow
the server's memory at will. Tocsin serves with httptools (uvicorn's default and fastest: h11 with the
same check cost markedly more CPU per request) behind a check made before each chunk reaches the parser:
a request whose line and headers exceed MAX_HEADER_BYTES, or that has more than MAX_HEADERS header lines,
is answered 431 and its connection closed. `tocsin serve` and `tocsin run` both use `server_options()`.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024  # request line + headers; a browser with its cookies and a bearer token: a few KB
MAX_HEADERS = 100
PROTOCOL = "api.cli.http_limits:BoundedHttpToolsProtocol"  # as uvicorn's --http takes it (an import string)
_REFUSAL = "en-têtes de requête trop volumineux ou trop nombreux\n".encode()


def server_options() -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config that apply these bounds."""
    return {"http": PROTOCOL}


def cli_options() -> list[str]:
    """The same, for `python -m uvicorn` (several server processes)."""
    return ["--http", PROTOCOL]


def _refuse_headers(protocol: Any) -> None:
    protocol.logger.warning("request headers too large or too many: refused with 431")
    protocol.transport.write(
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(_REFUSAL)).encode("ascii") + b"\r\n"
        b"connection: close\r\n\r\n" + _REFUSAL
    )
    protocol.transport.close()


def _head_of(pending: bytes, data: bytes) -> tuple[bytes, bool]:
    """The head of the request being received (what came before, then `data`), up to its end if it is
    in there, and whether it ended. `pending` never exceeds MAX_HEADER_BYTES (beyond it the request was
    refused), so joining is cheap."""
    head = pending + data
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    return (head, False) if end < 0 else (head[:end], True)


def _too_large(head: bytes) -> bool:
    return len(head) > MAX_HEADER_BYTES or head.count(b"\n") > MAX_HEADERS


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, refusing oversized or over-numerous headers with 431 before the parser buffers them."""

    _pending = b""  # the head received so far, while the current request's headers are incomplete
    _in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            head, ended = _head_of(self._pending, data)
            if _too_large(head):
                _refuse_headers(self)
                return
            self._pending = b"" if ended else head
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head, self._pending = False, b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._pending = True, b""
