"""Kinds of engaged resources, as French fire and rescue services name their vehicles.

RC-RI only types a vehicle as `SIS` or `SMUR`; the dashboards need "how many VSAV, FPT, CCF are
engaged". NexSIS resource names start with the usual abbreviation ("FPT 1 Rennes Centre",
"VSAV 2 caserne SDIS69"), so the kind is read from there, and stays the sender's type otherwise.
"""

from __future__ import annotations

import re

# The common abbreviations of French fire and rescue (SDIS) and SAMU vehicles.
VEHICLE_KINDS: dict[str, str] = {
    "VSAV": "Véhicule de secours et d'assistance aux victimes",
    "FPT": "Fourgon pompe-tonne",
    "FPTL": "Fourgon pompe-tonne léger",
    "FPTGP": "Fourgon pompe-tonne grande puissance",
    "CCF": "Camion-citerne feux de forêts",
    "CCFM": "Camion-citerne feux de forêts moyen",
    "CCGC": "Camion-citerne grande capacité",
    "EPA": "Échelle pivotante automatique",
    "EPS": "Échelle pivotante semi-automatique",
    "VSR": "Véhicule de secours routier",
    "VTU": "Véhicule tous usages",
    "VLHR": "Véhicule léger hors route",
    "VL": "Véhicule léger",
    "VLCG": "Véhicule léger chef de groupe",
    "VLM": "Véhicule léger médicalisé",
    "VPC": "Véhicule poste de commandement",
    "BEA": "Bateau d'emploi aléatoire",
    "VIRT": "Véhicule d'intervention risques technologiques",
    "MPR": "Moto-pompe remorquable",
    "DRAGON": "Hélicoptère de la sécurité civile",
    "UMH": "Unité mobile hospitalière",
    "SMUR": "Service mobile d'urgence et de réanimation",
    "VPSP": "Véhicule de premiers secours à personnes",
}

_FIRST_TOKEN = re.compile(r"[A-Za-zÀ-ÿ]+")


def vehicle_kind(name: str | None, vehicle_type: str | None) -> str:
    """The kind of a resource: the abbreviation its name starts with, else the sender's type."""
    if name:
        match = _FIRST_TOKEN.match(name.strip())
        if match and match.group(0).upper() in VEHICLE_KINDS:
            return match.group(0).upper()
    return (vehicle_type or "AUTRE").upper()


def vehicle_kind_label(kind: str) -> str:
    return VEHICLE_KINDS.get(kind, kind)
