"""What the HTML forms of the dashboard and of the login share: the form's fields, the same-origin check,
the login rate limit (api/routes/dashboard.py and api/routes/login.py; the pages' frame is api/pages.py)."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

from api.auth import LoginLimit


async def form_fields(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in (await form_lists(request)).items()}


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Every value of each field (a group of checkboxes sends its name once per box ticked)."""
    body = (await request.body())[:64_000].decode("utf-8", errors="replace")
    return parse_qs(body)


def same_site(request: Request) -> bool:
    """Was the form sent by a page of this server? (A browser names the page's origin in both headers.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc.lower() == (request.headers.get("host") or "").lower()
    return True


def from_this_site(request: Request, purpose: str, binding: str | None, token: str | None) -> bool:
    """Was this form sent by a page of this server, with the CSRF token it gave this session (`binding`)
    for `purpose`? What a cookie alone cannot forge."""
    return same_site(request) and request.app.state.auth.csrf_valid(purpose, binding, token)


def login_limited(request: Request) -> Response | None:
    """429 when this address (or everyone) has tried to log in too often; None to go on."""
    limit: LoginLimit = request.app.state.login_limit
    wait = limit.attempt(request.client.host if request.client else "?")
    if not wait:
        return None
    return PlainTextResponse("Trop de tentatives de connexion : réessayez dans un instant.", status_code=429,
                             headers={"Retry-After": str(max(1, math.ceil(wait)))})
