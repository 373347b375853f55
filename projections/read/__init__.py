"""The read side: what HTTP, the CLI and the live stream read, from the views and the event store.

`queries` reads the views (SQL, on the store's pooled connections), `rows` shapes a case row for
people and programs (one shaper for lists, most serious cases and the live stream), `model` is the
cached read model the HTTP app keeps for its lifetime, `case` reads one case back from its events.
"""
