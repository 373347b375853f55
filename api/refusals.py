"""One translation of the crisis workspace's refusals into HTTP statuses, for the API and the pages alike:
unknown, or outside the caller's perimeter (the same answer: no existence leak), 404; not the caller's to
do, 403; not in this state (a closed crisis, a request already answered, an alert already published), 409;
bad input, 422. The refusal's own French message is the answer's detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool

from adapters.crisis.crises import UnknownCrisis
from adapters.crisis.population_alerts import UnknownPopulationAlert
from adapters.crisis.requests import UnknownRequest
from domain.access import Denied
from domain.crisis import CrisisClosed
from domain.geography import UnknownTerritory
from domain.population_alert import WrongState
from domain.request import NotNow

T = TypeVar("T")

UNKNOWN = (UnknownCrisis, UnknownRequest, UnknownPopulationAlert)
NOT_NOW = (CrisisClosed, NotNow, WrongState)
# Everything a use case of the workspace refuses with (a message for the caller); anything else is a bug.
REFUSED = (*UNKNOWN, Denied, *NOT_NOW, UnknownTerritory, ValueError, LookupError)


def status_of(error: Exception) -> int:
    if isinstance(error, UNKNOWN):
        return 404
    if isinstance(error, Denied):
        return 403
    if isinstance(error, NOT_NOW):
        return 409
    return 422


async def act(call: Callable[[], T]) -> T:
    """Run a use case off the event loop; its refusal becomes the HTTP answer above."""
    try:
        return await run_in_threadpool(call)
    except REFUSED as e:
        raise HTTPException(status_of(e), str(e)) from e
