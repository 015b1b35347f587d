-- Every v2 row must survive the upgrade; epochs become text (workers.md §4, §6.1).
SELECT id, hostname, status, liveness, admin_state, epoch, typeof(epoch), started_at, protocol_version, version,
       heartbeat_interval_ms, providers, capabilities, capacity, usage, labels, last_heartbeat, drain_started_at,
       drain_deadline, drain_reason, created_at, updated_at
FROM workers ORDER BY id;
SELECT resource_id, resource_type, holder_id, holder_epoch, typeof(holder_epoch), generation, expires_at, created_at,
       updated_at
FROM leases ORDER BY resource_id;
SELECT id, worker_id, kind, secret_sha256, scopes, description, created_at, expires_at, revoked_at, last_used_at
FROM worker_credentials ORDER BY id;
SELECT id, name, owner_id, settings FROM tenants;
SELECT tenant_id, user_id, role FROM tenant_members;
SELECT id, tenant_id, resource_type, effect, pattern, priority FROM policies;
SELECT actor, method, path, status, duration_ms, created_at FROM admin_audit_logs;
SELECT actor, tenant_id, action, sandbox_id, worker_id, status, detail FROM operation_audit_logs;
SELECT ticket_sha256, principal, expires_at FROM event_tickets;
-- Column types and defaults after the rebuild.
SELECT 'workers', name, type, "notnull", dflt_value FROM pragma_table_info('workers')
WHERE name IN ('epoch', 'capabilities') ORDER BY cid;
SELECT 'leases', name, type, "notnull", dflt_value FROM pragma_table_info('leases')
WHERE name = 'holder_epoch';
-- Indexes recreated; no table left over from the rebuild.
SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('workers', 'leases') AND sql IS NOT NULL
ORDER BY name;
SELECT 'leftovers', count(*) FROM sqlite_master WHERE name LIKE '%\_v3' ESCAPE '\';
-- New rows: defaults apply and a digit-only epoch stays text.
INSERT INTO workers (id, status, liveness, created_at, updated_at) VALUES ('worker-new', 'online', 'alive', 1, 1);
INSERT INTO workers (id, status, liveness, epoch, created_at, updated_at)
VALUES ('worker-digit-epoch', 'online', 'alive', '00000000000000000000000000001234', 1, 1);
SELECT id, epoch, typeof(epoch), capabilities FROM workers WHERE id IN ('worker-new', 'worker-digit-epoch') ORDER BY id;
INSERT INTO leases (resource_id, resource_type, holder_id, generation, expires_at, created_at, updated_at)
VALUES ('sb-new', 'sandbox', 'worker-new', 1, 2, 1, 1);
SELECT resource_id, holder_epoch FROM leases WHERE resource_id = 'sb-new';
PRAGMA integrity_check;
