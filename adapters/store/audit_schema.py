"""The audit chain's tables and trigger, created by the recorder with the other tables.

The chain is computed by a statement-level AFTER INSERT trigger on the events table (with the new rows
as a transition table), in the same transaction as the insert: no event can be committed without its
link. The library takes an EXCLUSIVE lock on the events table before inserting, so inserts are
serialised and reading the previous link is safe; the trigger still refuses a notification id that
does not increase, rather than trust that.

Set-wise, for speed (the library inserts a whole batch in one INSERT): the event hashes of all new
rows come from one join with the message index and raw messages (which TocsinRecorder._insert_events
writes before the events, in the same transaction), only the chain hash is computed in a loop (each
covers the previous one), and all links are written by one INSERT. Every link of a statement shares
the same `chained_at` (the batch commits as one). A row-level trigger doing the same per row cost far
more per event.

Each link hashes the event row (identity, topic, SHA-256 of the stored encrypted state) and the event's
message index row with the SHA-256 of its stored raw message, so an auditor can tie each event to its
exact message. The hash layout is replay/audit_hashes.py's; the two must stay identical.

Statements are psycopg SQL templates formatted with `schema`, the same way as adapters/event_store.py.
"""

from __future__ import annotations

AUDIT_TABLES = ("tocsin_chain", "tocsin_seals")

