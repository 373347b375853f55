"""A real HTTP push service and SMS/voice gateway on 127.0.0.1 (Starlette under uvicorn, in a thread).

The push side keeps what it receives, and `Browser` decrypts it as a browser would (RFC 8291, with the
http_ece library and the subscription's own private key) after checking the VAPID signature (RFC 8292)
as a push service would.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import http_ece  # type: ignore[import-untyped]
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpSink:
    """What the service received, and the statuses to answer in turn (then 201), per path or for any."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    statuses_by_path: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Browser:
    """A browser's push subscription: its keys, and reading what the push service relays to it."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def subscription(self) -> dict:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                     serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def read(self, received: Received) -> bytes:
        return http_ece.decrypt(received.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")


def vapid_claims(received: Received, audience: str) -> dict:
    """The VAPID JWT's claims, once its signature is checked against the key the request names."""
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme.lower() == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    return jwt.decode(fields["t"], public, algorithms=["ES256"], audience=audience)


def _app(sink: HttpSink) -> Starlette:
    async def receive(request: Request) -> Response:
        sink.received.append(Received(request.url.path, dict(request.headers), await request.body()))
        own = sink.statuses_by_path.get(request.url.path)
        status = own.pop(0) if own else sink.statuses.pop(0) if sink.statuses else 201
        return Response(status_code=status)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(_app(sink), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "push service did not start"
        time.sleep(0.02)
    try:
        yield sink
    finally:
        server.should_exit = True
        thread.join(5)
