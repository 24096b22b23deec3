"""The versioned store schema. Each migration is applied once, in order, in a transaction.

Add a migration by appending to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "events, quarantine, imports, identity, metadata",
        """
        CREATE SEQUENCE batch_seq START 1;
        CREATE TABLE events (
            message_id    VARCHAR NOT NULL,
            type          VARCHAR NOT NULL,      -- track, page, screen, identify, alias
            event         VARCHAR NOT NULL,
            timestamp     TIMESTAMP NOT NULL,    -- UTC
            received_at   TIMESTAMP NOT NULL,    -- UTC
            anonymous_id  VARCHAR,
            user_id       VARCHAR,
            previous_id   VARCHAR,               -- alias: the id being aliased to user_id
            channel       VARCHAR,
            utm_source    VARCHAR,
            utm_medium    VARCHAR,
            utm_campaign  VARCHAR,
            properties    JSON,
            context       JSON,
            source        VARCHAR,               -- file or collector source that sent it
            batch_id      BIGINT NOT NULL        -- load batch, for incremental stitching
        );
        CREATE TABLE quarantine (
            source         VARCHAR NOT NULL,
            row_number     BIGINT,
            reason         VARCHAR NOT NULL,
            raw            VARCHAR,
            quarantined_at TIMESTAMP NOT NULL
        );
        CREATE TABLE imports (
            batch_id     BIGINT NOT NULL,
            source       VARCHAR NOT NULL,
            first_row    BIGINT,
            last_row     BIGINT,
            loaded       BIGINT NOT NULL,
            quarantined  BIGINT NOT NULL,
            duplicates   BIGINT NOT NULL,
            imported_at  TIMESTAMP NOT NULL
        );
        CREATE TABLE identity_nodes (
            identifier  VARCHAR NOT NULL,        -- a user or anonymous id, or kind:value for traits
            kind        VARCHAR NOT NULL,        -- user, anonymous, or the trait name
            first_seen  TIMESTAMP NOT NULL
        );
        CREATE TABLE identity_edges (
            a           VARCHAR NOT NULL,        -- a < b
            b           VARCHAR NOT NULL,
            reason      VARCHAR NOT NULL,        -- same_event, identify, alias, trait:email, ...
            message_id  VARCHAR,
            ts          TIMESTAMP
        );
        CREATE TABLE identity_blocks (
            a           VARCHAR NOT NULL,
            b           VARCHAR NOT NULL,
            merge_id    BIGINT,
            created_at  TIMESTAMP NOT NULL
        );
        CREATE TABLE identity_map (
            identifier  VARCHAR NOT NULL,
            customer_id VARCHAR NOT NULL
        );
        CREATE SEQUENCE merge_seq START 1;
        CREATE TABLE merge_log (
            merge_id       BIGINT NOT NULL,
            action         VARCHAR NOT NULL,     -- merge or unmerge
            customer_id    VARCHAR NOT NULL,     -- the resulting customer
            merged_ids     VARCHAR[] NOT NULL,   -- customer ids that became one (or were split apart)
            reason         VARCHAR NOT NULL,     -- what linked them: same_event, alias, trait:email, ...
            logged_at      TIMESTAMP NOT NULL
        );
        CREATE TABLE merge_edges (                -- the links that caused a merge; unmerge blocks them
            merge_id    BIGINT NOT NULL,
            a           VARCHAR NOT NULL,
            b           VARCHAR NOT NULL,
            reason      VARCHAR NOT NULL,
            message_id  VARCHAR
        );
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        """,
    ),
    (
        2,
        "voice of the customer: follow-up items and their history, webhook delivery queue and log",
        """
        CREATE SEQUENCE followup_seq START 1;
        CREATE TABLE followups (                 -- one per low survey answer (detractor, CSAT/CES 1-2)
            followup_id    BIGINT PRIMARY KEY,
            message_id     VARCHAR NOT NULL UNIQUE,  -- the survey_response event: creation is idempotent
            customer_id    VARCHAR NOT NULL,
            identities     VARCHAR[] NOT NULL,   -- every identifier stitched to the customer
            metric         VARCHAR NOT NULL,     -- nps, csat or ces
            score          DOUBLE NOT NULL,
            touchpoint     VARCHAR,              -- given with the answer, or the latest one before it
            stage          VARCHAR,
            comment        VARCHAR,
            language       VARCHAR,
            answered_at    TIMESTAMP NOT NULL,
            recent_journey JSON NOT NULL,        -- the touchpoints just before the answer, oldest first
            status         VARCHAR NOT NULL,     -- open, contacted or resolved
            owner          VARCHAR NOT NULL,     -- the touchpoint's team unless reassigned
            created_at     TIMESTAMP NOT NULL,
            updated_at     TIMESTAMP NOT NULL
        );
        CREATE TABLE followup_history (          -- every change and note, in order
            followup_id    BIGINT NOT NULL,
            logged_at      TIMESTAMP NOT NULL,
            action         VARCHAR NOT NULL,     -- created, status, owner or note
            detail         VARCHAR NOT NULL,
            author         VARCHAR
        );
        CREATE SEQUENCE webhook_delivery_seq START 1;
        CREATE TABLE webhook_deliveries (        -- the outgoing queue: one row per (webhook, trigger occurrence)
            delivery_id     BIGINT PRIMARY KEY,
            webhook         VARCHAR NOT NULL,
            trigger         VARCHAR NOT NULL,
            dedupe_key      VARCHAR NOT NULL,    -- what fired it (answer, cart event, customer+stage)
            url             VARCHAR NOT NULL,
            body            VARCHAR NOT NULL,    -- the exact JSON bytes that are signed and sent
            status          VARCHAR NOT NULL,    -- pending, delivered or failed
            attempts        INTEGER NOT NULL,
            next_attempt_at TIMESTAMP NOT NULL,
            created_at      TIMESTAMP NOT NULL,
            delivered_at    TIMESTAMP,
            UNIQUE (webhook, dedupe_key)
        );
        CREATE TABLE webhook_attempts (          -- the delivery log: every try and its outcome
            delivery_id    BIGINT NOT NULL,
            attempt        INTEGER NOT NULL,
            logged_at      TIMESTAMP NOT NULL,
            http_status    INTEGER,              -- NULL when no answer came (refused, timeout)
            error          VARCHAR
        );
        """,
    ),
    (
        3,
        "collector: API keys (hashed) and write-ahead-log bookkeeping",
        """
        CREATE TABLE api_keys (
            key_id      VARCHAR PRIMARY KEY,     -- the key's public prefix, shown in lists
            key_hash    VARCHAR NOT NULL,        -- sha256 of the whole key; the key itself is never stored
            role        VARCHAR NOT NULL,        -- write, read or admin
            name        VARCHAR NOT NULL,
            source      VARCHAR NOT NULL,        -- write keys: the source recorded on the events they send
            created_at  TIMESTAMP NOT NULL,
            revoked_at  TIMESTAMP
        );
        CREATE TABLE collector_wal (             -- how far the write-ahead log has been applied
            segment     BIGINT NOT NULL,         -- WAL segment number
            offset_bytes BIGINT NOT NULL,        -- bytes of that segment applied to events
            applied_at  TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        4,
        "segments, persona members, lead scores and lead models",
        """
        CREATE TABLE segments (
            name        VARCHAR PRIMARY KEY,
            kind        VARCHAR NOT NULL,        -- rule (an expression) or list (saved members, e.g. a persona)
            expression  VARCHAR,                 -- the rule, for kind = rule
            description VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL,
            updated_at  TIMESTAMP NOT NULL
        );
        CREATE TABLE segment_members (           -- members of list segments
            segment     VARCHAR NOT NULL,
            customer_id VARCHAR NOT NULL
        );
        CREATE TABLE lead_scores (               -- the latest scoring of current prospects
            customer_id VARCHAR NOT NULL,
            score       DOUBLE NOT NULL,         -- 0..100
            reasons     VARCHAR[] NOT NULL,
            scored_at   TIMESTAMP NOT NULL
        );
        CREATE TABLE lead_models (               -- one row per training, with its hold-out evaluation
            trained_at   TIMESTAMP NOT NULL,
            horizon_days INTEGER NOT NULL,
            rows         BIGINT NOT NULL,
            evaluation   JSON NOT NULL
        );
        """,
    ),
    (
        5,
        "events.arrival_seq: the order events were recorded in, to break timestamp ties",
        # Existing events get batch_id * 2^32 + their position in their batch's stored row
        # order (rowid): the file order for files parcours imported (inserts keep their order).
        """
        ALTER TABLE events ADD COLUMN arrival_seq BIGINT;
        UPDATE events SET arrival_seq = s.arrival_seq FROM (
            SELECT rowid AS r,
                   batch_id * 4294967296 + row_number() OVER (PARTITION BY batch_id ORDER BY rowid) AS arrival_seq
            FROM events
        ) s WHERE events.rowid = s.r;
        """,
    ),
    (
        6,
        "person properties, group memberships and group properties imported as tables",
        # Identify and group calls stay events (their traits are the properties); these hold
        # what ``import --as persons|groups`` reads. Rows are history: the latest value wins.
        """
        CREATE TABLE person_properties (
            identifier  VARCHAR NOT NULL,        -- a user or anonymous id (stitching joins them)
            name        VARCHAR NOT NULL,
            value       VARCHAR,                 -- as text, like event properties
            timestamp   TIMESTAMP NOT NULL,      -- when the value was set (UTC)
            source      VARCHAR NOT NULL
        );
        CREATE TABLE group_memberships (
            identifier  VARCHAR NOT NULL,
            group_type  VARCHAR NOT NULL,        -- company, team, ...
            group_key   VARCHAR NOT NULL,
            timestamp   TIMESTAMP NOT NULL,      -- from when the customer is in the group
            source      VARCHAR NOT NULL
        );
        CREATE TABLE group_properties (
            group_type  VARCHAR NOT NULL,
            group_key   VARCHAR NOT NULL,
            name        VARCHAR NOT NULL,
            value       VARCHAR,
            timestamp   TIMESTAMP NOT NULL,
            source      VARCHAR NOT NULL
        );
        """,
    ),
    (
        7,
        "segment membership last seen by live segment_entered / segment_left webhooks",
        """
        CREATE TABLE segment_watch (             -- a segment's members as a webhook last saw them
            webhook     VARCHAR NOT NULL,
            customer_id VARCHAR NOT NULL
        );
        CREATE TABLE segment_watch_started (     -- webhooks whose first look has been taken (no history sent)
            webhook     VARCHAR PRIMARY KEY,
            segment     VARCHAR NOT NULL,
            started_at  TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        8,
        "data changes: what each data-changing write did, for incremental derived tables",
        # one marker row per data version (batch_id and customer_id NULL): ``incremental`` when
        # the write named every event batch and customer it changed, ``full`` otherwise; then
        # the batches, identifiers and customers an incremental write named (``parcours.store.changes``)
        """
        CREATE TABLE data_changes (
            version     BIGINT NOT NULL,         -- the data version the write committed
            kind        VARCHAR NOT NULL,        -- incremental, full, batch, identifier or customer
            batch_id    BIGINT,                  -- kind batch: an event batch it appended
            customer_id VARCHAR                  -- kind identifier: an identifier whose customer changed;
                                                 -- kind customer: its customer before or after
        );
        """,
    ),
]

#: ``events.arrival_seq`` of a loaded row: its batch (batches are numbered in load order) times
#: this stride, plus its row number in the file (a collector batch: its position in the batch)
ARRIVAL_STRIDE = 2**32

LATEST = MIGRATIONS[-1][0]
