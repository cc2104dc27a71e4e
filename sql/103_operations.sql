-- Operating Vigie: server tags, silences (notifications held while a server is
-- under maintenance) and share links (read-only access to some servers).
--
-- Tags are short lowercase labels, several per server, kept in the server's row:
-- the list filters on them and a silence or a share link may name one. The
-- database refuses a tag the API should have refused (what the code forgot).
ALTER TABLE servers
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(tags) <= 16)
        -- Each tag 1-32 characters of a-z 0-9 . _ -: joined by commas they match
        -- this pattern, and split at the commas they are as many as before (a tag
        -- holding a comma, or a NULL, would not be).
        CHECK (array_to_string(tags, ',') ~ '^([a-z0-9._-]{1,32}(,[a-z0-9._-]{1,32})*)?$'
               AND coalesce(cardinality(string_to_array(nullif(array_to_string(tags, ','), ''),
                                                         ',')), 0) = cardinality(tags));

-- A silence holds the notifications of one server, or of every server with a tag,
-- from `starts_at` to `ends_at`; alerts are still evaluated, stored and shown.
-- Ending a silence early sets `ends_at` to the time it ended: the row stays, so
-- the sender can tell what happened inside it (an alert that fired and resolved
-- there is never sent).
CREATE TABLE silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id  integer REFERENCES servers (id) ON DELETE CASCADE,
    tag        varchar(32) CHECK (tag ~ '^[a-z0-9._-]{1,32}$'),
    starts_at  timestamptz  NOT NULL DEFAULT now(),
    ends_at    timestamptz  NOT NULL CHECK (ends_at >= starts_at),
    reason     varchar(500) NOT NULL CHECK (btrim(reason) <> ''),
    created_at timestamptz  NOT NULL DEFAULT now(),
    CHECK ((server_id IS NULL) <> (tag IS NULL))
);
CREATE INDEX silences_server ON silences (server_id, ends_at) WHERE server_id IS NOT NULL;
CREATE INDEX silences_tag ON silences (tag, ends_at) WHERE tag IS NOT NULL;

-- A share link reads one server, or the servers with a tag, until it expires or is
-- revoked. Only the SHA-256 of its secret is stored: the link is shown once.
CREATE TABLE shares (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id  integer REFERENCES servers (id) ON DELETE CASCADE,
    tag        varchar(32) CHECK (tag ~ '^[a-z0-9._-]{1,32}$'),
    label      varchar(100),
    token_hash bytea        NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    expires_at timestamptz  NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK (expires_at > created_at),
    CHECK ((server_id IS NULL) <> (tag IS NULL))
);

-- Notifications go to several targets (the webhook, each Apprise URL): the
-- targets a row was delivered to, by a digest of their URL (never the URL, which
-- holds secrets), so a retry after a partial failure sends only what is missing.
ALTER TABLE alert_notifications ADD COLUMN delivered text[] NOT NULL DEFAULT '{}';
