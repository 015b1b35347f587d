-- Sample rows for schema version 1 (core tables). Unicode and quotes on purpose.
INSERT INTO sandboxes (id, state, state_reason, provider, image, memory_mb, vcpus, network, metadata, env,
    template, owner_id, tenant_id, worker_id, vm_id, preview_domain, preview_token_hash, created_at,
    updated_at, expires_at, original_expires_at, reap_pending, next_attempt_at, last_refresh_at)
VALUES
    ('sb-0123456789abcdef01234567', 'running', NULL, 'namespace', 'ubuntu:24.04', 512, 1, 'none',
     '{"team":"ünïcødé 🚀","quote":"it''s \"fine\""}', '{"LANG":"ja_JP.UTF-8","GREETING":"こんにちは"}',
     'python', 'o''brien', 'tenant-ü', 'local', 'vm-1', 'p.example.test', NULL, 1778320800000,
     1778320800123, 1778407200000, 1778407200000, 0, NULL, 1778320801000),
    ('sb-fedcba9876543210fedcba98', 'error', 'setup command 2 exited 1: “smart quotes”', 'mock', 'alpine:3',
     256, 2, NULL, '{}', '{}', NULL, 'alice', NULL, NULL, NULL, NULL, NULL, 1778320900000,
     1778320900000, NULL, NULL, 1, 1778321000000, NULL);

INSERT INTO settings (key, value, updated_by, updated_at) VALUES
    ('defaults.max_ttl', '"12h"', 'admin-key-1', 1778320800000),
    ('auth.banner', '"Grüße, 世界 — ''quoted''"', NULL, 1778320800500);

INSERT INTO events (type, sandbox_id, worker_id, tenant_id, owner_id, data, created_at) VALUES
    ('sandbox.created', 'sb-0123456789abcdef01234567', 'local', 'tenant-ü', 'o''brien', '{"image":"ubuntu:24.04"}', 1778320800000),
    ('exec.completed', 'sb-0123456789abcdef01234567', 'local', 'tenant-ü', 'o''brien', '{"out":"日本語 \"q\""}', 1778320805000),
    ('sandbox.error', 'sb-fedcba9876543210fedcba98', NULL, NULL, 'alice', '{"error":"boom"}', 1778320900000);

INSERT INTO control_planes (instance_id, hostname, version, started_at, last_seen) VALUES
    ('cp-1', 'häst-1', '0.1.0', 1778320000000, 1778320800000);

INSERT INTO api_keys (id, key_sha256, role, tenant_id, owner_id, description, created_at) VALUES
    ('key-1', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'admin', NULL, NULL, 'bootstrap ключ', 1778320000000);

INSERT INTO templates (name, tenant_id, version, image, memory_mb, vcpus, ttl, ttl_ms, provider, metadata, env, setup, on_drain, description, created_at, updated_at) VALUES
    ('python', NULL, 1, 'python:3.12', 1024, 2, '1h', 3600000, 'namespace', '{}', '{"PIP":"1"}', '["pip install -r requirements.txt"]', 'recreate', 'Python 🐍', 1778320000000, 1778320000000);

INSERT INTO owner_quotas (owner_id, max_sandboxes, max_ttl_seconds, max_exec_timeout_seconds, created_at, updated_at) VALUES
    ('o''brien', 5, 86400, 600, 1778320000000, 1778320000000);

INSERT INTO exec_logs (sandbox_id, command, argv, exit_code, stdout, stderr, duration_ms, created_at) VALUES
    ('sb-0123456789abcdef01234567', 'echo', '["echo","héllo"]', 0, 'héllo
', '', 12, 1778320805000);

INSERT INTO idempotency_keys (principal, key, request_sha256, state, status, response, created_at) VALUES
    ('key-1', 'idem-1', 'abc', 'done', 201, '{"id":"sb-0123456789abcdef01234567"}', 1778320800000);
