-- Every v1 row must survive the upgrade unchanged.
SELECT id, state, state_reason, provider, image, memory_mb, vcpus, network, metadata, env, template,
       owner_id, tenant_id, worker_id, vm_id, preview_domain, preview_token_hash, created_at, updated_at,
       expires_at, original_expires_at, reap_pending, next_attempt_at, last_refresh_at
FROM sandboxes ORDER BY created_at, id;
SELECT key, value, updated_by, updated_at FROM settings ORDER BY key;
SELECT seq, type, sandbox_id, worker_id, tenant_id, owner_id, data, created_at FROM events ORDER BY seq;
SELECT instance_id, hostname, version, started_at, last_seen FROM control_planes;
SELECT id, key_sha256, role, tenant_id, owner_id, description, created_at, expires_at, revoked_at, last_used_at FROM api_keys;
SELECT name, image, memory_mb, vcpus, ttl, ttl_ms, provider, env, setup, on_drain, description FROM templates;
SELECT owner_id, max_sandboxes, max_ttl_seconds, max_exec_timeout_seconds FROM owner_quotas;
SELECT sandbox_id, command, argv, exit_code, hex(stdout), duration_ms FROM exec_logs;
SELECT principal, key, state, status, response FROM idempotency_keys;
-- New events keep counting after the old ones (AUTOINCREMENT state survived).
INSERT INTO events (type, data, created_at) VALUES ('upgrade.check', '{}', 0);
SELECT max(seq) FROM events;
