"""The simulated crises: where they strike, when, and what kinds of incidents they cause.

A scenario is a list of incident profiles (real HubSante nature, location-kind and risk codes, the
vehicles a fire service would send, how long they stay, free texts) and a set of départements, each
hit around its own moment of the crisis (the storm front moves east, the flood goes downstream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["SCENARIOS", "EmsiProfile", "IncidentProfile", "Scenario", "get_scenario"]


@dataclass(frozen=True, slots=True)
class EmsiProfile:
    """How the fire service describes this kind of incident in EMSI (codes from the EMSI lists)."""

    category: str  # ETYPE.CATEGORY
    actor: str  # ETYPE.ACTOR
    loctype: str  # ETYPE.LOCTYPE
    env: str  # ETYPE.ENV
    egeo: str  # EGEO.TYPE
    weather: tuple[str, ...]  # EGEO.WEATHER
    mission: str  # MISSION.TYPE
    cause: str = "NAT"  # ACC / DEL / NAT
    probability: float = 0.3  # share of ordinary cases of this kind that get EMSI messages


@dataclass(frozen=True, slots=True)
class IncidentProfile:
    key: str
    weight: float
    nature: str  # HubSante.fait code as finally qualified
    location_kinds: tuple[str, ...]  # HubSante.lieu codes
    risks: tuple[str, ...]  # HubSante.risque codes, 0 to 2 of them are reported
    victims: tuple[tuple[str, float], ...]  # (HubSante.nbVictimes code, weight)
    package: tuple[str, ...]  # vehicles always sent (fleet.KINDS codes)
    on_scene_min: tuple[int, int]  # how long the vehicles work there (minutes)
    notes: tuple[str, ...]  # French call notes; {road} {street} {commune} {caller} {victim} filled in
    victim_texts: tuple[str, ...] = ()
    extras: tuple[tuple[str, float], ...] = ()  # (vehicle, probability)
    mistyped_nature: str | None = None  # what the operator may type first (corrected later)
    main_victims: tuple[str, ...] = ("ADULTE",)
    health_motives: tuple[str, ...] = ()  # HubSante.motif codes
    health_origin: float = 0.0  # probability that the SAMU created the case (15 call)
    on_road: bool = False  # address on a road (RD 137) rather than a street
    evacuated: tuple[int, int] = (0, 0)  # peak number of evacuated people
    evacuation_probability: float = 0.0
    major: bool = False  # a long operation with many vehicles and regular EMSI updates
    emsi: EmsiProfile | None = None


@dataclass(frozen=True)
class Scenario:
    key: str
    description: str
    # (département, relative intensity, moment of its peak as a fraction of the crisis)
    departements: tuple[tuple[str, float, float], ...]
    profiles: tuple[IncidentProfile, ...]
    start: str  # default local start (Europe/Paris)
    reinforcement_from: tuple[str, ...]
    roads: tuple[str, ...] = ("RD 12", "RD 34", "RD 137")  # roads of the area, for on-road incidents
    forest: frozenset[str] = frozenset()  # départements whose stations have forest-fire trucks
    station_extras: tuple[tuple[str, int], ...] = ()  # added to the ten largest stations (e.g. boats)
    population_exponent: float = 0.8  # commune weight = population ** exponent
    peak_width: float = 0.22  # spread of each département's peak (fraction of the crisis)
    # the crisis's overall case rate: (fraction of time, relative rate) points, linear in between
    intensity: tuple[tuple[float, float], ...] = ((0.0, 0.2), (0.3, 1.0), (0.6, 0.7), (1.0, 0.15))
    profile_index: dict[str, IncidentProfile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile_index", {p.key: p for p in self.profiles})

    def departement_weights(self, fraction: float) -> list[float]:
        """Each département's share of new cases at that moment of the crisis."""
        return [
            intensity * (0.08 + math.exp(-(((fraction - peak) / self.peak_width) ** 2)))
            for _, intensity, peak in self.departements
        ]


