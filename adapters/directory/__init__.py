"""The directory (domain.directory): its events in the event store, the read tables written with them,
the seeding from the reference geography, the lookups login and every request need, and its use cases."""
