-- Sample rows for schema version 2 (workers, credentials, leases, tenancy, audit). Unicode and quotes
-- on purpose. Migration 3 rebuilds `workers` and `leases` with TEXT epochs: every row must survive,
-- epochs as text, the old INTEGER 0 epoch default as `legacy`, the old '{}' capabilities as '[]'.
INSERT INTO workers (id, hostname, status, liveness, admin_state, epoch, started_at, protocol_version, version,
    heartbeat_interval_ms, providers, capabilities, capacity, usage, labels, last_heartbeat, drain_started_at,
    drain_deadline, drain_reason, created_at, updated_at)
VALUES
    ('worker-a', 'wörker-a.internal', 'online', 'alive', 'draining', '9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50',
     1778320000000, 2, '1.0.0', 10000, '["namespace","mock"]', '["spawn","exec","exec_stream"]',
     '{"max_sandboxes":0,"vcpus":16,"memory_mb":51200,"rpc_url":"http://10.0.0.5:7430"}',
     '{"sandboxes":3,"vcpus":3,"memory_mb":1536}', '{"zone":"a ü","team":"o''brien"}', 1778320800000,
     1778320700000, 1778324300000, 'kernel ''update'' — “soon”', 1778320000000, 1778320800000);
-- Column defaults of version 2: epoch 0, capabilities '{}', admin_state 'active'.
INSERT INTO workers (id, status, liveness, created_at, updated_at) VALUES
    ('worker-rest', 'online', 'stale', 1778320100000, 1778320100000);
-- An all-digit epoch: INTEGER affinity already stored it as the number 1234 (the bug migration 3
-- fixes); the upgrade can only keep that number's text.
INSERT INTO workers (id, status, liveness, epoch, capabilities, created_at, updated_at) VALUES
    ('worker-digits', 'offline', 'lost', '00000000000000000000000000001234', '[]', 1778320200000, 1778320200000);

INSERT INTO worker_credentials (id, worker_id, kind, secret_sha256, scopes, description, created_at, expires_at,
    revoked_at, last_used_at)
VALUES
    ('wc-1', 'worker-a', 'secret', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
     '["worker:heartbeat","worker:lease","worker:inventory"]', 'issued by ''ops'' 🚀', 1778320000000, NULL, NULL,
     1778320800000),
    ('wc-2', 'worker-b', 'secret', NULL, '[]', '', 1778320000500, 1778406400000, 1778320900000, NULL);

INSERT INTO leases (resource_id, resource_type, holder_id, holder_epoch, generation, expires_at, created_at, updated_at)
VALUES
    ('sb-0123456789abcdef01234567', 'sandbox', 'worker-a', '9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50', 4, 1778407200000,
     1778320800000, 1778320900000),
    ('leader', 'leader', 'cp-a-1b2c3d', 0, 17, 1778320815000, 1778320000000, 1778320800000);

INSERT INTO tenants (id, name, owner_id, settings, created_at, updated_at) VALUES
    ('tenant-ü', 'Tenant Ü', 'o''brien', '{"max_sandboxes":5}', 1778320000000, 1778320000000);
INSERT INTO tenant_members (tenant_id, user_id, role, created_at, updated_at) VALUES
    ('tenant-ü', 'alice', 'operator', 1778320000000, 1778320000000);
INSERT INTO policies (id, tenant_id, resource_type, effect, pattern, priority, created_at, updated_at) VALUES
    ('pol-1', 'tenant-ü', 'image', 'deny', 'docker.io/evil/*', 5, 1778320000000, 1778320000000);
INSERT INTO admin_audit_logs (actor, on_behalf_of, method, path, status, duration_ms, request_id, remote_addr,
    user_agent, tenant_id, created_at)
VALUES ('key-1', NULL, 'POST', '/admin/workers/worker-a/drain', 200, 12, 'req-1', '10.0.0.9', 'curl/8', NULL, 1778320700000);
INSERT INTO operation_audit_logs (actor, on_behalf_of, tenant_id, action, sandbox_id, resource, provider, worker_id,
    status, detail, created_at)
VALUES ('key-1', NULL, 'tenant-ü', 'sandbox.create', 'sb-0123456789abcdef01234567', NULL, 'namespace', 'worker-a',
    'ok', 'détail "quoted"', 1778320800000);
INSERT INTO event_tickets (ticket_sha256, principal, expires_at) VALUES
    ('5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5', 'key-1', 1778320860000);
