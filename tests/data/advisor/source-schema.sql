-- The schema of the legacy admin app in tests/data/advisor/source/ (written by us, by hand):
-- a shop with customers and invoices, and a proxy report with its own daily table. Only
-- primary keys and one index on invoices, as such an app is usually found.
CREATE TABLE shop_customers (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(120) NOT NULL,
  email VARCHAR(190) NULL,
  country CHAR(2) NOT NULL,
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  updated_at DATETIME NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB AUTO_INCREMENT=48001 DEFAULT CHARSET=utf8mb4;

CREATE TABLE invoices (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  customer_id INT UNSIGNED NOT NULL,
  status VARCHAR(16) NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  created_at DATETIME NOT NULL,
  due_date DATE NOT NULL,
  PRIMARY KEY (id),
  KEY idx_created (created_at)
) ENGINE=InnoDB AUTO_INCREMENT=910001 DEFAULT CHARSET=utf8mb4;

CREATE TABLE countries (code CHAR(2) NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL) ENGINE=InnoDB;

CREATE TABLE customer_status (code VARCHAR(16) NOT NULL PRIMARY KEY, label VARCHAR(64) NOT NULL);

CREATE TABLE proxy_hosts (
  name VARCHAR(255) NOT NULL PRIMARY KEY, first_seen DATETIME NOT NULL, last_seen DATETIME NULL,
  blocked TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB;

CREATE TABLE access_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  date_time DATETIME NOT NULL,
  date_day DATE NOT NULL,
  client_ip VARCHAR(45) NOT NULL,
  url TEXT NOT NULL,
  http_status SMALLINT NOT NULL,
  bytes BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id),
  KEY idx_day (date_day)
) ENGINE=InnoDB AUTO_INCREMENT=3000001;

CREATE TABLE access_daily (
  day DATE NOT NULL, client_ip VARCHAR(45) NOT NULL, requests INT UNSIGNED NOT NULL, bytes BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (day, client_ip)
) ENGINE=InnoDB AUTO_INCREMENT=1;
