"""The composition root: the adapters wired together, for the CLI, the HTTP app and the tests."""

from __future__ import annotations

from dataclasses import dataclass

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

    def close(self) -> None:
        self.store.close()


def open_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings.from_env()
    store = open_store(settings)
    # With the store's tables: created by their owner at the first start (deploy/README.md's grants).
    access_log.ensure_table(store)
    revocations.ensure_table(store)
    alert_store.ensure_tables(store)  # and the index of the platform's own acts on the events table
    sessions.ensure_tables(store)
    geography = get_geography(settings.cache_dir)
    return Services(settings, store, geography, Ingestor(store, geography))
