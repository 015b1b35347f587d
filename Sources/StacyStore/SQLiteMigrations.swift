// SQLite migrations, embedded as string constants (runtime.md §12).
//
// Rules: forward-only; never edit a shipped entry (its checksum is stored and verified at startup);
// add a new `Migration` with the next version instead, plus upgrade fixtures under
// scripts/upgrade-fixtures/sqlite/ for the version before it. Times are INTEGER Unix milliseconds;
// JSON columns are TEXT. `schema_migrations` itself is created by the runner, not by a migration,
// so "version 0" is a database with only that table.

public enum SQLiteMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "core_schema", sql: v1CoreSchema),
        Migration(version: 2, name: "workers_tenancy_audit", sql: v2WorkersTenancyAudit),
        Migration(version: 3, name: "text_epochs", sql: v3TextEpochs),
    ]

    static let v1CoreSchema = """
    CREATE TABLE sandboxes (
        id                  TEXT PRIMARY KEY,
        state               TEXT NOT NULL,
        state_reason        TEXT,
        provider            TEXT NOT NULL,
        image               TEXT NOT NULL,
        memory_mb           INTEGER NOT NULL,
        vcpus               INTEGER NOT NULL,
        network             TEXT,
        metadata            TEXT NOT NULL DEFAULT '{}',
        env                 TEXT NOT NULL DEFAULT '{}',
        template            TEXT,
        owner_id            TEXT,
        tenant_id           TEXT,
        worker_id           TEXT,
        vm_id               TEXT,
        preview_domain      TEXT,
        preview_token_hash  TEXT,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        expires_at          INTEGER,
        original_expires_at INTEGER,
        reap_pending        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at     INTEGER,
        last_refresh_at     INTEGER
    );
    CREATE INDEX sandboxes_tenant_owner_idx ON sandboxes (tenant_id, owner_id);
    CREATE INDEX sandboxes_worker_idx ON sandboxes (worker_id);
    CREATE INDEX sandboxes_state_idx ON sandboxes (state);
    CREATE INDEX sandboxes_expires_idx ON sandboxes (expires_at);
    CREATE INDEX sandboxes_created_idx ON sandboxes (created_at, id);

    CREATE TABLE control_planes (
        instance_id TEXT PRIMARY KEY,
        hostname    TEXT NOT NULL,
        version     TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL
    );

    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_by TEXT,
        updated_at INTEGER NOT NULL
    );

    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        type       TEXT NOT NULL,
        sandbox_id TEXT,
        worker_id  TEXT,
        tenant_id  TEXT,
        owner_id   TEXT,
        data       TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
    );
    CREATE INDEX events_created_idx ON events (created_at);
    CREATE INDEX events_sandbox_idx ON events (sandbox_id);

    CREATE TABLE idempotency_keys (
        principal      TEXT NOT NULL,
        key            TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
        status         INTEGER,
        response       TEXT,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (principal, key)
    );
    CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

    CREATE TABLE api_keys (
        id           TEXT PRIMARY KEY,
        key_sha256   TEXT NOT NULL UNIQUE,
        role         TEXT NOT NULL,
        tenant_id    TEXT,
        owner_id     TEXT,
        description  TEXT NOT NULL DEFAULT '',
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        revoked_at   INTEGER,
        last_used_at INTEGER
    );

    CREATE TABLE templates (
        name        TEXT PRIMARY KEY,
        tenant_id   TEXT,
        version     INTEGER NOT NULL DEFAULT 1,
        image       TEXT,
        memory_mb   INTEGER,
        vcpus       INTEGER,
        ttl         TEXT,
        ttl_ms      INTEGER,
        provider    TEXT,
        metadata    TEXT NOT NULL DEFAULT '{}',
        env         TEXT NOT NULL DEFAULT '{}',
        setup       TEXT NOT NULL DEFAULT '[]',
        on_drain    TEXT,
        description TEXT NOT NULL DEFAULT '',
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX templates_tenant_idx ON templates (tenant_id);

    CREATE TABLE owner_quotas (
        owner_id                 TEXT PRIMARY KEY,
        max_sandboxes            INTEGER,
        max_ttl_seconds          INTEGER,
        max_exec_timeout_seconds INTEGER,
        created_at               INTEGER NOT NULL,
        updated_at               INTEGER NOT NULL
    );

    CREATE TABLE exec_logs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        sandbox_id  TEXT NOT NULL,
        command     TEXT NOT NULL,
        argv        TEXT NOT NULL DEFAULT '[]',
        exit_code   INTEGER,
        stdout      TEXT,
        stderr      TEXT,
        duration_ms INTEGER,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX exec_logs_sandbox_idx ON exec_logs (sandbox_id, created_at);
    CREATE INDEX exec_logs_created_idx ON exec_logs (created_at);
    """

    static let v2WorkersTenancyAudit = """
    CREATE TABLE workers (
        id                    TEXT PRIMARY KEY,
        hostname              TEXT NOT NULL DEFAULT '',
        status                TEXT NOT NULL,
        liveness              TEXT NOT NULL,
        admin_state           TEXT NOT NULL DEFAULT 'active',
        epoch                 INTEGER NOT NULL DEFAULT 0,
        started_at            INTEGER,
        protocol_version      INTEGER NOT NULL DEFAULT 1,
        version               TEXT NOT NULL DEFAULT '',
        heartbeat_interval_ms INTEGER,
        providers             TEXT NOT NULL DEFAULT '[]',
        capabilities          TEXT NOT NULL DEFAULT '{}',
        capacity              TEXT NOT NULL DEFAULT '{}',
        usage                 TEXT NOT NULL DEFAULT '{}',
        labels                TEXT NOT NULL DEFAULT '{}',
        last_heartbeat        INTEGER,
        drain_started_at      INTEGER,
        drain_deadline        INTEGER,
        drain_reason          TEXT,
        created_at            INTEGER NOT NULL,
        updated_at            INTEGER NOT NULL
    );
    CREATE INDEX workers_liveness_idx ON workers (liveness);

    -- No foreign key to workers: credentials are issued before a worker's first heartbeat creates its row.
    CREATE TABLE worker_credentials (
        id            TEXT PRIMARY KEY,
        worker_id     TEXT NOT NULL,
        kind          TEXT NOT NULL DEFAULT 'secret' CHECK (kind IN ('secret', 'ed25519')),
        secret_sha256 TEXT UNIQUE,
        scopes        TEXT NOT NULL DEFAULT '[]',
        description   TEXT NOT NULL DEFAULT '',
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        revoked_at    INTEGER,
        last_used_at  INTEGER
    );
    CREATE INDEX worker_credentials_worker_idx ON worker_credentials (worker_id);

    -- workers.md §6.1. generation is the fencing token; times are database time.
    CREATE TABLE leases (
        resource_id   TEXT PRIMARY KEY,
        resource_type TEXT NOT NULL CHECK (resource_type IN ('sandbox', 'leader')),
        holder_id     TEXT NOT NULL,
        holder_epoch  INTEGER NOT NULL,
        generation    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE INDEX leases_holder_idx ON leases (holder_id);
    CREATE INDEX leases_expires_idx ON leases (expires_at);

    CREATE TABLE admin_audit_logs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        actor        TEXT NOT NULL,
        on_behalf_of TEXT,
        method       TEXT NOT NULL,
        path         TEXT NOT NULL,
        status       INTEGER NOT NULL,
        duration_ms  INTEGER NOT NULL,
        request_id   TEXT,
        remote_addr  TEXT,
        user_agent   TEXT,
        tenant_id    TEXT,
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX admin_audit_logs_created_idx ON admin_audit_logs (created_at);
    CREATE INDEX admin_audit_logs_actor_idx ON admin_audit_logs (actor);
    CREATE INDEX admin_audit_logs_tenant_idx ON admin_audit_logs (tenant_id);

    CREATE TABLE operation_audit_logs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        actor        TEXT NOT NULL,
        on_behalf_of TEXT,
        tenant_id    TEXT,
        action       TEXT NOT NULL,
        sandbox_id   TEXT,
        resource     TEXT,
        provider     TEXT,
        worker_id    TEXT,
        status       TEXT NOT NULL,
        detail       TEXT CHECK (detail IS NULL OR length(detail) <= 2048),
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX operation_audit_logs_created_idx ON operation_audit_logs (created_at);
    CREATE INDEX operation_audit_logs_actor_idx ON operation_audit_logs (actor);
    CREATE INDEX operation_audit_logs_tenant_idx ON operation_audit_logs (tenant_id);
    CREATE INDEX operation_audit_logs_sandbox_idx ON operation_audit_logs (sandbox_id);

    CREATE TABLE tenants (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        owner_id   TEXT,
        settings   TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );

    CREATE TABLE tenant_members (
        tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
    );
    CREATE INDEX tenant_members_user_idx ON tenant_members (user_id);

    -- tenant_id NULL = global policy.
    CREATE TABLE policies (
        id            TEXT PRIMARY KEY,
        tenant_id     TEXT REFERENCES tenants (id) ON DELETE CASCADE,
        resource_type TEXT NOT NULL CHECK (resource_type IN ('image', 'provider', 'network')),
        effect        TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
        pattern       TEXT NOT NULL,
        priority      INTEGER NOT NULL DEFAULT 10,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE INDEX policies_tenant_type_idx ON policies (tenant_id, resource_type);

    CREATE TABLE event_tickets (
        ticket_sha256 TEXT PRIMARY KEY,
        principal     TEXT NOT NULL,
        expires_at    INTEGER NOT NULL
    );
    CREATE INDEX event_tickets_expires_idx ON event_tickets (expires_at);
    """

    /// Epochs are 128-bit hex strings or `legacy` (workers.md §4), not integers: version 2 declared
    /// `workers.epoch` and `leases.holder_epoch` INTEGER, whose affinity turns an all-digit epoch into
    /// a number (leading zeros lost) and one like `12e4…` into a REAL. It also gave
    /// `workers.capabilities`, a JSON array, the default '{}'. SQLite cannot change a column's type,
    /// so both tables are rebuilt (create, copy, drop, rename, re-index). Copied epochs: the old
    /// default 0 ("no epoch") becomes `legacy`; any other stored value is kept as its text; the old
    /// '{}' capabilities default becomes '[]'.
    static let v3TextEpochs = """
    CREATE TABLE workers_v3 (
        id                    TEXT PRIMARY KEY,
        hostname              TEXT NOT NULL DEFAULT '',
        status                TEXT NOT NULL,
        liveness              TEXT NOT NULL,
        admin_state           TEXT NOT NULL DEFAULT 'active',
        epoch                 TEXT NOT NULL DEFAULT 'legacy',
        started_at            INTEGER,
        protocol_version      INTEGER NOT NULL DEFAULT 1,
        version               TEXT NOT NULL DEFAULT '',
        heartbeat_interval_ms INTEGER,
        providers             TEXT NOT NULL DEFAULT '[]',
        capabilities          TEXT NOT NULL DEFAULT '[]',
        capacity              TEXT NOT NULL DEFAULT '{}',
        usage                 TEXT NOT NULL DEFAULT '{}',
        labels                TEXT NOT NULL DEFAULT '{}',
        last_heartbeat        INTEGER,
        drain_started_at      INTEGER,
        drain_deadline        INTEGER,
        drain_reason          TEXT,
        created_at            INTEGER NOT NULL,
        updated_at            INTEGER NOT NULL
    );
    INSERT INTO workers_v3 (
        id, hostname, status, liveness, admin_state, epoch, started_at, protocol_version, version,
        heartbeat_interval_ms, providers, capabilities, capacity, usage, labels, last_heartbeat,
        drain_started_at, drain_deadline, drain_reason, created_at, updated_at)
    SELECT
        id, hostname, status, liveness, admin_state,
        CASE WHEN typeof(epoch) = 'integer' AND epoch = 0 THEN 'legacy' ELSE CAST(epoch AS TEXT) END,
        started_at, protocol_version, version, heartbeat_interval_ms, providers,
        CASE WHEN capabilities = '{}' THEN '[]' ELSE capabilities END,
        capacity, usage, labels, last_heartbeat, drain_started_at, drain_deadline, drain_reason,
        created_at, updated_at
    FROM workers;
    DROP TABLE workers;
    ALTER TABLE workers_v3 RENAME TO workers;
    CREATE INDEX workers_liveness_idx ON workers (liveness);

    CREATE TABLE leases_v3 (
        resource_id   TEXT PRIMARY KEY,
        resource_type TEXT NOT NULL CHECK (resource_type IN ('sandbox', 'leader')),
        holder_id     TEXT NOT NULL,
        holder_epoch  TEXT NOT NULL DEFAULT 'legacy',
        generation    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    INSERT INTO leases_v3 (
        resource_id, resource_type, holder_id, holder_epoch, generation, expires_at, created_at, updated_at)
    SELECT
        resource_id, resource_type, holder_id,
        CASE WHEN typeof(holder_epoch) = 'integer' AND holder_epoch = 0 THEN 'legacy'
             ELSE CAST(holder_epoch AS TEXT) END,
        generation, expires_at, created_at, updated_at
    FROM leases;
    DROP TABLE leases;
    ALTER TABLE leases_v3 RENAME TO leases;
    CREATE INDEX leases_holder_idx ON leases (holder_id);
    CREATE INDEX leases_expires_idx ON leases (expires_at);
    """
}
