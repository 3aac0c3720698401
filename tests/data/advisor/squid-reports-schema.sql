-- The Squid reporting schema of bench/advise (database squid_reports), as 10.11.19-MariaDB-0+deb12u1 shows it:
-- SHOW CREATE TABLE for every table and SHOW CREATE VIEW for every view, DEFINER clauses
-- removed. AUTO_INCREMENT=N is kept as the server prints it (mysqldump --no-data keeps it too):
-- sqlops advise reads it as a size hint (values from the same 200,000-row load, seed 9). Captured by
--   .venv/bin/python -m bench.advise.capture --flavour both
-- on a private server after `bench.advise.workload.load` (200000 rows; see README.md here).

CREATE TABLE `access_log` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `time_since_epoch` decimal(15,3) DEFAULT NULL COMMENT 'request end, Unix seconds (%ts.%03tu)',
  `time_response` int(10) unsigned DEFAULT NULL COMMENT 'response time in ms (%tr)',
  `ip_client` varchar(255) DEFAULT NULL COMMENT 'client address or name (%>a), IPv6 fits',
  `ip_server` varchar(255) DEFAULT NULL COMMENT 'server or peer address or name (%<a / %<A)',
  `http_status_code` varchar(10) DEFAULT NULL COMMENT 'HTTP status (%>Hs)',
  `http_reply_size` bigint(20) unsigned DEFAULT NULL COMMENT 'reply bytes (%<st); over 4 GB fits',
  `http_method` varchar(255) DEFAULT NULL COMMENT 'request method (%rm)',
  `http_url` mediumtext DEFAULT NULL COMMENT 'URL as text; non-UTF-8 bytes shown as hex escapes (%ru)',
  `http_url_raw` mediumblob DEFAULT NULL COMMENT 'exact URL bytes when they are not valid UTF-8',
  `http_username` varchar(255) DEFAULT NULL COMMENT 'user name (%un)',
  `http_mime_type` varchar(255) DEFAULT NULL COMMENT 'reply MIME type (%mt)',
  `squid_request_status` varchar(64) DEFAULT NULL COMMENT 'Squid result code, e.g. TCP_MISS (%Ss)',
  `squid_hier_status` varchar(64) DEFAULT NULL COMMENT 'hierarchy code, e.g. HIER_DIRECT (%Sh)',
  `date_day` date NOT NULL COMMENT 'request day in database.time_zone',
  PRIMARY KEY (`id`),
  KEY `idx_date_day` (`date_day`)
) ENGINE=InnoDB AUTO_INCREMENT=262141 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='Squid access log (sqlops)';

CREATE TABLE `access_log_daily` (
  `date_day` date NOT NULL COMMENT 'request day in database.time_zone (access_log.date_day)',
  `http_username` varchar(255) NOT NULL DEFAULT '' COMMENT 'user name as logged (%un, often -)',
  `ip_client` varchar(255) NOT NULL DEFAULT '' COMMENT 'client address (%>a)',
  `requests` bigint(20) unsigned NOT NULL DEFAULT 0,
  `bytes` bigint(20) unsigned NOT NULL DEFAULT 0 COMMENT 'sum of http_reply_size',
  `hits` bigint(20) unsigned NOT NULL DEFAULT 0,
  `hit_bytes` bigint(20) unsigned NOT NULL DEFAULT 0 COMMENT 'bytes served from cache',
  `misses` bigint(20) unsigned NOT NULL DEFAULT 0,
  `denied` bigint(20) unsigned NOT NULL DEFAULT 0,
  `errors` bigint(20) unsigned NOT NULL DEFAULT 0,
  `response_ms` bigint(20) unsigned NOT NULL DEFAULT 0 COMMENT 'sum of time_response; divide by requests for the mean',
  PRIMARY KEY (`date_day`,`http_username`,`ip_client`),
  KEY `idx_client_day` (`ip_client`,`date_day`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='daily traffic per user and client (sqlops rollup)';

CREATE TABLE `admin_audit` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `admin_user` varchar(64) NOT NULL,
  `action` varchar(32) NOT NULL,
  `target` varchar(255) DEFAULT NULL,
  `details` text DEFAULT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=20001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `blocked_sites` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `domain` varchar(255) NOT NULL,
  `reason` varchar(255) DEFAULT NULL,
  `added_by` varchar(64) DEFAULT NULL,
  `added_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=97 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `departments` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `cost_center` varchar(20) DEFAULT NULL,
  `manager_username` varchar(64) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `report_bookmarks` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `username` varchar(64) NOT NULL,
  `title` varchar(200) NOT NULL,
  `report` varchar(64) NOT NULL,
  `params` text DEFAULT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=3001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `site_categories` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `domain` varchar(255) NOT NULL,
  `category` varchar(64) NOT NULL,
  `updated_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=2077 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `users` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `username` varchar(64) NOT NULL,
  `full_name` varchar(128) NOT NULL,
  `department_id` int(11) DEFAULT NULL,
  `email` varchar(190) DEFAULT NULL,
  `active` tinyint(4) NOT NULL DEFAULT 1,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=251 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `workstations` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `ip_address` varchar(45) NOT NULL,
  `hostname` varchar(128) NOT NULL,
  `location` varchar(64) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=321 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v_daily_traffic` AS select `access_log`.`date_day` AS `date_day`,count(0) AS `requests`,sum(`access_log`.`http_reply_size`) AS `bytes`,count(distinct `access_log`.`http_username`) AS `users` from `access_log` group by `access_log`.`date_day`;

CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v_user_traffic` AS select `a`.`id` AS `id`,`a`.`http_username` AS `username`,`u`.`full_name` AS `full_name`,`d`.`name` AS `department`,cast(from_unixtime(`a`.`time_since_epoch`) as date) AS `day`,`a`.`time_since_epoch` AS `time_since_epoch`,`a`.`ip_client` AS `ip_client`,`a`.`http_method` AS `http_method`,`a`.`http_url` AS `http_url`,`a`.`http_status_code` AS `http_status_code`,`a`.`squid_request_status` AS `squid_request_status`,`a`.`http_reply_size` AS `http_reply_size` from ((`access_log` `a` left join `users` `u` on(`u`.`username` = `a`.`http_username`)) left join `departments` `d` on(`d`.`id` = `u`.`department_id`));
