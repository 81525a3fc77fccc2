-- written by tests/data/make_store_34a0bcc.py with 34a0bcc's code
PRAGMA user_version=4;
BEGIN TRANSACTION;
CREATE TABLE link_metadata (
        link_id INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,
        key     TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        PRIMARY KEY (link_id, key)
    );
INSERT INTO "link_metadata" VALUES(1,'owner','tp');
INSERT INTO "link_metadata" VALUES(2,'owner','kp');
INSERT INTO "link_metadata" VALUES(3,'owner','krp');
INSERT INTO "link_metadata" VALUES(4,'owner','up');
INSERT INTO "link_metadata" VALUES(5,'owner','urp');
INSERT INTO "link_metadata" VALUES(6,'owner','fe');
INSERT INTO "link_metadata" VALUES(7,'owner','fx');
INSERT INTO "link_metadata" VALUES(8,'owner','xdp_direct');
INSERT INTO "link_metadata" VALUES(9,'owner','tc_direct');
INSERT INTO "link_metadata" VALUES(10,'owner','tcx');
INSERT INTO "link_metadata" VALUES(11,'owner','xdp_m1');
INSERT INTO "link_metadata" VALUES(12,'owner','xdp_m2');
INSERT INTO "link_metadata" VALUES(13,'owner','tc_m1');
INSERT INTO "link_metadata" VALUES(14,'owner','tc_m2');
INSERT INTO "link_metadata" VALUES(15,'owner','tc_m3');
CREATE TABLE links (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        program_id     INTEGER NOT NULL REFERENCES programs(id),
        kind           INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 4, 5, 6, 7)),
        kernel_link_id INTEGER,
        pin_path       TEXT,
        params         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
        created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