V0, V1, VP, VB, VI = "0", "1", "PLUSIEURS", "BEAUCOUP", "INCONNU"

_STORM_EMSI = EmsiProfile("ASR", "BEV", "URB/STRT", "DIS/STORM", "GEN/LOCAT", ("WIN/STORM", "HUM/RAIN"),
                          "FSTT/TA", probability=0.15)
_ROAD_EMSI = EmsiProfile("TRP/COL", "VEH/CAR", "ROAD/DCA", "DIS/TRSPRT", "GEN/LOCAT", ("WIN/STORM",),
                         "SAV/ASC", cause="ACC", probability=0.5)
_PERSON_EMSI = EmsiProfile("HLT", "PPL/VLN/ELD", "URB/RES", "DIS/PWROUT", "GEN/LOCAT", ("WIN",),
                           "SAV/AR/FR_MED", probability=0.4)

STORM = Scenario(
    key="storm",
    description=("Tempête hivernale traversant la Bretagne et la Normandie d'ouest en est : chutes "
                 "d'arbres, toitures arrachées, lignes électriques au sol, accidents de la route, caves "
                 "inondées et assistance aux personnes privées d'électricité."),
    departements=(("29", 1.4, 0.18), ("22", 1.0, 0.30), ("56", 1.0, 0.28), ("35", 1.1, 0.42),
                  ("44", 0.6, 0.40), ("50", 1.2, 0.55), ("14", 1.0, 0.65), ("61", 0.5, 0.70),
                  ("27", 0.5, 0.80), ("76", 0.7, 0.85)),
    start="2025-11-02T18:00:00",
    reinforcement_from=("53", "72", "49", "85", "37"),
    roads=("RN 12", "RN 164", "RN 165", "RN 176", "RD 787", "RD 764", "RD 137", "RN 13", "RN 174",
           "RD 900", "RD 675", "RD 513", "A 84", "RN 24", "RD 177", "RD 168"),
    population_exponent=0.75,
    profiles=(
        IncidentProfile(
            "arbre-chaussee", 24, "C08.05.00", ("L02.01.00", "L02.02.01"), ("R22", "R20"),
            ((V0, 0.95), (V1, 0.05)), ("VTU",), (30, 120),
            ("Arbre tombé en travers de la chaussée {road}, circulation impossible dans les deux sens",
             "Gros chêne couché sur la {road} à la sortie de {commune}, un automobiliste a pu s'arrêter à temps",
             "Arbres et branchages sur la voie, {caller} signale un risque de sur-accident"),
            extras=(("FPT", 0.3),), mistyped_nature="C07.07.01", on_road=True, emsi=_STORM_EMSI),
        IncidentProfile(
            "toiture", 15, "C08.05.00", ("L01.01.00", "L01.02.07"), ("R15", "R01"),
            ((V0, 1.0),), ("FPT", "EPA"), (60, 180),
            ("Toiture partiellement arrachée {street}, tuiles menaçant de tomber sur la voie publique",
             "Tôles du hangar arrachées par le vent, projections sur les habitations voisines",
             "Cheminée fissurée et tuiles envolées, les occupants se sont réfugiés chez un voisin"),
            extras=(("VLCG", 0.3),), emsi=_STORM_EMSI),
        IncidentProfile(
            "ligne-electrique", 10, "C09.01.03", ("L02.01.00",), ("R19", "R22"),
            ((V0, 1.0),), ("VTU",), (30, 90),
            ("Câbles électriques au sol après la chute d'un poteau {road}, ENEDIS prévenu",
             "Ligne moyenne tension arrachée par un arbre, étincelles sur la chaussée"),
            mistyped_nature="C08.05.00", on_road=True, emsi=_STORM_EMSI),
        IncidentProfile(
            "accident-route", 9, "C01.01.01", ("L02.01.00", "L02.02.01"), ("R22", "R30", "R28"),
            ((V1, 0.6), (VP, 0.35), (VI, 0.05)), ("VSAV", "VSR"), (40, 90),
            ("Véhicule léger contre un arbre tombé sur la {road}, conducteur incarcéré",
             "Collision entre deux véhicules sur la {road}, visibilité nulle sous les rafales",
             "Voiture dans le fossé après avoir heurté des branchages, la personne au volant, {victim}, "
             "est choquée mais consciente"),
            ("Conducteur d'une cinquantaine d'années, douleur thoracique, conscient",
             "Jeune femme, plaie au front, incarcérée côté conducteur",
             "Deux occupants, un blessé léger et un passager se plaignant des cervicales"),
            extras=(("VLM", 0.35), ("FPT", 0.3)), main_victims=("ADULTE", "SENIOR"),
            health_motives=("M02.07", "M02.06", "M02.08"), on_road=True, emsi=_ROAD_EMSI),
        IncidentProfile(
            "cave-inondee", 12, "C08.01.00", ("L01.02.06", "L01.01.04"), ("R18",),
            ((V0, 1.0),), ("VTU",), (60, 180),
            ("Cave inondée sous 40 cm d'eau {street}, chaudière menacée",
             "Sous-sol du pavillon inondé, la pompe de relevage ne fonctionne plus faute de courant"),
            mistyped_nature="C09.02.00", emsi=_STORM_EMSI),
        IncidentProfile(
            "personne-oxygene", 8, "C02.05.01", ("L01.01.01",), ("R34",),
            ((V1, 1.0),), ("VSAV",), (30, 60),
            ("{victim}, sous oxygène à domicile, sans électricité depuis la coupure, concentrateur à l'arrêt",
             "Personne âgée dépendante d'une assistance respiratoire, plus de batterie, {caller} inquiète"),
            ("Homme de 78 ans, insuffisant respiratoire, saturation basse", "Femme de 84 ans, BPCO, essoufflée"),
            main_victims=("SENIOR",), health_motives=("M01.03", "M03.12"), health_origin=0.5, emsi=_PERSON_EMSI),
        IncidentProfile(
            "chute-personne", 6, "C02.11.02", ("L01.01.01", "L01.01.02"), (),
            ((V1, 1.0),), ("VSAV",), (20, 50),
            ("{victim} a chuté en sortant ranger son jardin pendant les rafales, ne peut se relever",
             "Chute dans l'escalier dans le noir pendant la coupure de courant"),
            ("Femme de 81 ans, douleur à la hanche", "Homme de 67 ans, plaie au cuir chevelu"),
            main_victims=("SENIOR",), health_motives=("M06.03", "M02.06"), health_origin=0.3),
        IncidentProfile(
            "intoxication-co", 3, "C02.07.04", ("L01.01.01",), ("R12", "R26"),
            ((VP, 1.0),), ("FPT", "VSAV"), (45, 90),
            ("Groupe électrogène utilisé dans le garage, famille incommodée, maux de tête et nausées",
             "Chauffage d'appoint au pétrole pendant la coupure, deux enfants somnolents"),
            ("Famille de quatre personnes, céphalées", "Deux adultes et un enfant, nausées"),
            extras=(("VLM", 0.5),), main_victims=("ADULTE", "ENFANT"), health_motives=("M04.02",),
            emsi=EmsiProfile("ASR/ATM", "PPL/GRP", "URB/RES", "DIS/PWROUT", "DGR/CHM", ("WIN",),
                             "FSTT/RRHAZ/FR_CO", cause="ACC", probability=0.6)),
        IncidentProfile(
            "incendie-habitation", 3, "C04.02.01", ("L01.01.01",), ("R14",),
            ((V0, 0.7), (V1, 0.3)), ("FPT", "FPT", "EPA", "VSAV", "VLCG"), (90, 240),
            ("Feu de maison d'habitation suite à un court-circuit, fumées importantes {street}",
             "Incendie dans les combles après la chute d'une ligne sur le toit"),
            ("Occupant incommodé par les fumées",), main_victims=("ADULTE", "SENIOR"),
            health_motives=("M02.05",),
            emsi=EmsiProfile("FIR/CLA", "BEV/RESDW", "URB/RES", "DIS/FIRE", "FLAME", ("WIN/STORM",),
                             "FFST/FR_FIRE", cause="ACC", probability=0.6)),
        IncidentProfile(
            "immeuble-peril", 3, "C09.05.00", ("L01.02.07", "L01.02.00"), ("R15",),
            ((V0, 1.0),), ("EPA", "VTU"), (60, 150),
            ("Cheminée de l'immeuble menaçant de s'effondrer sur le trottoir {street}",
             "Façade fissurée et pignon instable après les rafales, périmètre de sécurité demandé"),
            emsi=_STORM_EMSI),
        IncidentProfile(
            "bateau-amarres", 1, "C11.05.01", ("L05.04.03",), ("R20",),
            ((V0, 0.8), (V1, 0.2)), ("BLS", "VTU"), (60, 180),
            ("Voilier ayant rompu ses amarres dans le port, drossé contre la digue",),
            emsi=EmsiProfile("ASR/MAR", "VEH/VES/SAI", "COAST/BNK", "DIS/STORM", "GEN/LOCAT",
                             ("WIN/STORM",), "FSTT/TA", probability=0.4)),
        IncidentProfile(
            "camping-evacue", 0.35, "C08.05.00", ("L04.12.02",), ("R27", "R15"),
            ((VP, 0.7), (VB, 0.3)), ("FPT", "FPT", "VSAV", "VSAV", "VTU", "VTU", "VLCG", "PC"), (240, 600),
            ("Camping et mobil-homes dévastés par les rafales, nombreux vacanciers à évacuer vers la salle des fêtes",
             "Effondrement partiel du toit du gymnase servant d'abri, occupants à évacuer"),
            ("Plusieurs blessés légers, une personne âgée en hypothermie",),
            main_victims=("ADULTE", "SENIOR", "ENFANT"), health_motives=("M02.06",),
            evacuated=(60, 260), evacuation_probability=1.0, major=True,
            emsi=EmsiProfile("ASR", "PPL/GRP", "NAT", "DIS/STORM", "GEN/EVENT", ("WIN/STORM", "HUM/RAIN"),
                             "SAV/RHD", probability=1.0)),
    ),
)

