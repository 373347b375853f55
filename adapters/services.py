"""The composition root: the adapters wired together, for the CLI, the HTTP app and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from adapters import metrics
from adapters.crisis import attach_store
from adapters.directory import seed, tables
from adapters.directory.lookups import DirectoryReader
from adapters.geography import Geography, get_geography
from adapters.ingest.ingestion import Ingestor
from adapters.notify import alert_store
from adapters.settings import Settings
from adapters.store import access_log, revocations, sessions
from adapters.store.event_store import TocsinStore, open_store


@dataclass
class Services:
    settings: Settings
    store: TocsinStore
    geography: Geography
    ingestor: Ingestor
    directory: DirectoryReader  # domain.directory.Habilitations, and the directory's lookups

    def ensure_directory(self) -> None:
        """Seed the directory from the reference geography if this store's is not yet (once per process and
        store; then free). Called before a server serves and by every directory act: the directory is never
        empty where it is used, and stores that never serve nor use it (most tests) do not pay for it."""
        seed.seed(self.store, self.geography)

    def close(self) -> None:
        self.directory.close()
        self.store.close()


def open_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings.from_env()
    store = open_store(settings)
    # With the store's tables: created by their owner at the first start (deploy/README.md's grants).
    access_log.ensure_table(store)
    revocations.ensure_table(store)
    alert_store.ensure_tables(store)  # and the index of the platform's own acts on the events table
    sessions.ensure_tables(store)
    tables.ensure_tables(store)
    attach_store.ensure_tables(store)
    geography = get_geography(settings.cache_dir)
    metrics.watch_pool("store", store.tocsin_recorder.datastore.pool)
    return Services(settings, store, geography, Ingestor(store, geography),
                    DirectoryReader(store, geography))
