-- Alerts: per-server rule overrides, the alerts themselves, the evaluation state the
-- write path keeps, and the outbox of webhook notifications.
--
-- The defaults of the rules (thresholds 90 %, 3 samples, clear 5 points below) are
-- configuration of the functions, not data: a server with no row here follows them,
-- and a row overrides only the fields it sets (NULL = the default).

CREATE TABLE alert_rules (
    server_id    integer  NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    type         text     NOT NULL CHECK (type IN ('cpu', 'ram', 'disk', 'offline')),
    threshold    real     CHECK (threshold >= 1 AND threshold <= 100),
    for_samples  smallint CHECK (for_samples BETWEEN 1 AND 1000),
    clear_margin real     CHECK (clear_margin >= 0 AND clear_margin < 100),
    enabled      boolean  NOT NULL DEFAULT true,
    -- The offline alert has no level: a server is offline or not.
    CHECK (type <> 'offline'
           OR (threshold IS NULL AND for_samples IS NULL AND clear_margin IS NULL)),
    PRIMARY KEY (server_id, type)
);

CREATE TABLE alerts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id      integer     NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    type           text        NOT NULL CHECK (type IN ('cpu', 'ram', 'disk', 'offline')),
    -- The threshold in force when it fired; NULL for offline.
    threshold      real,
    -- The value that fired it (percent); for offline, the seconds since the last sample.
    value          real        NOT NULL,
    -- The highest value while it was firing; NULL for offline.
    peak           real,
    -- Metric alerts take the time of the samples (a backlog drained late still says
    -- when things happened); offline alerts the time the transition was seen.
    started_at     timestamptz NOT NULL,
    resolved_at    timestamptz CHECK (resolved_at >= started_at),
    -- The value that resolved it; NULL when the rule was disabled, and for offline.
    resolved_value real,
    CHECK ((type = 'offline') = (threshold IS NULL)),
    CHECK ((type = 'offline') = (peak IS NULL))
);
-- At most one active alert per server and type; also the index of "active alerts".
CREATE UNIQUE INDEX alerts_active ON alerts (server_id, type) WHERE resolved_at IS NULL;
-- One server's alerts, newest first.
CREATE INDEX alerts_server_started ON alerts (server_id, started_at DESC);

-- What the write path remembers between samples, one row per server (created on its
-- first sample). Evaluation moves forward only: `evaluated_at` is the recorded_at of
-- the newest sample folded in, and `over` counts, for cpu, ram and disk, the
-- consecutive samples at or over the threshold while no alert of that type fires.
CREATE TABLE alert_state (
    server_id    integer     PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    evaluated_at timestamptz NOT NULL,
    over         smallint[]  NOT NULL DEFAULT '{0,0,0}' CHECK (cardinality(over) = 3)
);

-- Webhook notifications, written in the transaction that fires or resolves an alert
-- and sent afterwards by the relay, so a slow webhook never holds up ingest and a
-- crash between the two loses nothing.
CREATE TABLE alert_notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    state           text        NOT NULL CHECK (state IN ('firing', 'resolved')),
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        smallint    NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    -- Never the URL: it often carries the webhook's secret.
    last_error      text,
    CHECK ((status = 'pending') = (done_at IS NULL))
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX alert_notifications_alert ON alert_notifications (alert_id);
