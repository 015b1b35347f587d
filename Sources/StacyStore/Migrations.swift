/// One numbered, forward-only schema step, embedded in the binary.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 hex of `sql`, stored with the applied row so later edits to a shipped migration are caught.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hex(sql)
    }
}

/// A row of `schema_migrations`.
public struct MigrationRecord: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let checksum: String
    public let appliedAt: Int64

    public init(version: Int, name: String, checksum: String, appliedAt: Int64) {
        self.version = version
        self.name = name
        self.checksum = checksum
        self.appliedAt = appliedAt
    }
}

public struct MigrationStatus: Sendable, Equatable {
    /// Highest applied version (0 for an empty database).
    public let currentVersion: Int
    /// Highest version this binary knows.
    public let latestVersion: Int
    public let applied: [MigrationRecord]
    /// Known but not yet applied, ascending.
    public let pending: [Migration]
    /// Applied versions whose stored checksum differs from the binary's SQL.
    public let checksumMismatches: [Int]
    /// Applied versions this binary does not know (the database is newer than the binary).
    public let unknownApplied: [Int]

    public init(
        currentVersion: Int, latestVersion: Int, applied: [MigrationRecord], pending: [Migration],
        checksumMismatches: [Int], unknownApplied: [Int]
    ) {
        self.currentVersion = currentVersion
        self.latestVersion = latestVersion
        self.applied = applied
        self.pending = pending
        self.checksumMismatches = checksumMismatches
        self.unknownApplied = unknownApplied
    }
}

/// Dialect-independent planning: compares what a database has applied with what a binary ships.
/// Each store applies the plan in its own locking/transaction style.
enum MigrationPlanner {
    static func status(applied: [MigrationRecord], known: [Migration]) -> MigrationStatus {
        let byVersion = Dictionary(uniqueKeysWithValues: known.map { ($0.version, $0) })
        let appliedVersions = Set(applied.map(\.version))
        let mismatches = applied.compactMap { record -> Int? in
            guard let migration = byVersion[record.version] else { return nil }
            return migration.checksum == record.checksum ? nil : record.version
        }
        return MigrationStatus(
            currentVersion: applied.map(\.version).max() ?? 0,
            latestVersion: known.map(\.version).max() ?? 0,
            applied: applied.sorted { $0.version < $1.version },
            pending: known.filter { !appliedVersions.contains($0.version) }.sorted { $0.version < $1.version },
            checksumMismatches: mismatches.sorted(),
            unknownApplied: applied.map(\.version).filter { byVersion[$0] == nil }.sorted()
        )
    }

    /// Refuses to touch a database whose history disagrees with this binary.
    static func validate(_ status: MigrationStatus) throws(StoreError) {
        if let version = status.checksumMismatches.first { throw .migrationChecksumMismatch(version) }
        if let version = status.unknownApplied.first {
            throw .internal("database has migration \(version), newer than this binary (latest \(status.latestVersion))")
        }
    }

    /// Resolves the requested target; nil means latest. Unknown targets are `.notFound`.
    static func resolveTarget(_ target: Int?, known: [Migration]) throws(StoreError) -> Int {
        let latest = known.map(\.version).max() ?? 0
        guard let target else { return latest }
        guard target >= 0, target <= latest else { throw .notFound }
        return target
    }

    /// Checks the embedded list itself: versions 1...n, contiguous, unique. A broken list is a
    /// programming error caught by tests, but also guarded at runtime before touching a database.
    static func checkSequence(_ known: [Migration]) throws(StoreError) {
        for (index, migration) in known.enumerated() where migration.version != index + 1 {
            throw .internal("embedded migrations are not numbered 1...n (found \(migration.version) at position \(index + 1))")
        }
    }
}
