"""Stable identifiers derived from the identifiers NexSIS already uses.

Aggregate ids are name-based UUIDs (UUID5) of the CISU identifiers, so that two ingesters that never
talk to each other give the same case the same id, and a re-ingestion lands on the same aggregate.
"""

from __future__ import annotations

import functools
from uuid import UUID, uuid5

# A fixed namespace for Tocsin's name-based UUIDs. Changing it would orphan every stored aggregate.
TOCSIN_NAMESPACE = UUID("6f1c3c9e-2f51-4b55-9a3c-7d2f0c1e9b42")


# Cached: ingestion derives them for every message, and a case has many messages.
@functools.lru_cache(maxsize=1 << 14)
def case_uuid(case_id: str) -> UUID:
    """The aggregate id of a case (affaire), from its CISU `caseId`."""
    return uuid5(TOCSIN_NAMESPACE, "case:" + case_id)


@functools.lru_cache(maxsize=1 << 14)
def exchange_uuid(distribution_id: str) -> UUID:
    """The aggregate id gathering acknowledgements of a message Tocsin has not (yet) seen."""
    return uuid5(TOCSIN_NAMESPACE, "exchange:" + distribution_id)



def alert_uuid(rule_id: str, subject: str) -> UUID:
    """The aggregate id of the alert a rule raises about a subject: the same (rule, subject) always names
    the same alert, so a replay, a rebuild or a second policy process can never decide it twice (the
    store refuses a second first version of one aggregate)."""
    return uuid5(TOCSIN_NAMESPACE, "alert:" + rule_id + "\x1f" + subject)


def request_uuid(ref: str) -> UUID:
    """The aggregate id of a request from its id `{orgId}.request.{n}`: two processes that pick the same n
    for one organisation name the same aggregate, and the store refuses the second (which takes n+1)."""
    return uuid5(TOCSIN_NAMESPACE, "request:" + ref)