_FIRE_EMSI = EmsiProfile("FIR/CLA", "BEV", "NAT/HFR", "DIS/FIRE", "FLAME", ("WIN", "TMP"),
                         "FFST/FR_FIRE", probability=0.5)

WILDFIRE = Scenario(
    key="wildfire",
    description=("Épisode de feux de forêt en Provence et en Corse par fort mistral : départs de feux, "
                 "habitations menacées, évacuations de campings et de quartiers, personnes brûlées."),
    departements=(("13", 1.3, 0.25), ("83", 1.3, 0.45), ("84", 0.8, 0.35), ("04", 0.5, 0.55),
                  ("2A", 0.6, 0.60), ("2B", 0.7, 0.70), ("06", 0.5, 0.75)),
    start="2025-07-22T12:00:00",
    reinforcement_from=("30", "34", "26", "07", "38", "69"),
    roads=("RN 7", "RD 7N", "RD 8N", "RD 559", "RD 9", "RD 943", "RD 900", "RD 554", "RD 25", "RD 98",
           "A 8", "A 57", "RT 20", "RT 10", "RT 11", "RD 81", "RD 84"),
    forest=frozenset({"13", "83", "84", "04", "2A", "2B", "06"}),
    population_exponent=0.45,  # fires start in the massifs, not in city centres
    intensity=((0.0, 0.4), (0.2, 1.0), (0.45, 0.9), (0.6, 0.5), (0.8, 0.8), (1.0, 0.2)),
    profiles=(
        IncidentProfile(
            "feu-foret", 26, "C04.05.00", ("L05.01.03", "L05.02.01"), ("R14", "R20"),
            ((V0, 0.9), (VI, 0.1)), ("CCF", "CCF", "CCF", "CCF", "VLHR"), (120, 360),
            ("Fumée visible depuis la départementale, feu de pinède en progression rapide vers {commune}",
             "Départ de feu en bord de {road}, vent fort, le feu gagne les restanques",
             "Feu de forêt sur le massif, front de flammes d'environ 200 mètres"),
            extras=(("DRAGON", 0.15), ("PELICAN", 0.15), ("VLCG", 0.4)), mistyped_nature="C04.07.01",
            on_road=True, evacuated=(5, 60), evacuation_probability=0.15, emsi=_FIRE_EMSI),
        IncidentProfile(
            "feu-vegetation", 24, "C04.05.00", ("L05.01.02", "L05.01.01"), ("R14",),
            ((V0, 1.0),), ("CCF", "CCF"), (45, 150),
            ("Feu de broussailles en bordure de {road}, une centaine de mètres carrés",
             "Feu de chaume dans un champ à la sortie de {commune}",
             "Herbes sèches en feu le long de la voie ferrée"),
            mistyped_nature="C04.07.01", on_road=True, emsi=_FIRE_EMSI),
        IncidentProfile(
            "habitation-menacee", 8, "C04.02.01", ("L01.01.02", "L01.01.01"), ("R14", "R20"),
            ((V0, 0.8), (V1, 0.2)), ("FPT", "CCF", "CCF"), (60, 180),
            ("Flammes aux abords de la villa {street}, haie de cyprès en feu, occupants sur place",
             "Maison menacée par le feu, {caller} arrose son jardin et refuse de partir"),
            ("Propriétaire incommodé par les fumées",), evacuated=(2, 12), evacuation_probability=0.6,
            health_motives=("M02.05",), emsi=_FIRE_EMSI),
        IncidentProfile(
            "personne-brulee", 5, "C02.07.03", ("L01.01.02", "L05.01.03"), ("R30",),
            ((V1, 0.8), (VP, 0.2)), ("VSAV",), (30, 60),
            ("{victim} : brûlures aux bras en tentant d'éteindre le feu de son jardin",
             "Randonneur pris dans les fumées, brûlures au visage"),
            ("Homme de 45 ans, brûlures du 2e degré aux avant-bras", "Femme de 30 ans, brûlure au visage"),
            extras=(("VLM", 0.6),), health_motives=("M02.04", "M02.05"), health_origin=0.3,
            emsi=EmsiProfile("FIR/CLA", "PPL/VLN/INJ", "NAT/HFR", "DIS/FIRE", "FLAME", ("WIN", "TMP"),
                             "SAV/AR/FR_MED", probability=0.6)),
        IncidentProfile(
            "coup-de-chaleur", 8, "C02.07.01", ("L01.01.01", "L04.01.00"), ("R34",),
            ((V1, 1.0),), ("VSAV",), (20, 50),
            ("{victim} : malaise par forte chaleur, confusion, peau brûlante",
             "Sapeur-pompier victime d'un coup de chaleur sur le chantier du feu"),
            ("Personne âgée vivant seule, température 40°C",), main_victims=("SENIOR", "ADULTE"),
            health_motives=("M02.03",), health_origin=0.5),
        IncidentProfile(
            "accident-fumee", 5, "C01.01.01", ("L02.01.00", "L02.02.01"), ("R22", "R30"),
            ((V1, 0.6), (VP, 0.4)), ("VSAV", "FPT"), (40, 90),
            ("Carambolage dans les fumées sur la {road}, visibilité nulle",
             "Véhicule sorti de route, le conducteur aveuglé par la fumée"),
            ("Conducteur choqué, douleur cervicale",), extras=(("VLM", 0.3),),
            health_motives=("M02.07",), on_road=True, emsi=_ROAD_EMSI),
        IncidentProfile(
            "feu-vehicule", 6, "C04.01.01", ("L02.01.00",), ("R22",),
            ((V0, 1.0),), ("FPT",), (30, 75),
            ("Véhicule en feu sur le bas-côté de la {road}, risque de propagation à la végétation",),
            on_road=True),
        IncidentProfile(
            "incendie-agricole", 4, "C04.03.00", ("L03.02.00",), ("R14",),
            ((V0, 1.0),), ("FPT", "CCF", "CCF"), (90, 240),
            ("Hangar agricole et balles de foin en feu, le feu menace la garrigue",),
            emsi=_FIRE_EMSI),
        IncidentProfile(
            "camping-evacue", 0.5, "C04.05.00", ("L04.12.02",), ("R14", "R27"),
            ((VP, 0.7), (VB, 0.3)),
            ("CCF", "CCF", "CCF", "CCF", "CCF", "CCF", "CCF", "CCF", "FPT", "FPT", "VSAV", "VSAV", "PC",
             "VLHR", "VLHR", "DRAGON", "PELICAN"), (480, 1200),
            ("Feu aux portes du camping, évacuation des vacanciers vers le gymnase de {commune}",
             "Le feu a franchi la route, évacuation d'un lotissement et d'un camping"),
            ("Plusieurs personnes incommodées par les fumées, un campeur brûlé aux jambes",),
            main_victims=("ADULTE", "ENFANT", "SENIOR"), health_motives=("M02.04", "M01.03"),
            evacuated=(200, 1500), evacuation_probability=1.0, major=True,
            emsi=EmsiProfile("FIR/CLA", "PPL/GRP", "NAT/HFR", "DIS/FIRE", "GEN/EVENT", ("WIN", "TMP"),
                             "SAV/RHD", probability=1.0)),
        IncidentProfile(
            "feu-massif", 0.5, "C04.05.00", ("L05.01.03", "L05.02.02"), ("R14", "R20"),
            ((V0, 0.6), (VP, 0.4)),
            ("CCF",) * 12 + ("VLHR", "VLHR", "VLHR", "PC", "DRAGON", "PELICAN", "PELICAN", "CCGC", "CCGC"),
            (720, 1440),
            ("Feu de forêt majeur sur le massif au nord de {commune}, plusieurs fronts, mistral à 80 km/h",),
            ("Deux sapeurs-pompiers légèrement blessés",), health_motives=("M02.05",),
            evacuated=(50, 600), evacuation_probability=1.0, major=True,
            emsi=EmsiProfile("FIR/CLA", "BEV", "NAT/HFR", "DIS/FIRE", "FLAME", ("WIN", "TMP", "VIS/SMOKE"),
                             "FFST/FR_FIRE", probability=1.0)),
    ),
)

