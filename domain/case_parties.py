"""Who may update a case: its parties, as CISU partners share a case.

A case is shared by the organisations that exchange messages about it on the hub. Its parties are the
organisation that sent the first message Tocsin recorded on it, and every organisation that a party's
message on it was addressed to (the EDXL-DE envelope's `descriptor.explicitAddress`). A message from
any other organisation is refused: applied, it could move the case to another commune, taking it from
its mayor and showing its whole history to another.

Since every accepted message comes from a party, the parties are simply the senders and addressees of
the case's accepted messages: a union, so folding a case's events in any order gives the same parties.

Deciding whether a message is a party's depends on what has arrived before it, and that cannot be made
order-free: the message that founds a case in Tocsin is the first one to arrive, whoever sent it. So:

- the first message to arrive on a case founds it (its sender and its addressees become parties),
  whatever its use case: an RC-RI or an EMSI may overtake the RC-EDA that creates the case, and it is
  exchanged between the same partners;
- a message from an organisation no party has addressed yet is refused, never applied; it waits in
  quarantine and can be retried once a party's message addressed to its sender has arrived (a partner
  brought in later whose first message overtook the one that brought it in);
- acknowledgements (RC-REF) on a case follow the same rule: the organisation acknowledging a message
  was one of its addressees, hence a party.

What no rule on the messages alone can tell apart: a stranger whose message reaches Tocsin before any
message of the case's partners, and a partner whose first message did. That stranger founds the case,
and the partners' messages it did not address are quarantined, where an operator sees them. Once a case
exists in Tocsin, no stranger can change it.

The `caseId` prefix is not used: it names the organisation that created the case in its own system,
which is not always the organisation that sends it to Tocsin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NOT_A_PARTY = "not-a-party"


@dataclass(frozen=True)
class Refusal:
    """Why a message may not update its case: names the field and the rule, never a value."""

    code: str
    path: str
    message: str

    def as_reason(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


_NOT_A_PARTY = Refusal(
    NOT_A_PARTY,
    "$.senderID",
    "l'expéditeur (senderID) n'est pas partie à l'affaire (caseId) : seuls l'organisation qui a envoyé le"
    " premier message de l'affaire et les destinataires (descriptor.explicitAddress) des messages de ses"
    " parties peuvent la mettre à jour ; message non appliqué, à réessayer (tocsin quarantine retry) une fois"
    " reçu un message d'une partie de l'affaire adressé à cet expéditeur",
)


def admission(parties: frozenset[str], sender: str | None) -> Refusal | None:
    """Whether a message from `sender` may update a case whose parties are `parties` (None: it may).

    A case without parties has no message yet: this one founds it."""
    if not parties or (sender is not None and sender in parties):
        return None
    return _NOT_A_PARTY


def joined(parties: frozenset[str], sender: str | None, addressees: Iterable[str]) -> frozenset[str]:
    """The parties once a message of theirs from `sender` to `addressees` is recorded."""
    added = {a for a in addressees if a}
    if sender:
        added.add(sender)
    return parties if added <= parties else parties | added


def parties_of(messages: Iterable[tuple[str | None, Iterable[str]]]) -> frozenset[str]:
    """The parties of a case from its accepted messages' (sender, addressees), in any order."""
    parties: frozenset[str] = frozenset()
    for sender, addressees in messages:
        parties = joined(parties, sender, addressees)
    return parties
