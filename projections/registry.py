"""The views, each declared once: the worker, the rebuild, the status and the CLI iterate over `VIEWS`.

Every view is fed by the same fold (`projections.fold.fold_batch`), which turns a batch of case events
into `Changes`: the case list keeps the batch's case rows (one row per case, `projections.case_list`),
each territory view adds its level's deltas to the figures of the territories they touch
(`projections.territory`). A view has one live table, one tracking row (its position: the last
notification id folded, written in the same transaction as its rows) and, while it is being rebuilt,
a shadow table and tracking row that are swapped in at the end (`projections.store.rebuild`).

A view's `shape` says what its rows hold: raise it when the fold writes them differently (new
counters, say). A store whose views were folded with another shape folds them again from zero when
it next opens them (`projections.store.view_store.ensure_tables`), rather than showing stale figures.

Adding a view means declaring it here; the PostgreSQL side (`projections.store.view_store`) creates,
writes and rebuilds whatever is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.geography import Level

TABLE_PREFIX = "tocsin_view_"
SHADOW_TABLE_SUFFIX = "_rebuild"
REBUILD_SUFFIX = "@rebuild"  # the tracking row of a rebuild in progress


@dataclass(frozen=True)
class View:
    """One view: its name (CLI, status, tracking row), a French label for people, and what it folds:
    the case rows (`level` None) or the figures of the territories of one level."""

    name: str
    label: str
    level: Level | None = None
    shape: int = 1  # see the module's docstring; 2: the open cases' victims (issue #22)

    @property
    def is_case_list(self) -> bool:
        return self.level is None

    def table(self, *, shadow: bool = False) -> str:
        return TABLE_PREFIX + self.name + (SHADOW_TABLE_SUFFIX if shadow else "")

    def tracking(self, *, shadow: bool = False) -> str:
        return self.name + (REBUILD_SUFFIX if shadow else "")


CASE_LIST = View("cases", "liste des affaires")
COMMUNES = View(Level.COMMUNE.value, "communes", Level.COMMUNE, shape=2)
DEPARTEMENTS = View(Level.DEPARTEMENT.value, "départements", Level.DEPARTEMENT, shape=2)
ZONES = View(Level.ZONE.value, "zones de défense", Level.ZONE, shape=2)
NATIONAL = View(Level.NATIONAL.value, "national", Level.NATIONAL, shape=2)

VIEWS: tuple[View, ...] = (CASE_LIST, COMMUNES, DEPARTEMENTS, ZONES, NATIONAL)
BY_NAME: dict[str, View] = {v.name: v for v in VIEWS}
BY_LEVEL: dict[Level, View] = {v.level: v for v in VIEWS if v.level is not None}
NAMES: tuple[str, ...] = tuple(BY_NAME)
ALL = ("all", "tout", "toutes")  # what a person may type for every view


class UnknownView(ValueError):
    """A name that no view answers to (message in French, for users)."""


def select(names: Iterable[str]) -> list[View]:
    """The views of these names (or all of them for `all`), in the registry's order."""
    wanted = set(names)
    if wanted & set(ALL):
        return list(VIEWS)
    unknown = wanted - BY_NAME.keys()
    if unknown:
        raise UnknownView(
            f"projection(s) inconnue(s) : {', '.join(sorted(unknown))} (au choix : {', '.join(NAMES)} ou all)"
        )
    return [v for v in VIEWS if v.name in wanted]
