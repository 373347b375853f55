"""NexSIS messages in: one POST per message, answered with a CISU acknowledgement or error message.

Posting needs a service-account token whose role may post messages (domain.access: `nexsis`, the CISU
exchange platform), unless TOCSIN_INGEST_AUTH=open declares this listener trusted (bound to a private
network that only the exchange platform reaches).

The body's declared type must be one of ACCEPTED_TYPES (415 otherwise, before the body is read): never
sniffed, so that no page of another site can post a message as the `text/plain` a form or a simple
cross-site fetch may send without the browser asking this server first.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from adapters.ingest.acknowledgement import acknowledgement
from adapters.ingest.ingestion import Incoming
from adapters.ingest.use_cases import ingest_message
from api.dependencies import MessagePoster, ServicesDep
from api.schemas import Acknowledgement

router = APIRouter(prefix="/api/v1", tags=["Messages NexSIS"])

ACCEPTED_TYPES = ("application/json", "application/xml", "text/xml")
MESSAGE_EXAMPLE = ("EDXL-DE 2.0 + RC-DE + un cas d'usage CISU (createCase, emsi, resourcesInfoCisu, reference, "
                   "resourcesRequest, resourcesResponse, resourcesStatus)")


@router.post(
    "/messages",
    summary="Recevoir un message NexSIS",
    description=(
        f"Corps : un message complet ({MESSAGE_EXAMPLE}), en `application/json` ou `application/xml` "
        "(`text/xml`) ; tout autre type de contenu est refusé (415). "
        "Réponse : un acquittement RC-REF (étape `RECU`) si le message est accepté ou déjà reçu, "
        "sinon un message d'erreur CISU qui donne les raisons ; le message refusé est gardé en quarantaine. "
        "Jeton d'un compte de service de rôle `nexsis` requis (sauf écoute de confiance, TOCSIN_INGEST_AUTH=open). "
        "La réponse suit l'encodage du message reçu (JSON ou XML)."
    ),
    responses={
        200: {"description": "Acquittement RC-REF", "model": Acknowledgement},
        422: {"description": "Message refusé, en quarantaine (message d'erreur CISU)", "model": Acknowledgement},
        415: {"description": "Type de contenu non accepté"},
    },
)
async def post_message(request: Request, poster: MessagePoster, services: ServicesDep) -> Response:
    declared = request.headers.get("content-type") or ""
    if declared.split(";", 1)[0].strip().lower() not in ACCEPTED_TYPES:
        raise HTTPException(415, f"type de contenu non accepté (attendu : {', '.join(ACCEPTED_TYPES)})")
    raw = await _read_capped(request, services.settings.max_message_bytes)
    incoming = Incoming(raw, request.headers.get("content-type"), source="http")
    outcome = await run_in_threadpool(ingest_message, services.ingestor, incoming)
    status, body, content_type = acknowledgement(outcome)
    headers = {"X-Tocsin-Outcome": outcome.status}
    if outcome.quarantine_id is not None:
        headers["X-Tocsin-Quarantine-Id"] = str(outcome.quarantine_id)
    return Response(body, status_code=status, media_type=content_type, headers=headers)


async def _read_capped(request: Request, limit: int) -> bytes:
    """Read the body but stop one byte past the limit: the parser then refuses it as too large,
    and the first megabyte is kept in quarantine for inspection."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > 16 * limit:
        raise HTTPException(413, f"message trop volumineux : {declared} octets (limite {limit})")
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]
