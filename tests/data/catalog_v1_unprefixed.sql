-- A catalog written by jupyter-segments before its tables had the js_ prefix (schema version 1):
-- connect_demo(300), measure spend, segments vip and older (two versions), a refresh, a csv export.
BEGIN TRANSACTION;
CREATE TABLE exports (
	id INTEGER NOT NULL, 
	segment_id INTEGER NOT NULL, 
	segment_name TEXT NOT NULL, 
	run_id INTEGER, 
	destination VARCHAR(100) NOT NULL, 
	target TEXT, 
	options TEXT NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	rows BIGINT, 
	error TEXT, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(segment_id) REFERENCES segments (id) ON DELETE CASCADE
);
INSERT INTO "exports" VALUES(1,1,'vip',2,'csv','/tmp/oldcat/vip.csv','{"path": "/tmp/oldcat/vip.csv"}','Completed',43,NULL,'2026-12-02 07:28:38.851335','2026-12-02 07:28:39.104751');
CREATE TABLE measures (
	id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	expression TEXT NOT NULL, 
	description TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "measures" VALUES(1,'spend','sum(orders.amount)','all orders','2026-12-02 07:28:38.000000','2026-12-02 07:28:38.000000');
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	segment_id INTEGER NOT NULL, 
	segment_name TEXT NOT NULL, 
	batch VARCHAR(40) NOT NULL, 
	"trigger" VARCHAR(20) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	version INTEGER, 
	shared BOOLEAN NOT NULL, 
	queued_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	duration FLOAT, 
	members BIGINT, 
	added BIGINT, 
	removed BIGINT, 
	location VARCHAR(20), 
	errors TEXT NOT NULL, 
	warnings TEXT NOT NULL, 
	pid INTEGER, 
	host VARCHAR(255), 
	heartbeat_at DATETIME, 
	scratch TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(segment_id) REFERENCES segments (id) ON DELETE CASCADE
);
INSERT INTO "runs" VALUES(1,2,'older','51ac414942954312a4ca7040f26830d6','manual','Successful',2,1,'2026-12-02 07:28:38.538267','2026-12-02 07:28:38.601726','2026-12-02 07:28:38.725584',1.23873954999908164609e-01,137,137,0,'table','[]','[]',13451,'vm','2026-12-02 07:28:38.538267',NULL);
INSERT INTO "runs" VALUES(2,1,'vip','51ac414942954312a4ca7040f26830d6','manual','Successful',1,1,'2026-12-02 07:28:38.538267','2026-12-02 07:28:38.601726','2026-12-02 07:28:38.748716',1.4701163699999142409e-01,43,43,0,'table','[]','[]',13451,'vm','2026-12-02 07:28:38.538267',NULL);
CREATE TABLE schema_version (
	version INTEGER NOT NULL
);
INSERT INTO "schema_version" VALUES(1);
CREATE TABLE segment_versions (
	id INTEGER NOT NULL, 
	segment_id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	definition TEXT NOT NULL, 
	description TEXT, 
	draft BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (segment_id, version), 
	FOREIGN KEY(segment_id) REFERENCES segments (id) ON DELETE CASCADE
);
INSERT INTO "segment_versions" VALUES(1,1,1,'spend >= 1000','big spenders',0,'2026-12-02 07:28:38.000000');
INSERT INTO "segment_versions" VALUES(2,2,1,'age > 40',NULL,0,'2026-12-02 07:28:38.000000');
INSERT INTO "segment_versions" VALUES(3,2,2,'age > 45',NULL,0,'2026-12-02 07:28:38.000000');
CREATE TABLE segments (
	id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	display_name TEXT, 
	description TEXT, 
	definition TEXT NOT NULL, 
	type VARCHAR(20) NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	draft BOOLEAN NOT NULL, 
	version INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	activate_at DATETIME, 
	deactivate_at DATETIME, 
	members_location VARCHAR(20), 
	members_table TEXT, 
	members_file TEXT, 
	prev_members_file TEXT, 
	has_prev BOOLEAN NOT NULL, 
	members_run_id INTEGER, 
	last_run_id INTEGER, 
	lease_run_id INTEGER, 
	lease_expires DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "segments" VALUES(1,'vip',NULL,'big spenders','spend >= 1000','dynamic','active',0,1,'2026-12-02 07:28:38.000000','2026-12-02 07:28:38.000000',NULL,NULL,'table','seg_members__vip',NULL,NULL,0,2,2,NULL,NULL);
INSERT INTO "segments" VALUES(2,'older',NULL,NULL,'age > 45','dynamic','active',0,2,'2026-12-02 07:28:38.000000','2026-12-02 07:28:38.000000',NULL,NULL,'table','seg_members__older',NULL,NULL,0,1,1,NULL,NULL);
CREATE TABLE settings (
	"key" VARCHAR(200) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "settings" VALUES('model','{"customer": "customers", "key": "customer_id", "relationships": [["orders", "customers", "customer_id", "customer_id", true, null, null], ["support_calls", "customers", "cust_id", "customer_id", true, null, null], ["web_events", "customers", "customer_id", "customer_id", true, null, null]], "removed": [], "types": {}}');
CREATE INDEX ix_runs_segment ON runs (segment_id, id);
CREATE INDEX ix_runs_status ON runs (status);
COMMIT;
