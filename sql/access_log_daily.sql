-- Daily traffic per user and client, maintained incrementally from the log table by
-- `sqlops rollup refresh` (and hourly by `sqlops serve`). Reports should read this instead of
-- scanning access_log; it outlives the log's retention (archived or dropped months).
--
-- Created by the first `rollup refresh` (not by `schema init`); rollup.table renames it.
-- A row counts toward `hits` when Squid served it from cache (a result code containing HIT,
-- or TCP_REFRESH_UNMODIFIED), `misses` when it went upstream (MISS, TCP_REFRESH_MODIFIED),
-- `denied` for TCP_DENIED*, `errors` for HTTP status 5xx or 000 (no reply).
CREATE TABLE IF NOT EXISTS access_log_daily (
  date_day       DATE NOT NULL COMMENT 'request day in database.time_zone (access_log.date_day)',
  http_username  VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'user name as logged (%un, often -)',
  ip_client      VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'client address (%>a)',
  requests       BIGINT UNSIGNED NOT NULL DEFAULT 0,
  bytes          BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'sum of http_reply_size',
  hits           BIGINT UNSIGNED NOT NULL DEFAULT 0,
  hit_bytes      BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'bytes served from cache',
  misses         BIGINT UNSIGNED NOT NULL DEFAULT 0,
  denied         BIGINT UNSIGNED NOT NULL DEFAULT 0,
  errors         BIGINT UNSIGNED NOT NULL DEFAULT 0,
  response_ms    BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'sum of time_response; divide by requests for the mean',
  PRIMARY KEY (date_day, http_username, ip_client),
  KEY idx_client_day (ip_client, date_day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='daily traffic per user and client (sqlops rollup)';
