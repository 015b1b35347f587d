import Foundation
import StacyWorkerProto
import Synchronization

/// One sandbox this worker runs, as persisted in the state directory (workers.md §6.4).
public struct LocalSandbox: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var runtimeID: String
    public var provider: String
    /// The highest lease generation seen for this sandbox: the fencing high-water mark.
    public var generation: Int64
    /// Lease expiry (Unix ms, control-plane time).
    public var leaseExpiresAt: Int64
    public var spec: SpawnParams
    public var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case runtimeID = "runtime_id"
        case provider, generation
        case leaseExpiresAt = "lease_expires_at"
        case spec
        case createdAt = "created_at"
    }
}

/// What is left of a destroyed sandbox: its high-water mark, so a stale generation stays refused.
public struct Tombstone: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var generation: Int64
    public var destroyedAt: Int64
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case generation
        case destroyedAt = "destroyed_at"
        case reason
    }
}

/// The worker's durable records: one file per sandbox and per tombstone, each written atomically
/// (temp file, fsync, rename) before the worker acts on it, plus the drain flag.
public final class WorkerState: Sendable {
    private struct Contents {
        var sandboxes: [String: LocalSandbox] = [:]
        var tombstones: [String: Tombstone] = [:]
        var draining = false
    }

    private let directory: String
    private let contents = Mutex(Contents())

    public init(directory: String) throws {
        self.directory = directory
        for sub in ["sandboxes", "tombstones"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        var loaded = Contents()
        for sandbox: LocalSandbox in try Self.readAll(directory + "/sandboxes") { loaded.sandboxes[sandbox.sandboxID] = sandbox }
        for tombstone: Tombstone in try Self.readAll(directory + "/tombstones") { loaded.tombstones[tombstone.sandboxID] = tombstone }
        loaded.draining = FileManager.default.fileExists(atPath: directory + "/draining")
        contents.withLock { $0 = loaded }
    }

    public var sandboxes: [LocalSandbox] { contents.withLock { Array($0.sandboxes.values) }.sorted { $0.sandboxID < $1.sandboxID } }
    public var tombstones: [Tombstone] { contents.withLock { Array($0.tombstones.values) }.sorted { $0.sandboxID < $1.sandboxID } }
    public var count: Int { contents.withLock { $0.sandboxes.count } }

    public func sandbox(_ id: String) -> LocalSandbox? { contents.withLock { $0.sandboxes[id] } }
    public func tombstone(_ id: String) -> Tombstone? { contents.withLock { $0.tombstones[id] } }

    /// The fencing high-water mark of a sandbox: the highest generation in its record or tombstone.
    public func highWaterMark(_ id: String) -> Int64 {
        contents.withLock { max($0.sandboxes[id]?.generation ?? 0, $0.tombstones[id]?.generation ?? 0) }
    }

    /// Persists the record first, then makes it visible.
    public func save(_ sandbox: LocalSandbox) throws {
        try AtomicFile.write(try JSONEncoder().encode(sandbox), to: path("sandboxes", sandbox.sandboxID))
        contents.withLock { $0.sandboxes[sandbox.sandboxID] = sandbox }
    }

    /// Raises the high-water mark of a known sandbox before acting under a newer lease (§6.3 step 7).
    public func raiseGeneration(_ id: String, to generation: Int64, leaseExpiresAt: Int64) throws {
        guard var sandbox = sandbox(id), generation > sandbox.generation || leaseExpiresAt != sandbox.leaseExpiresAt else { return }
        sandbox.generation = max(sandbox.generation, generation)
        sandbox.leaseExpiresAt = leaseExpiresAt
        try save(sandbox)
    }

    /// Replaces the record with a tombstone (written first, so a crash between the two steps
    /// leaves the tombstone, never a record without one).
    public func tombstone(_ id: String, generation: Int64, reason: String, at now: Int64) throws {
        let stone = Tombstone(sandboxID: id, generation: max(generation, highWaterMark(id)), destroyedAt: now, reason: reason)
        try AtomicFile.write(try JSONEncoder().encode(stone), to: path("tombstones", id))
        unlink(path("sandboxes", id))
        contents.withLock {
            $0.sandboxes[id] = nil
            $0.tombstones[id] = stone
        }
    }

    /// Forgets tombstones older than `retentionMs` (`worker.tombstone_retention`).
    public func pruneTombstones(olderThan cutoff: Int64) {
        let old = contents.withLock { state -> [String] in
            let ids = state.tombstones.values.filter { $0.destroyedAt < cutoff }.map(\.sandboxID)
            for id in ids { state.tombstones[id] = nil }
            return ids
        }
        for id in old { unlink(path("tombstones", id)) }
    }

    public var draining: Bool { contents.withLock { $0.draining } }

    public func setDraining(_ draining: Bool) throws {
        let flag = directory + "/draining"
        if draining {
            try AtomicFile.write(Data("1\n".utf8), to: flag)
        } else if unlink(flag) != 0 && errno != ENOENT {
            throw WorkerStateError("cannot clear \(flag): \(String(cString: strerror(errno)))")
        }
        contents.withLock { $0.draining = draining }
    }

    private func path(_ kind: String, _ id: String) -> String { "\(directory)/\(kind)/\(id).json" }

    private static func readAll<T: Decodable>(_ directory: String) throws -> [T] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var items: [T] = []
        for name in names where name.hasSuffix(".json") {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            guard let item = try? JSONDecoder().decode(T.self, from: data) else {
                throw WorkerStateError("\(path) is not a valid state record; move it away to start")
            }
            items.append(item)
        }
        return items
    }
}
