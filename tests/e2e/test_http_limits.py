"""Issue #17, finding 7: inputs that are not messages are bounded too.

The client label (X-Tocsin-Client) lands in the append-only access log: bounded and without control
characters. Request headers are bounded by the server itself (api.cli.http_limits, applied by
`tocsin serve`, `tocsin run` and LiveServer): too large or too many answer 431, cheaply.
"""

from __future__ import annotations

import os
import socket
import time

import psutil

from adapters.store import access_log
from tests.support.api import LiveServer, bearer, client_for, report_in

CASE = "fr.fire.sis35.cgo-35.limits-1"


def test_the_client_label_is_stored_bounded_and_without_control_characters(services):
    with client_for(services) as (client, config):
        posted = client.post("/api/v1/messages", content=report_in(services.geography, "35238", CASE),
                             headers={"content-type": "application/json", **bearer(config, "nexsis", "national:FR")})
        assert posted.status_code == 200
        headers = bearer(config, "prefecture", "departement:35")
        label = "outil\x1b[31m-" + "x" * 100_000
        assert client.get(f"/api/v1/cases/{CASE}", headers={**headers, "X-Tocsin-Client": label}).status_code == 200
    [entry] = access_log.entries(services.store, case_id=CASE)
    assert len(entry["via"]) <= access_log.MAX_CLIENT_LABEL
    assert entry["via"].startswith("outil[31m-x") and "\x1b" not in entry["via"]


def raw_request(port: int, head: bytes, chunks: int = 1, chunk: bytes = b"") -> tuple[bytes, int]:
    """Send `head`, then up to `chunks` x `chunk` while the server keeps reading; (reply, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        sent += len(head)
        try:
            for _ in range(chunks):
                conn.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: what we want
        conn.settimeout(10)
        reply = b""
        try:
            while part := conn.recv(65536):
                reply += part
        except (ConnectionResetError, TimeoutError):
            pass
    return reply, sent


def test_huge_or_numerous_headers_are_refused_with_431_without_memory_growth(services):
    process = psutil.Process(os.getpid())
    with LiveServer(services) as server:
        before = process.memory_info().rss
        started = time.monotonic()
        # Eight headers of 50 MB each were the attack: one is enough to show the door is shut.
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
        reply, sent = raw_request(server.port, head, chunks=50 * 16, chunk=b"a" * 65536)
        assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
        assert sent < 50 * 1024 * 1024  # refused long before the client finished sending
        many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n"
        assert raw_request(server.port, many)[0].startswith(b"HTTP/1.1 431")
        elapsed = time.monotonic() - started
        grown = process.memory_info().rss - before
        # Normal requests and large bodies still go through.
        ok = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0]
        body = report_in(services.geography, "35238", "fr.fire.sis35.cgo-35.limits-2")
        body += b" " * (900_000 - len(body))  # near the message limit: a body is not a header
        post = (b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + b"Authorization: " + bearer(server.config, "nexsis", "national:FR")["Authorization"].encode()
                + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        posted = raw_request(server.port, post + body)[0]
    assert grown < 20 * 1024 * 1024, grown
    assert elapsed < 5, elapsed
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]
    assert posted.startswith(b"HTTP/1.1 200"), posted[:300]