INSERT INTO "links" VALUES(1,101,2,1101,'/run/bpfman/fs/links/1','{"tracepoint": "syscalls/sys_enter_kill"}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(2,102,3,1102,'/run/bpfman/fs/links/2','{"fn_name": "do_unlinkat", "offset": 16, "container_pid": null}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(3,103,3,1103,'/run/bpfman/fs/links/3','{"fn_name": "do_unlinkat", "offset": 0, "container_pid": 1}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(4,104,4,1104,'/run/bpfman/fs/links/4','{"target": "libc", "fn_name": "malloc", "offset": 0, "pid": null, "container_pid": null}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(5,105,4,1105,'/run/bpfman/fs/links/5','{"target": "/usr/bin/bash", "fn_name": null, "offset": 4096, "pid": 7, "container_pid": null}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(6,106,5,1106,'/run/bpfman/fs/links/6','{"fn_name": "do_unlinkat"}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(7,107,6,1107,'/run/bpfman/fs/links/7','{"fn_name": "do_unlinkat"}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(8,108,0,1108,NULL,'{"iface": "veth-a", "priority": 50, "netns": null, "netns_ino": 4026531840, "proceed_on": [2], "position": 0}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(9,109,1,1109,NULL,'{"iface": "veth-a", "priority": 50, "netns": "/run/netns/blue", "netns_ino": 4026532000, "direction": "ingress", "proceed_on": [3], "ifindex": 5, "tc_priority": 49152, "tc_handle": 1, "tc_qdisc_created": true, "position": 0}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(10,110,7,1110,'/run/bpfman/fs/links/10','{"iface": "veth-a", "priority": 10, "netns": null, "netns_ino": 4026531840, "direction": "egress", "position": 0}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(11,111,0,1111,NULL,'{"iface": "veth-b", "priority": 10, "netns": null, "netns_ino": 4026531840, "proceed_on": [2], "ifindex": 6, "position": 0, "dispatcher_id": 900, "xdp_mode": "skb"}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(12,112,0,1112,NULL,'{"iface": "veth-b", "priority": 20, "netns": null, "netns_ino": 4026531840, "proceed_on": [1, 2], "ifindex": 6, "position": 1, "dispatcher_id": 900, "xdp_mode": "skb"}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(13,113,1,1113,NULL,'{"iface": "veth-c", "priority": 10, "netns": null, "netns_ino": 4026531840, "direction": "ingress", "proceed_on": [3], "ifindex": 7, "position": 1, "dispatcher_id": 901, "dispatcher_handle": 2, "tc_qdisc_created": true}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(14,114,1,1114,NULL,'{"iface": "veth-c", "priority": 5, "netns": null, "netns_ino": 4026531840, "direction": "ingress", "proceed_on": [3, 4], "ifindex": 7, "position": 0, "dispatcher_id": 901, "dispatcher_handle": 2, "tc_qdisc_created": true}','2026-12-02T18:04:01.254Z');
INSERT INTO "links" VALUES(15,115,1,1115,'/run/bpfman/fs/links/15','{"iface": "veth-c", "priority": 10, "netns": null, "netns_ino": 4026531840, "direction": "egress", "proceed_on": [3], "ifindex": 7, "position": 0, "dispatcher_id": 902, "dispatcher_handle": 3, "tc_qdisc_created": false}','2026-12-02T18:04:01.255Z');
CREATE TABLE program_globals (
        program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
        name       TEXT    NOT NULL,
        value      BLOB    NOT NULL,
        PRIMARY KEY (program_id, name)
    );
CREATE TABLE program_metadata (
        program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
        key        TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        PRIMARY KEY (program_id, key)
    );
INSERT INTO "program_metadata" VALUES(101,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(103,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(105,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(107,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(109,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(111,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(113,'bpfman_application','app');
INSERT INTO "program_metadata" VALUES(115,'bpfman_application','app');
CREATE TABLE "programs" (
        id            INTEGER PRIMARY KEY CHECK (id > 0),
        name          TEXT    NOT NULL CHECK (length(name) > 0),
        kind          INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 4, 5, 6, 7)),
        retprobe      INTEGER NOT NULL DEFAULT 0 CHECK (retprobe IN (0, 1)),
        path          TEXT,
        image_url     TEXT,
        pull_policy   TEXT,
        attach_fn     TEXT,
        map_owner_id  INTEGER CHECK (map_owner_id IS NULL OR map_owner_id > 0),
        map_pin_path  TEXT    NOT NULL,
        tag           TEXT    NOT NULL,
        created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        image_digest  TEXT, given_path TEXT,
        CHECK ((path IS NULL) <> (image_url IS NULL))
    );
INSERT INTO "programs" VALUES(101,'tp',2,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/101','0123456789abcdef','2026-12-02T18:04:01.253Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(102,'kp',3,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/102','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(103,'krp',3,1,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/103','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(104,'up',4,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/104','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(105,'urp',4,1,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/105','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(106,'fe',5,0,'/tmp/x.bpf.o',NULL,NULL,'do_unlinkat',NULL,'/run/bpfman/fs/maps/106','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(107,'fx',6,0,'/tmp/x.bpf.o',NULL,NULL,'do_unlinkat',NULL,'/run/bpfman/fs/maps/107','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(108,'xdp_direct',0,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/108','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(109,'tc_direct',1,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/109','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(110,'tcx',7,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/110','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(111,'xdp_m1',0,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/111','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(112,'xdp_m2',0,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/112','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(113,'tc_m1',1,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/113','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(114,'tc_m2',1,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/114','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
INSERT INTO "programs" VALUES(115,'tc_m3',1,0,'/tmp/x.bpf.o',NULL,NULL,NULL,NULL,'/run/bpfman/fs/maps/115','0123456789abcdef','2026-12-02T18:04:01.254Z',NULL,'x.bpf.o');
CREATE INDEX links_by_program ON links(program_id);
CREATE INDEX programs_by_map_pin_path ON programs(map_pin_path);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('links',15);
COMMIT;
