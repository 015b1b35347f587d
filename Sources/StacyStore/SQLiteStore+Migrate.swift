extension SQLiteStore {
    private static let createMigrationsTable = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at INTEGER NOT NULL
    )
    """

    public func migrate(to target: Int?) throws(StoreError) -> [MigrationRecord] {
        let known = SQLiteMigrations.all
        try MigrationPlanner.checkSequence(known)
        let targetVersion = try MigrationPlanner.resolveTarget(target, known: known)
        return try write { connection throws(StoreError) in
            try connection.execute(Self.createMigrationsTable)
            try MigrationPlanner.validate(MigrationPlanner.status(applied: try Self.applied(connection), known: known))

            var appliedNow: [MigrationRecord] = []
            for migration in known where migration.version <= targetVersion {
                // BEGIN IMMEDIATE is the migration lock on SQLite: it takes the file's write lock,
                // so re-reading the applied set inside it decides reliably whether another process
                // got here first.
                let record = try connection.transaction(immediate: true) { () throws(StoreError) -> MigrationRecord? in
                    let applied = try Self.applied(connection)
                    try MigrationPlanner.validate(MigrationPlanner.status(applied: applied, known: known))
                    if applied.contains(where: { $0.version == migration.version }) { return nil }
                    try connection.execute(migration.sql)
                    return try connection.queryFirst(
                        """
                        INSERT INTO schema_migrations (version, name, checksum, applied_at)
                        VALUES (?, ?, ?, \(Self.nowSQL)) RETURNING applied_at
                        """,
                        [.int(migration.version), .text(migration.name), .text(migration.checksum)]
                    ) { row in
                        MigrationRecord(
                            version: migration.version, name: migration.name,
                            checksum: migration.checksum, appliedAt: row.int64(0))
                    }
                }
                if let record { appliedNow.append(record) }
            }
            return appliedNow
        }
    }

    public func migrationStatus() throws(StoreError) -> MigrationStatus {
        let applied = try read { connection throws(StoreError) in try Self.applied(connection) }
        return MigrationPlanner.status(applied: applied, known: SQLiteMigrations.all)
    }

    /// Applied rows; empty when the table does not exist yet (readers cannot create it).
    private static func applied(_ connection: SQLiteConnection) throws(StoreError) -> [MigrationRecord] {
        let exists = try connection.queryFirst(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ) { $0.int64(0) } != nil
        guard exists else { return [] }
        return try connection.query(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        ) { row in
            MigrationRecord(version: row.int(0), name: row.string(1), checksum: row.string(2), appliedAt: row.int64(3))
        }
    }
}