CREATE_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_chain (
        position bigint PRIMARY KEY,
        notification_id bigint NOT NULL UNIQUE,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        chained_at timestamptz NOT NULL,
        state_hash bytea NOT NULL,
        message_hash bytea,
        event_hash bytea NOT NULL,
        chain_hash bytea NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tocsin_chain_chained_at_idx ON {schema}.tocsin_chain (chained_at)",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_seals (
        id bigserial PRIMARY KEY,
        position bigint NOT NULL,
        notification_id bigint NOT NULL,
        chain_hash bytea NOT NULL,
        sealed_at timestamptz NOT NULL,
        key_id text NOT NULL,
        signature bytea NOT NULL)""",
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_field(b bytea) RETURNS bytea
        LANGUAGE sql IMMUTABLE AS
        $$ SELECT CASE WHEN b IS NULL THEN '\\xffffffff'::bytea ELSE pg_catalog.int4send(length(b)) || b END $$""",
    # STABLE, not IMMUTABLE: extract() on a timestamptz is STABLE, and PostgreSQL only inlines a SQL
    # function whose body is no more volatile than declared (inlined, it costs nothing per row).
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_micros(t timestamptz) RETURNS bytea
        LANGUAGE sql STABLE AS
        $$ SELECT convert_to(((extract(epoch FROM t) * 1000000)::bigint)::text, 'UTF8') $$""",
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_chain_events() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        previous record;
        pos bigint := 0;
        previous_hash bytea := decode(repeat('00', 32), 'hex');
        at timestamptz := clock_timestamp();
        chain_prefix bytea := convert_to('tocsin-chain-v1', 'UTF8');
        at_field bytea;
        nids bigint[];
        oids uuid[];
        versions bigint[];
        s_hashes bytea[];
        m_hashes bytea[];
        e_hashes bytea[];
        c_hashes bytea[];
        n integer;
    BEGIN
        -- Every new row's event hash, set-wise: the new rows with their message index row and raw message
        -- (both written earlier in this transaction by TocsinRecorder._insert_events), looked up by index
        -- (LATERAL ... OFFSET 0: one index probe per new row, never a scan of the whole message table).
        -- Each layer hashes plain columns of the layer below (OFFSET 0 keeps the layers apart), so that
        -- PostgreSQL inlines tocsin_field() instead of calling it as a function for every value.
        SELECT array_agg(z.notification_id ORDER BY z.notification_id),
               array_agg(z.originator_id ORDER BY z.notification_id),
               array_agg(z.originator_version ORDER BY z.notification_id),
               array_agg(z.s_hash ORDER BY z.notification_id),
               array_agg(z.m_hash ORDER BY z.notification_id),
               array_agg(pg_catalog.sha256(convert_to('tocsin-event-v1', 'UTF8')
                   || {schema}.tocsin_field(z.nid_b)
                   || {schema}.tocsin_field(z.oid_b)
                   || {schema}.tocsin_field(z.version_b)
                   || {schema}.tocsin_field(z.topic_b)
                   || {schema}.tocsin_field(z.s_hash)
                   || {schema}.tocsin_field(z.m_hash)) ORDER BY z.notification_id)
            INTO nids, oids, versions, s_hashes, m_hashes, e_hashes
            FROM (
                SELECT y.*,
                       CASE WHEN y.distribution_id IS NOT NULL THEN
                           pg_catalog.sha256(convert_to('tocsin-message-v1', 'UTF8')
                           || {schema}.tocsin_field(y.distribution_b)
                           || {schema}.tocsin_field(y.case_b)
                           || {schema}.tocsin_field(y.kind_b)
                           || {schema}.tocsin_field(y.sender_b)
                           || {schema}.tocsin_field(y.sent_b)
                           || {schema}.tocsin_field(y.received_b)
                           || {schema}.tocsin_field(y.raw_sha256)
                           || {schema}.tocsin_field(y.source_b)
                           || {schema}.tocsin_field(y.body_hash))
                       END AS m_hash
                FROM (
                    SELECT e.notification_id, e.originator_id, e.originator_version,
                           pg_catalog.int8send(e.notification_id) AS nid_b,
                           pg_catalog.uuid_send(e.originator_id) AS oid_b,
                           pg_catalog.int8send(e.originator_version) AS version_b,
                           convert_to(e.topic, 'UTF8') AS topic_b,
                           pg_catalog.sha256(coalesce(e.state, ''::bytea)) AS s_hash,
                           m.*
                    FROM new_events e
                    LEFT JOIN LATERAL (
                        SELECT m.distribution_id,
                               convert_to(m.distribution_id, 'UTF8') AS distribution_b,
                               convert_to(m.case_id, 'UTF8') AS case_b,
                               convert_to(m.kind, 'UTF8') AS kind_b,
                               convert_to(m.sender_id, 'UTF8') AS sender_b,
                               {schema}.tocsin_micros(m.sent_at) AS sent_b,
                               {schema}.tocsin_micros(m.received_at) AS received_b,
                               m.sha256 AS raw_sha256,
                               convert_to(m.source, 'UTF8') AS source_b,
                               pg_catalog.sha256(r.body) AS body_hash
                        FROM {schema}.tocsin_messages m
                        LEFT JOIN {schema}.tocsin_raw_messages r ON r.sha256 = m.sha256
                        WHERE m.originator_id = e.originator_id AND m.originator_version = e.originator_version
                        OFFSET 0
                    ) m ON true
                    OFFSET 0
                ) y
                OFFSET 0
            ) z;
        n := coalesce(array_length(nids, 1), 0);
        IF n = 0 THEN
            RETURN NULL;
        END IF;
        SELECT position, notification_id, chain_hash INTO previous
            FROM {schema}.tocsin_chain ORDER BY position DESC LIMIT 1;
        IF FOUND THEN
            IF previous.notification_id >= nids[1] THEN
                RAISE EXCEPTION 'Tocsin: chaîne d''audit, notification % après %',
                    nids[1], previous.notification_id;
            END IF;
            pos := previous.position;
            previous_hash := previous.chain_hash;
        END IF;
        -- The only sequential part: each chain hash covers the previous one.
        at_field := {schema}.tocsin_field({schema}.tocsin_micros(at));
        c_hashes := array_fill(NULL::bytea, ARRAY[n]);
        FOR i IN 1..n LOOP
            previous_hash := pg_catalog.sha256(chain_prefix
                || {schema}.tocsin_field(previous_hash)
                || {schema}.tocsin_field(pg_catalog.int8send(pos + i))
                || at_field
                || {schema}.tocsin_field(e_hashes[i]));
            c_hashes[i] := previous_hash;
        END LOOP;
        INSERT INTO {schema}.tocsin_chain (position, notification_id, originator_id, originator_version,
                chained_at, state_hash, message_hash, event_hash, chain_hash)
            SELECT pos + u.i, u.nid, u.oid, u.version, at, u.s_hash, u.m_hash, u.e_hash, u.c_hash
            FROM unnest(nids, oids, versions, s_hashes, m_hashes, e_hashes, c_hashes)
                WITH ORDINALITY AS u(nid, oid, version, s_hash, m_hash, e_hash, c_hash, i);
        RETURN NULL;
    END $$""",
    # Replaces the former FOR EACH ROW trigger of the same name (an existing store upgrades in place).
    """CREATE OR REPLACE TRIGGER tocsin_events_chain AFTER INSERT ON {schema}.tocsin_events
        REFERENCING NEW TABLE AS new_events
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.tocsin_chain_events()""",
    "DROP FUNCTION IF EXISTS {schema}.tocsin_chain_event()",
] + [
    f"""CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
        ON {{schema}}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.tocsin_refuse_change()"""
    for table in AUDIT_TABLES
]
