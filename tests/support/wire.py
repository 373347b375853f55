"""Wire messages for tests, built from the official examples (never hand-written XML or JSON)."""

from __future__ import annotations

import copy
import itertools
import json

from adapters.cisu import to_json_bytes, to_xml_bytes, wrap_use_case
from tests.support.paths import REFERENCE

EXAMPLES = REFERENCE / "examples"
FIRE_CASE = "fr.fire.CGA_national.SC-20240813-CGA_national-AT517"
_counter = itertools.count(1)


def example(name: str) -> tuple[str, dict]:
    """(kind, use case) of an official example, e.g. 'RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01'."""
    data = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    (kind, use_case), = data.items()
    return kind, copy.deepcopy(use_case)


def wire(kind: str, use_case: dict, *, distribution_id: str | None = None, sent_at: str = "2024-08-13T10:21:00+02:00",
         sender_id: str = "fr.fire.sis35.cgo-35", recipient_id: str = "fr.health.samu35",
         status: str | None = None) -> dict:
    """A wire message; `status="Exercise"` for an exercise's (RC-DE status)."""
    distribution_id = distribution_id or f"{sender_id}_{next(_counter):08d}"
    return wrap_use_case(kind, use_case, distribution_id=distribution_id, sender_id=sender_id, sent_at=sent_at,
                         recipient_id=recipient_id, **({"status": status} if status else {}))


def as_json(w: dict) -> bytes:
    return to_json_bytes(w)


def as_xml(w: dict) -> bytes:
    return to_xml_bytes(w)
