"""The composition root: the adapters wired together, for the CLI, the HTTP app and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.directory import seed, tables
from adapters.directory.lookups import DirectoryReader
from adapters.geography import Geography, get_geography
from adapters.ingest.ingestion import Ingestor
from adapters.settings import Settings
from adapters.store import access_log, revocations
from adapters.store.event_store import TocsinStore, open_store


@dataclass
class Services:
    settings: Settings
    store: TocsinStore
    geography: Geography
    ingestor: Ingestor
    directory: DirectoryReader  # domain.directory.Habilitations, and the directory's lookups

    def close(self) -> None:
        self.directory.close()
        self.store.close()


def open_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings.from_env()
    store = open_store(settings)
    # With the store's tables: created by their owner at the first start (deploy/README.md's grants).
    access_log.ensure_table(store)
    revocations.ensure_table(store)
    tables.ensure_tables(store)
    geography = get_geography(settings.cache_dir)
    # The directory is never empty: seeded from the reference geography before anything serves (once).
    seed.seed(store, geography)
    return Services(settings, store, geography, Ingestor(store, geography), DirectoryReader(store))
