"""The case (affaire) aggregate: one event per message NexSIS exchanged about it.

Tocsin does not decide anything about a case; the emergency services do. So the aggregate records
what each message said, in order, and folds it into the current state. The one rule it keeps is who may
speak on the case (domain.case_parties): its parties, folded from the events like the state. Any
message may be the first one Tocsin sees for a case (an RC-RI can overtake the RC-EDA that opens it),
so every event class can start the aggregate.
"""

from __future__ import annotations

from typing import Any, TypeVar, dataclass_transform
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.case_parties import joined
from domain.case_state import (
    ACKNOWLEDGED,
    CONCOURS,
    REPORTED,
    RESOURCES,
    RESOURCES_REQUEST,
    RESOURCES_RESPONSE,
    RESOURCES_STATUS,
    SITUATION,
    CaseState,
    apply_message,
)

_Event = TypeVar("_Event", bound=type)


@dataclass_transform(frozen_default=True)
def event_fields(cls: _Event) -> _Event:
    """Let type checkers see the fields an event class declares.

    eventsourcing's metaclass already turns every event class into a frozen dataclass, so at run
    time this returns the class untouched; type checkers cannot follow a metaclass and would
    otherwise only know the three fields of the library's base event (PEP 681).
    """
    return cls


class Case(Aggregate):
    """A case as told by the messages about it. Its id is `case_uuid(caseId)`."""

    def __init__(self) -> None:
        self.state = CaseState()
        self.parties: frozenset[str] = frozenset()  # who may update it (domain.case_parties)

    @event_fields
    class MessageRecorded(Aggregate.Event):
        """Base of the events that record one accepted message.

        `facts` are the normalised facts of the message (see adapters.ingest.normalise), `provenance`
        says exactly which message they come from (distributionID, sender, addressees, times, SHA-256).
        """

        kind = ""
        case_id: str
        facts: dict
        provenance: dict

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                aggregate = Case._blank(self.originator_id, self.timestamp)
            return super().mutate(aggregate)

        def apply(self, aggregate: Case) -> None:
            apply_message(aggregate.state, self.kind, self.facts, self.provenance)
            # Events recorded before addressees were kept have no `recipients`: their sender only.
            aggregate.parties = joined(
                aggregate.parties, self.provenance.get("sender_id"), self.provenance.get("recipients") or ()
            )

    class Reported(MessageRecorded):
        """An RC-EDA `createCase`: the case as its sender describes it (first report or correction)."""

        kind = REPORTED

    class SituationUpdated(MessageRecorded):
        """An EMSI message: operational picture, casualties by triage, evacuations, missions."""

        kind = SITUATION

    class ResourcesUpdated(MessageRecorded):
        """An RC-RI `resourcesInfoCisu`: resources engaged on the case and their statuses."""

        kind = RESOURCES

    class Acknowledged(MessageRecorded):
        """An RC-REF `reference`: a partner acknowledged one of the case's messages."""

        kind = ACKNOWLEDGED

    class ConcoursExchanged(MessageRecorded):
        """An EMSI message carrying a « demande de concours » or its answer (a MISSION named so), with
        the same situation facts as any EMSI (domain.nexsis_requests)."""

        kind = CONCOURS

    class ResourcesRequested(MessageRecorded):
        """An RS-DR `resourcesRequest`: one service asks another for a resource (or cancels it)."""

        kind = RESOURCES_REQUEST

    class ResourcesAnswered(MessageRecorded):
        """An RS-RR `resourcesResponse`: the answer to an RS-DR."""

        kind = RESOURCES_RESPONSE

    class ResourceStatusReported(MessageRecorded):
        """An RS-SR `resourcesStatus`: the status of a resource one service sent to another's case."""

        kind = RESOURCES_STATUS

    @classmethod
    def _blank(cls, case_uuid: UUID, timestamp: Any) -> Case:
        case = cls.__new__(cls)
        case.__base_init__(originator_id=case_uuid, originator_version=0, timestamp=timestamp)
        cls.__init__(case)
        return case


EVENT_CLASS_BY_KIND: dict[str, type[Case.MessageRecorded]] = {
    cls.kind: cls
    for cls in (
        Case.Reported, Case.SituationUpdated, Case.ResourcesUpdated, Case.Acknowledged, Case.ConcoursExchanged,
        Case.ResourcesRequested, Case.ResourcesAnswered, Case.ResourceStatusReported,
    )
}


class Exchange(Aggregate):
    """Acknowledgements of a message Tocsin has not seen (yet): kept, never attached to a guessed case.

    Its id is `exchange_uuid(distributionID of the acknowledged message)`.
    """

    def __init__(self) -> None:
        self.acknowledgements: list[dict] = []

    @event_fields
    class AcknowledgementRecorded(Aggregate.Event):
        case_id: str | None
        facts: dict
        provenance: dict

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                aggregate = Exchange.__new__(Exchange)
                aggregate.__base_init__(
                    originator_id=self.originator_id, originator_version=0, timestamp=self.timestamp
                )
                aggregate.__init__()
            return super().mutate(aggregate)

        def apply(self, aggregate: Exchange) -> None:
            aggregate.acknowledgements.append({"facts": self.facts, "provenance": self.provenance})
