-- Users: keyed on an immutable id; the e-mail address is an attribute that can change.
CREATE TABLE users (
  id              VARCHAR(191) NOT NULL PRIMARY KEY,
  email           VARCHAR(191) NOT NULL UNIQUE,
  display_name    VARCHAR(255) NOT NULL DEFAULT '',
  locale          VARCHAR(16)  NOT NULL DEFAULT 'en',
  wave            VARCHAR(64)  NOT NULL DEFAULT '',
  state           VARCHAR(32)  NOT NULL,
  failed_step     VARCHAR(32),
  last_error      TEXT,
  attempts        BIGINT       NOT NULL DEFAULT 0,
  profile_hash    VARCHAR(64)  NOT NULL DEFAULT '',
  created_at      BIGINT       NOT NULL,
  updated_at      BIGINT       NOT NULL
);
CREATE INDEX users_state ON users (state);

-- Jobs. queue_key (user:kind while queued) makes enqueueing idempotent; run_key
-- (the user id while running) lets only one job per user run at a time.
-- Both are NULL otherwise, and unique indexes ignore NULLs on both dialects.
CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            VARCHAR(32)  NOT NULL,
  user_id         VARCHAR(191) NOT NULL REFERENCES users(id),
  state           VARCHAR(16)  NOT NULL,
  queue_key       VARCHAR(191) UNIQUE,
  run_key         VARCHAR(191) UNIQUE,
  run_at          BIGINT       NOT NULL,
  attempts        BIGINT       NOT NULL DEFAULT 0,
  lease_owner     VARCHAR(64),
  lease_until     BIGINT,
  last_error      TEXT,
  created_at      BIGINT       NOT NULL,
  updated_at      BIGINT       NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, run_at);

CREATE TABLE slots (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  starts_at       BIGINT       NOT NULL UNIQUE,
  capacity        BIGINT       NOT NULL,
  booked          BIGINT       NOT NULL DEFAULT 0
);

CREATE TABLE bookings (
  user_id         VARCHAR(191) NOT NULL PRIMARY KEY REFERENCES users(id),
  slot_id         BIGINT       NOT NULL REFERENCES slots(id),
  created_at      BIGINT       NOT NULL
);

CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id         VARCHAR(191),
  at              BIGINT       NOT NULL,
  kind            VARCHAR(64)  NOT NULL,
  detail          TEXT         NOT NULL
);
CREATE INDEX events_user ON events (user_id, id);

-- Outbox: the dedupe key makes "send this notice" idempotent; the mailer delivers.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key      VARCHAR(191) NOT NULL UNIQUE,
  user_id         VARCHAR(191),
  template        VARCHAR(64)  NOT NULL,
  locale          VARCHAR(16)  NOT NULL,
  to_addr         VARCHAR(320) NOT NULL,
  params          TEXT         NOT NULL,
  state           VARCHAR(16)  NOT NULL,
  attempts        BIGINT       NOT NULL DEFAULT 0,
  next_attempt_at BIGINT       NOT NULL,
  lease_until     BIGINT,
  message_id      VARCHAR(255) NOT NULL,
  last_error      TEXT,
  created_at      BIGINT       NOT NULL,
  sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Portal sessions: only a hash of the cookie value is stored.
CREATE TABLE sessions (
  id_hash         VARCHAR(64)  NOT NULL PRIMARY KEY,
  user_id         VARCHAR(191) NOT NULL REFERENCES users(id),
  csrf_token      VARCHAR(64)  NOT NULL,
  expires_at      BIGINT       NOT NULL
);

-- Operator settings that change while the service runs (e.g. worker concurrency).
CREATE TABLE settings (
  name            VARCHAR(64)  NOT NULL PRIMARY KEY,
  value           VARCHAR(255) NOT NULL,
  updated_at      BIGINT       NOT NULL
);
