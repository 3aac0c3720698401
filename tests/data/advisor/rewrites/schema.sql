-- The Squid access log table written by sqlops-logfile-daemon and `sqlops ingest load`.
--
-- Column names are those of Squid's own log_db_daemon, so existing reports and views keep
-- working; types are sized for real traffic (IPv6 clients, replies over 4 GB, long MIME types,
-- user names and status words). `date_day` is the request's calendar day in the configured
-- time zone (database.time_zone) and is the monthly partitioning column.
--
-- URLs are bytes, not guaranteed UTF-8. `http_url` holds the URL as text (invalid UTF-8
-- bytes shown as \xNN) so LIKE and report views work; `http_url_raw` holds the exact bytes
-- only when they differ from that text. The original URL is always
--   COALESCE(http_url_raw, CONVERT(http_url USING binary)).
CREATE TABLE IF NOT EXISTS access_log (
  id                   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  time_since_epoch     DECIMAL(15,3) NULL COMMENT 'request end, Unix seconds (%ts.%03tu)',
  time_response        INT UNSIGNED NULL COMMENT 'response time in ms (%tr)',
  ip_client            VARCHAR(255) NULL COMMENT 'client address or name (%>a), IPv6 fits',
  ip_server            VARCHAR(255) NULL COMMENT 'server or peer address or name (%<a / %<A)',
  http_status_code     VARCHAR(10) NULL COMMENT 'HTTP status (%>Hs)',
  http_reply_size      BIGINT UNSIGNED NULL COMMENT 'reply bytes (%<st); over 4 GB fits',
  http_method          VARCHAR(255) NULL COMMENT 'request method (%rm)',
  http_url             MEDIUMTEXT NULL COMMENT 'URL as text; non-UTF-8 bytes shown as hex escapes (%ru)',
  http_url_raw         MEDIUMBLOB NULL COMMENT 'exact URL bytes when they are not valid UTF-8',
  http_username        VARCHAR(255) NULL COMMENT 'user name (%un)',
  http_mime_type       VARCHAR(255) NULL COMMENT 'reply MIME type (%mt)',
  squid_request_status VARCHAR(64) NULL COMMENT 'Squid result code, e.g. TCP_MISS (%Ss)',
  squid_hier_status    VARCHAR(64) NULL COMMENT 'hierarchy code, e.g. HIER_DIRECT (%Sh)',
  date_day             DATE NOT NULL COMMENT 'request day in database.time_zone',
  PRIMARY KEY (id),
  KEY idx_date_day (date_day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='Squid access log (sqlops)';
;
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
;
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(64) NOT NULL,
  zip VARCHAR(10) NULL,
  age INT NULL,
  created DATETIME NULL,
  born DATE NULL,
  PRIMARY KEY (id),
  KEY idx_created (created)
);
CREATE TABLE banned (user_id INT NOT NULL, name VARCHAR(64) NULL, PRIMARY KEY (user_id));
CREATE VIEW v_user_traffic AS
  SELECT http_username, DATE(FROM_UNIXTIME(time_since_epoch)) AS day, http_reply_size, ip_client
  FROM access_log;
