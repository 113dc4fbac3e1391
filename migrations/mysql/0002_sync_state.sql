-- Mailbox copy state: one row per (account, source folder) and a UID map per folder.
-- A folder row's UIDVALIDITY pair is the fence: when either side changes, the
-- folder's message rows are dropped and rebuilt by adoption.
CREATE TABLE sync_folders (
  id                  BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  folder_key          CHAR(64)     NOT NULL UNIQUE,
  account             VARCHAR(191) NOT NULL,
  source_folder       TEXT         NOT NULL,
  target_folder       TEXT         NOT NULL,
  source_uidvalidity  BIGINT       NOT NULL,
  target_uidvalidity  BIGINT       NOT NULL,
  source_uidnext      BIGINT       NOT NULL DEFAULT 0,
  source_messages     BIGINT       NOT NULL DEFAULT 0,
  source_modseq       BIGINT       NOT NULL DEFAULT 0,
  complete            BIGINT       NOT NULL DEFAULT 0,
  updated_at          BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX sync_folders_account ON sync_folders (account);

-- target_uid NULL = in flight: written before the APPEND, completed after it.
CREATE TABLE sync_messages (
  folder_id           BIGINT       NOT NULL,
  source_uid          BIGINT       NOT NULL,
  target_uid          BIGINT,
  flags               TEXT         NOT NULL,
  ident               TEXT         NOT NULL,
  PRIMARY KEY (folder_id, source_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
