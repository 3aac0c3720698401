-- sqlops' own bookkeeping tables, created by `sqlops schema init` next to the log table.

-- Every maintenance run (schema upgrade, partition migrate/rotate, rollup), whether started
-- from the scheduler, cron or a terminal. `partition check` reads the last runs from here.
CREATE TABLE IF NOT EXISTS sqlops_job_runs (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  job          VARCHAR(64) NOT NULL COMMENT 'e.g. partition-rotate, schema-upgrade',
  target       VARCHAR(192) NOT NULL COMMENT 'schema.table the job worked on',
  started_at   DATETIME(3) NOT NULL COMMENT 'UTC',
  finished_at  DATETIME(3) NULL COMMENT 'UTC; NULL while running or after a crash',
  status       VARCHAR(16) NOT NULL COMMENT 'running, ok, failed, interrupted',
  statements   INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'statements executed',
  summary      TEXT NULL COMMENT 'JSON: what the run did',
  error        TEXT NULL,
  origin       VARCHAR(32) NOT NULL DEFAULT 'cli' COMMENT 'cli, scheduler',
  host         VARCHAR(255) NULL COMMENT 'machine the run came from',
  pid          INT UNSIGNED NULL,
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
