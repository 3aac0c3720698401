-- sqlops' own bookkeeping tables, created by `sqlops schema init` next to the log table.

-- Every maintenance run (schema upgrade, partition migrate/rotate, rollup), whether started
-- from the scheduler, cron or a terminal. `partition check` reads the last runs from here.
CREATE TABLE IF NOT EXISTS sqlops_job_runs (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  job          VARCHAR(64) NOT NULL COMMENT 'e.g. partition-rotate, schema-upgrade',
  target       VARCHAR(192) NOT NULL COMMENT 'schema.table the job worked on',
  started_at   DATETIME(3) NOT NULL COMMENT 'UTC',
  finished_at  DATETIME(3) NULL COMMENT 'UTC; NULL while running or after a crash',
  status       VARCHAR(16) NOT NULL COMMENT 'running, ok, failed, interrupted, died',
  statements   INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'statements executed',
  summary      TEXT NULL COMMENT 'JSON: what the run did',
  error        TEXT NULL,
  origin       VARCHAR(32) NOT NULL DEFAULT 'cli' COMMENT 'cli, scheduler',
  host         VARCHAR(255) NULL COMMENT 'machine the run came from',
  pid          INT UNSIGNED NULL,
  connection_id BIGINT UNSIGNED NULL COMMENT 'the recording connection; it holds GET_LOCK(sqlops:run:<id>) while the run lives',
  resumes      BIGINT UNSIGNED NULL COMMENT 'id of the unfinished run this one resumes',
  PRIMARY KEY (id),
  KEY idx_job_target_started (job, target, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops maintenance runs';

-- Progress of online table copies (schema upgrade, partition migrate), so a crashed copy
-- resumes where it stopped and `--abort` knows what to remove.
CREATE TABLE IF NOT EXISTS sqlops_online_copy (
  table_name    VARCHAR(64) NOT NULL COMMENT 'the table being rebuilt',
  job           VARCHAR(64) NOT NULL,
  shadow_name   VARCHAR(64) NOT NULL,
  old_name      VARCHAR(64) NOT NULL COMMENT 'name the original gets at the swap',
  phase         VARCHAR(16) NOT NULL COMMENT 'copying, swapped, done',
  spec_hash     CHAR(40) NOT NULL COMMENT 'identifies the target definition',
  cap_id        BIGINT UNSIGNED NULL COMMENT 'MAX(id) read after the triggers existed',
  copied_up_to  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_copied   BIGINT UNSIGNED NOT NULL DEFAULT 0,
  started_at    DATETIME(3) NOT NULL COMMENT 'UTC',
  updated_at    DATETIME(3) NOT NULL COMMENT 'UTC',
  PRIMARY KEY (table_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops online copy progress';

-- How far each rollup has read its source (`sqlops rollup refresh`): rows with id <= last_id
-- are counted. Updated in the same transaction as the rollup rows, so a crash never counts a
-- row twice or skips one.
CREATE TABLE IF NOT EXISTS sqlops_rollup_progress (
  rollup_table  VARCHAR(64) NOT NULL,
  source_table  VARCHAR(64) NOT NULL,
  last_id       BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_read     BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'source rows counted so far',
  updated_at    DATETIME(3) NOT NULL COMMENT 'UTC',
  PRIMARY KEY (rollup_table)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops rollup progress';

-- sqlops-logfile-daemon: how far each journal (one per daemon process, in the spool folder of
-- the machine named in `host`) has been written into its table. The daemon moves `position`
-- in the same transaction as the rows, so a restarted daemon replays exactly the rest.
CREATE TABLE IF NOT EXISTS sqlops_ingest_checkpoint (
  stream            VARCHAR(128) NOT NULL COMMENT 'journal id (j-...)',
  target_table      VARCHAR(64) NOT NULL,
  host              VARCHAR(255) NULL COMMENT 'machine whose spool holds the journal',
  spool_path        VARCHAR(1024) NULL,
  position          BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'journal bytes accounted for',
  rows_written      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  lines_quarantined BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at        DATETIME(3) NOT NULL COMMENT 'UTC',
  updated_at        DATETIME(3) NOT NULL COMMENT 'UTC',
  PRIMARY KEY (stream)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops ingest: daemon journal checkpoints';

-- `sqlops ingest load`: one row per log file and table. A file is recognised by the SHA-256
-- of its first bytes (decompressed), so a renamed, rotated or gzipped copy is the same file
-- and a file that grew since the last run resumes at `position`.
CREATE TABLE IF NOT EXISTS sqlops_ingest_load (
  id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  target_table      VARCHAR(64) NOT NULL,
  head_len          INT UNSIGNED NOT NULL COMMENT 'bytes hashed',
  head_sha256       CHAR(64) NOT NULL,
  path              VARCHAR(1024) NOT NULL COMMENT 'file name at the last run',
  position          BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'bytes of the (decompressed) file loaded',
  rows_written      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  lines_quarantined BIGINT UNSIGNED NOT NULL DEFAULT 0,
  complete          TINYINT UNSIGNED NOT NULL DEFAULT 0 COMMENT '1 when the last run reached the end',
  started_at        DATETIME(3) NOT NULL COMMENT 'UTC',
  updated_at        DATETIME(3) NOT NULL COMMENT 'UTC',
  PRIMARY KEY (id),
  UNIQUE KEY uk_file (target_table, head_len, head_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops ingest: backfill progress';

-- Lines the daemon or `ingest load` could not store, with the exact bytes and the reason
-- (no format match, a value too long for its column, a row the server rejected).
CREATE TABLE IF NOT EXISTS sqlops_ingest_quarantine (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  stream        VARCHAR(128) NOT NULL COMMENT 'journal id, or load:<sqlops_ingest_load.id>',
  position      BIGINT UNSIGNED NOT NULL COMMENT 'byte offset of the line in its source',
  target_table  VARCHAR(64) NOT NULL,
  reason        VARCHAR(1024) NOT NULL,
  raw_line      MEDIUMBLOB NOT NULL,
  created_at    DATETIME(3) NOT NULL COMMENT 'UTC',
  PRIMARY KEY (id),
  KEY idx_created (created_at),
  KEY idx_stream (stream, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='sqlops ingest: lines that could not be stored';
