// Settings (runtime config overrides) and control-plane registration.
extension SQLiteStore {
    private static func setting(_ row: SQLiteStatement) -> SettingRecord {
        SettingRecord(key: row.string(0), valueJSON: row.string(1), updatedBy: row.optionalString(2), updatedAt: row.int64(3))
    }

    private static func controlPlane(_ row: SQLiteStatement) -> ControlPlaneRecord {
        ControlPlaneRecord(
            instanceID: row.string(0), hostname: row.string(1), version: row.string(2),
            startedAt: row.int64(3), lastSeen: row.int64(4))
    }

    public func getSetting(_ key: String) throws(StoreError) -> SettingRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT key, value, updated_by, updated_at FROM settings WHERE key = ?", [.text(key)], row: Self.setting)
        }
    }

    @discardableResult
    public func putSetting(key: String, valueJSON: String, updatedBy: String?) throws(StoreError) -> SettingRecord {
        let stored = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, \(Self.nowSQL))
                ON CONFLICT (key) DO UPDATE SET
                    value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at
                RETURNING key, value, updated_by, updated_at
                """, [.text(key), .text(valueJSON), .text(updatedBy)], row: Self.setting)
        }
        guard let stored else { throw .internal("settings upsert returned no row") }
        return stored
    }

    public func listSettings() throws(StoreError) -> [SettingRecord] {
        try read { connection throws(StoreError) in
            try connection.query("SELECT key, value, updated_by, updated_at FROM settings ORDER BY key", row: Self.setting)
        }
    }

    @discardableResult
    public func registerControlPlane(instanceID: String, hostname: String, version: String) throws(StoreError) -> ControlPlaneRecord {
        let stored = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                INSERT INTO control_planes (instance_id, hostname, version, started_at, last_seen)
                VALUES (?, ?, ?, \(Self.nowSQL), \(Self.nowSQL))
                ON CONFLICT (instance_id) DO UPDATE SET
                    hostname = excluded.hostname, version = excluded.version,
                    started_at = excluded.started_at, last_seen = excluded.last_seen
                RETURNING instance_id, hostname, version, started_at, last_seen
                """, [.text(instanceID), .text(hostname), .text(version)], row: Self.controlPlane)
        }
        guard let stored else { throw .internal("control plane upsert returned no row") }
        return stored
    }

    public func touchControlPlane(instanceID: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE control_planes SET last_seen = \(Self.nowSQL) WHERE instance_id = ?", [.text(instanceID)])
        }
        if changed == 0 { throw .notFound }
    }

    public func listControlPlanes() throws(StoreError) -> [ControlPlaneRecord] {
        try read { connection throws(StoreError) in
            try connection.query(
                "SELECT instance_id, hostname, version, started_at, last_seen FROM control_planes ORDER BY instance_id",
                row: Self.controlPlane)
        }
    }
}
