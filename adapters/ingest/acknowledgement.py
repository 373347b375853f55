"""The answer Tocsin gives a sender: an RC-REF acknowledgement, or an error message with the reasons.

Both are CISU wire messages themselves, in the encoding the sender used, so a NexSIS peer can read
them with the code it already has.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.cisu import to_json_bytes, to_xml_bytes, wrap_use_case
from adapters.ingest.ingestion import ACCEPTED, DUPLICATE, Outcome

TOCSIN_SENDER_ID = "fr.tocsin.plateforme"
UNKNOWN_SENDER_ID = "fr.inconnu.emetteur"
# Characters XML 1.0 cannot carry: a reason may name a field whose JSON key holds one.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def acknowledgement(outcome: Outcome) -> tuple[int, bytes, str]:
    """(HTTP status, body, content type) answering one ingested message."""
    use_case: dict[str, Any]
    if outcome.status in (ACCEPTED, DUPLICATE):
        kind, use_case, status = "reference", {"distributionID": outcome.distribution_id, "step": "RECU"}, 200
    else:
        cause = _NOT_XML.sub("\ufffd", "\n".join(f"{r['path'] or '$'} : {r['message']}" for r in outcome.reasons))
        kind, status = "error", 422
        use_case = {
            "errorCode": {"statusCode": 422, "statusString": "Message refusé et mis en quarantaine"},
            "errorCause": cause,
            "referencedDistributionID": _NOT_XML.sub("\ufffd", outcome.distribution_id or "inconnu"),
        }
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    wire = wrap_use_case(
        kind,
        use_case,
        distribution_id=f"{TOCSIN_SENDER_ID}_{uuid.uuid4()}",
        sender_id=TOCSIN_SENDER_ID,
        sent_at=now,
        recipient_id=_NOT_XML.sub("\ufffd", outcome.sender_id or UNKNOWN_SENDER_ID),
    )
    if outcome.encoding == "xml":
        return status, to_xml_bytes(wire), "application/xml"
    return status, to_json_bytes(wire), "application/json"
