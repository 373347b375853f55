"""Invented but realistic French personal data for simulated calls: names, phone numbers, addresses.

Nothing here refers to real people; the pools are common French first names and surnames so that
the messages carry the same kind of personal data as real traffic (and exercise its redaction).
"""

from __future__ import annotations

import random

FIRST_NAMES_F = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Christine", "Françoise", "Monique",
    "Valérie", "Sandrine", "Nicole", "Véronique", "Stéphanie", "Céline", "Aurélie", "Julie",
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Jade", "Louise", "Alice", "Lina",
    "Anne", "Martine", "Jacqueline", "Brigitte", "Sophie", "Élodie", "Laetitia", "Émilie",
    "Pauline", "Margaux", "Clémence", "Océane", "Yvette", "Gisèle", "Odile", "Maëlle", "Nolwenn",
    "Gwenaëlle", "Solène", "Mathilde", "Raymonde", "Ginette", "Delphine", "Armelle", "Soizic",
    "Fatima", "Yasmine", "Samia", "Nadia", "Leïla", "Amandine", "Audrey", "Coralie", "Morgane",
)
FIRST_NAMES_M = (
    "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Patrick",
    "Daniel", "Bernard", "Éric", "Laurent", "Frédéric", "Stéphane", "David", "Olivier",
    "Thomas", "Julien", "Sébastien", "Guillaume", "Antoine", "Maxime", "Lucas", "Hugo",
    "Louis", "Gabriel", "Arthur", "Jules", "Léo", "Raphaël", "Yann", "Erwan", "Gwenaël",
    "Loïc", "Ronan", "Tanguy", "Mathieu", "Romain", "Benoît", "Gérard", "René", "Marcel",
    "Jacques", "Henri", "Robert", "Yves", "Didier", "Thierry", "Pascal", "Bruno", "Karim",
    "Mehdi", "Youssef", "Rachid", "Kévin", "Anthony", "Florian", "Quentin", "Baptiste", "Paul",
)
LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin",
    "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas",
    "Le Gall", "Le Goff", "Le Bihan", "Le Roux", "Kerouac", "Le Floch", "Guillou", "Tanguy",
    "Le Corre", "Quéméner", "Le Guen", "Riou", "Jaouen", "Cadiou", "Hamon", "Le Brun",
    "Lebreton", "Leclerc", "Lecomte", "Hébert", "Lemarchand", "Duchemin", "Marie", "Lecoq",
    "Santoni", "Leccia", "Mattei", "Casanova", "Paoli", "Orsini", "Pietri", "Luciani",
    "Olivier", "Peyre", "Bonnefoy", "Fabregas", "Roumieux", "Arnaud", "Castel", "Barthélemy",
    "Lefranc", "Delattre", "Vasseur", "Lemaître", "Dhont", "Declercq", "Vandenberghe", "Caullet",
    "Benali", "Haddad", "Belkacem", "Mansouri", "Nguyen", "Da Silva", "Ferreira", "Pereira",
)

STREET_TYPES = ("Rue", "Rue", "Rue", "Avenue", "Chemin", "Route", "Impasse", "Allée", "Place",
                "Boulevard", "Lieu-dit", "Quai")
STREET_NAMES = (
    "de la République", "Victor Hugo", "Jean Jaurès", "du Général de Gaulle", "Pasteur",
    "de la Gare", "de l'Église", "des Écoles", "du Moulin", "de la Mairie", "des Tilleuls",
    "des Lilas", "du Stade", "de la Fontaine", "Jules Ferry", "du 8 Mai 1945", "de Verdun",
    "des Peupliers", "du Château", "de Bretagne", "de la Libération", "Anatole France",
    "des Chênes", "du Port", "de la Mer", "des Mimosas", "des Pins", "de la Croix", "du Bourg",
    "Émile Zola", "Gambetta", "Carnot", "de la Paix", "des Acacias", "des Rosiers", "du Lavoir",
    "de la Prairie", "du Vieux Pont", "de la Rivière", "des Vignes", "des Oliviers", "de Provence",
    "Saint-Martin", "Sainte-Anne", "du Calvaire", "des Marronniers", "du Presbytère",
)

# (caller type from the RC-EDA enumeration, relation to the victim, caller gender or None)
CALLER_RELATIONS = (
    ("TIERS", "Voisin", "M"), ("TIERS", "Voisine", "F"), ("TIERS", "Passant", "M"),
    ("TIERS", "Passante", "F"), ("TIERS", "Automobiliste témoin", None), ("FAMILLE", "Fils de la victime", "M"),
    ("FAMILLE", "Fille de la victime", "F"), ("FAMILLE", "Épouse", "F"), ("FAMILLE", "Mari", "M"),
    ("SUJET", "La personne elle-même", None), ("TIERS", "Gardien de l'immeuble", "M"),
    ("TIERS", "Propriétaire des lieux", None), ("TIERS", "Gérante du camping", "F"), ("TIERS", "Agriculteur", "M"),
    ("SANTE.AIDEDOM", "Aide à domicile", "F"), ("TIERS", "Employé de mairie", "M"),
)

_FEMALE_WORDS = ("femme", "jeune femme", "mère", "résidente")
_MALE_WORDS = ("homme", "conducteur", "randonneur", "propriétaire", "occupant")


def gender_of(text: str | None) -> bool | None:
    """True (female) / False / None from the first words of a French description of a victim."""
    if not text:
        return None
    lowered = text.lower()
    if lowered.startswith(_FEMALE_WORDS):
        return True
    if lowered.startswith(_MALE_WORDS):
        return False
    return None


class Person:
    """A first name, last name and phone number, drawn once and reused in a case's messages."""

    __slots__ = ("first", "last", "phone")

    def __init__(self, first: str, last: str, phone: str) -> None:
        self.first, self.last, self.phone = first, last, phone

    @property
    def complete(self) -> str:
        return f"{self.first} {self.last}"


def phone_number(rng: random.Random) -> str:
    """A French mobile number, in the +33 form (as in the examples) or the national 0X form."""
    digits = f"{rng.choice('67')}{rng.randrange(10**8):08d}"
    return f"+33{digits}" if rng.random() < 0.7 else f"0{digits}"


def person(rng: random.Random, female: bool | None = None) -> Person:
    if female is None:
        female = rng.random() < 0.5
    first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
    return Person(first, rng.choice(LAST_NAMES), phone_number(rng))


def street(rng: random.Random) -> tuple[str, str, str]:
    """(number, way type, way name) of an invented address."""
    kind = rng.choice(STREET_TYPES)
    number = "" if kind == "Lieu-dit" else str(rng.randint(1, 140))
    return number, kind, rng.choice(STREET_NAMES)
