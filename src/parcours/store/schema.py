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
]

LATEST = MIGRATIONS[-1][0]
