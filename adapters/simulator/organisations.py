"""Hub identities of the simulated partners: each département's fire service (SDIS) and SAMU.

Fire services appear under the two naming styles seen on the hub: the legacy
``fr.fire.sis35.cgo-35`` (SIS, CGO operations centre) and ``fr.fire.nexsis.sdis35`` for those
already migrated to NexSIS. A case id is ``{sender id}.{senderCaseId}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# Départements whose SDIS the simulation shows as migrated to NexSIS (arbitrary but stable).
NEXSIS_STYLE = frozenset({"35", "14", "83", "59", "56", "2B"})

# Peers whose XML puts the RC-DE message in urn:emergency:cisu:3.0 (as envelopes/RC-EDA.xml does)
# instead of the official urn:emergency:eda:1.9: one or two in every scenario.
CISU_NAMESPACE_PEERS = frozenset({
    "fr.fire.sis22.cgo-22", "fr.health.samu50", "fr.fire.sis84.cgo-84", "fr.health.samu2A",
    "fr.fire.sis80.cgo-80", "fr.health.samu62",
})


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str  # hub address, e.g. fr.fire.sis35.cgo-35
    name: str  # RC-DE sender/recipient name, e.g. sdis35
    label: str  # French, for EMSI ORIGIN.NAME and free texts
    departement: str

    @property
    def uri(self) -> str:
        return f"hubex:{self.id}"

    @property
    def uses_cisu_namespace(self) -> bool:
        return self.id in CISU_NAMESPACE_PEERS


@cache
def fire_org(departement: str) -> Organisation:
    if departement in NEXSIS_STYLE:
        org_id = f"fr.fire.nexsis.sdis{departement}"
    else:
        org_id = f"fr.fire.sis{departement}.cgo-{departement}"
    return Organisation(org_id, f"sdis{departement}", f"SDIS {departement} - CTA-CODIS", departement)


@cache
def health_org(departement: str) -> Organisation:
    return Organisation(f"fr.health.samu{departement}", f"samu{departement}", f"SAMU {departement}",
                        departement)