_FLOOD_EMSI = EmsiProfile("FLD/PLN", "BEV/RESDW", "URB/RES", "DIS/FLOOD", "GEN/LOCAT", ("HUM/RAIN",),
                          "SAV/RHD", probability=0.3)

FLOOD = Scenario(
    key="flood",
    description=("Crue de l'Aa, de la Liane et de la Canche puis de la Lys et de la Somme après des "
                 "pluies continues : habitations inondées, évacuations, sauvetages de personnes "
                 "bloquées et véhicules submergés."),
    departements=(("62", 1.6, 0.35), ("59", 1.0, 0.55), ("80", 0.8, 0.70)),
    start="2025-11-06T06:00:00",
    reinforcement_from=("60", "02", "76", "27", "95", "77"),
    roads=("RD 901", "RD 940", "RD 928", "RD 939", "RN 1", "RN 42", "RD 943", "RD 916", "RD 1001",
           "RD 929", "A 16", "A 26", "RN 25", "RD 1"),
    station_extras=(("BLS", 1),),  # nautical teams are part of every large station along the rivers
    population_exponent=0.7,
    peak_width=0.3,
    intensity=((0.0, 0.15), (0.25, 0.7), (0.5, 1.0), (0.75, 0.6), (1.0, 0.3)),
    profiles=(
        IncidentProfile(
            "habitation-inondee", 24, "C08.01.00", ("L01.01.01", "L01.02.03"), ("R18",),
            ((V0, 0.9), (VI, 0.1)), ("VTU",), (60, 180),
            ("Eau dans la maison {street}, 30 cm au rez-de-chaussée et ça monte",
             "Habitation inondée, {caller} demande une motopompe, personnes âgées à l'étage"),
            extras=(("FPT", 0.3),), evacuated=(1, 6), evacuation_probability=0.4, emsi=_FLOOD_EMSI),
        IncidentProfile(
            "personnes-bloquees", 10, "C08.01.00", ("L01.01.01", "L01.02.00"), ("R18", "R32"),
            ((V0, 0.5), (VP, 0.5)), ("BLS", "VTU"), (60, 180),
            ("Famille réfugiée à l'étage, 1,20 m d'eau au rez-de-chaussée {street}, demande d'évacuation",
             "Personne âgée isolée par les eaux, plus d'accès par la route"),
            ("Personne âgée sous dialyse, doit être évacuée",), main_victims=("SENIOR", "ADULTE", "ENFANT"),
            evacuated=(2, 10), evacuation_probability=0.9,
            emsi=EmsiProfile("FLD/PLN", "PPL/GRP", "URB/RES", "DIS/FLOOD", "GEN/LOCAT", ("HUM/RAIN",),
                             "SAV/RHD", probability=0.7)),
        IncidentProfile(
            "vehicule-submerge", 6, "C08.01.00", ("L02.01.00", "L02.05.01"), ("R31", "R22"),
            ((V1, 0.7), (VP, 0.3)), ("BLS", "VSAV"), (45, 120),
            ("Voiture emportée par le courant sur la {road} submergée, occupant sur le toit",
             "Automobiliste bloqué dans son véhicule au milieu de la chaussée inondée"),
            ("Conducteur en hypothermie", "Mère et enfant transis de froid"),
            extras=(("VLM", 0.4), ("VPL", 0.3)), health_motives=("M02.03",), on_road=True,
            emsi=EmsiProfile("ASR/WAT", "VEH/CAR", "ROAD/DCA", "DIS/FLOOD", "GEN/LOCAT", ("HUM/RAIN",),
                             "SAV/ASC", probability=0.7)),
        IncidentProfile(
            "noyade", 2, "C02.10.00", ("L05.03.01",), ("R31",),
            ((V1, 1.0),), ("BLS", "VPL", "VSAV"), (60, 180),
            ("Personne tombée dans la rivière en crue au niveau du pont, emportée par le courant",),
            ("Homme d'une trentaine d'années, disparu sous l'eau",), extras=(("VLM", 0.7),),
            health_motives=("M01.01",),
            emsi=EmsiProfile("ASR/WAT", "PPL/1", "INW/RIV", "DIS/FLOOD", "GEN/SEARAR", ("HUM/RAIN",),
                             "SAV/ASC", probability=0.8)),
        IncidentProfile(
            "cave-inondee", 15, "C08.01.00", ("L01.02.06", "L01.01.04"), ("R18",),
            ((V0, 1.0),), ("VTU",), (60, 150),
            ("Cave et garage inondés {street}, la chaudière est sous l'eau",
             "Sous-sol inondé par remontée de nappe, demande d'épuisement"),
            mistyped_nature="C09.02.00"),
        IncidentProfile(
            "assistance-personne", 8, "C02.05.01", ("L01.01.01",), ("R34",),
            ((V1, 1.0),), ("VSAV",), (30, 60),
            ("{victim} : isolement par les eaux, plus de traitement depuis deux jours, malaise",
             "Personne diabétique bloquée chez elle sans insuline"),
            ("Femme de 79 ans, diabétique, asthénie",), main_victims=("SENIOR",),
            health_motives=("M03.09", "M05.01"), health_origin=0.4),
        IncidentProfile(
            "eboulement", 4, "C08.06.00", ("L02.01.00",), ("R15", "R22"),
            ((V0, 1.0),), ("VTU", "FPT"), (60, 180),
            ("Glissement de terrain sur la {road}, coulée de boue sur la chaussée",), on_road=True,
            emsi=EmsiProfile("GND/MUD", "BEV", "ROAD/DCA", "DIS/LNDSLD", "GEN/LOCAT", ("HUM/RAIN",),
                             "FSTT/TA", probability=0.4)),
        IncidentProfile(
            "affaissement", 3, "C08.07.00", ("L02.01.00",), ("R22",),
            ((V0, 1.0),), ("VTU",), (45, 120),
            ("Affaissement de la chaussée {road}, trou d'un mètre de profondeur",), on_road=True),
        IncidentProfile(
            "pollution-fioul", 2, "C08.08.02", ("L01.01.04", "L05.03.01"), ("R07",),
            ((V0, 1.0),), ("VTU", "FPT"), (60, 180),
            ("Cuve à fioul renversée par la crue, nappe d'hydrocarbures sur l'eau",),
            emsi=EmsiProfile("POL/CHM", "BEV", "INW/RIV", "DIS/FLOOD", "DGR/CHM", ("HUM/RAIN",),
                             "FSTT/TA", probability=0.5)),
        IncidentProfile(
            "panne-electrique", 3, "C09.01.02", ("L06.02.00", "L01.02.00"), ("R19",),
            ((V0, 1.0),), ("VTU",), (30, 90),
            ("Transformateur noyé, quartier privé d'électricité, ENEDIS prévenu",)),
        IncidentProfile(
            "accident-route", 4, "C01.01.01", ("L02.01.00",), ("R22", "R30"),
            ((V1, 0.7), (VP, 0.3)), ("VSAV", "VSR"), (40, 90),
            ("Véhicule ayant quitté la route inondée sur la {road}, occupants choqués",),
            ("Conducteur, douleur thoracique",), health_motives=("M02.07",), on_road=True,
            emsi=_ROAD_EMSI),
        IncidentProfile(
            "ehpad-evacue", 0.5, "C08.01.00", ("L04.09.01",), ("R18", "R27", "R34"),
            ((VP, 0.6), (VB, 0.4)), ("VSAV", "VSAV", "VSAV", "BLS", "BLS", "VTU", "VLCG", "PC"), (300, 720),
            ("Eau dans le rez-de-chaussée de l'EHPAD de {commune}, "
             "évacuation des résidents vers le centre hospitalier",),
            ("Résidents âgés dépendants, plusieurs grabataires",), main_victims=("SENIOR",),
            health_motives=("M05.01",), evacuated=(30, 90), evacuation_probability=1.0, major=True,
            emsi=EmsiProfile("FLD/PLN", "BEV/RESIN", "URB/HOSP", "DIS/FLOOD", "GEN/EVENT", ("HUM/RAIN",),
                             "SAV/RHD", probability=1.0)),
        IncidentProfile(
            "quartier-evacue", 0.6, "C08.01.00", ("L01.02.00", "L01.01.00"), ("R18", "R27"),
            ((V0, 0.4), (VP, 0.6)),
            ("BLS", "BLS", "BLS", "BLS", "VTU", "VTU", "VTU", "FPT", "FPT", "VSAV", "VSAV", "PC", "VLCG"),
            (480, 1440),
            ("La rivière a débordé, quartier sous un mètre d'eau, évacuation des habitants par embarcations",),
            ("Plusieurs personnes en hypothermie",), main_victims=("ADULTE", "SENIOR", "ENFANT"),
            health_motives=("M02.03",), evacuated=(150, 1200), evacuation_probability=1.0, major=True,
            emsi=EmsiProfile("FLD/PLN", "PPL/EVC", "URB/RES", "DIS/FLOOD", "GEN/EVENT", ("HUM/RAIN",),
                             "SAV/RHD", probability=1.0)),
    ),
)

SCENARIO_OBJECTS: dict[str, Scenario] = {s.key: s for s in (STORM, WILDFIRE, FLOOD)}
SCENARIOS: dict[str, str] = {key: s.description for key, s in SCENARIO_OBJECTS.items()}


def get_scenario(key: str) -> Scenario:
    try:
        return SCENARIO_OBJECTS[key]
    except KeyError:
        raise ValueError(f"unknown scenario {key!r}; choose one of {', '.join(SCENARIOS)}") from None
