/// The registry's in-memory worker table (workers.md §9): the snapshots, plus one plain-value
/// `PlacementFacts` row per worker that placement scans. Scanning snapshots meant copying strings
/// and sets (reference counting) for every worker on every spawn, about 0.4 µs each; the facts are
/// plain integers and flags, so 10,000 workers take a fraction of a millisecond
/// (`scripts/bench/workers.sh`, part c).
public struct SnapshotTable: Sendable {
    public init() {}

    /// What step 1–2 of §9 need of a worker, precomputed when its snapshot changes.
    struct PlacementFacts: Sendable {
        /// online, active, advertises `spawn` and an `rpc_url`.
        var placeable: Bool
        /// One bit per provider name the worker advertises (see `providerBit`).
        var providers: UInt64
        var lastHeartbeat: Int64
        var intervalMs: Int64
        var maxSandboxes: Int
        var memoryMB: Int
        var vcpus: Int
        var sandboxes: Int
        var usedMemoryMB: Int
        var usedVCPUs: Int
    }

    private(set) var workers: [WorkerSnapshot] = []
    private var facts: [PlacementFacts] = []
    private var index: [String: Int] = [:]
    /// Provider name → bit; names past the 63rd share the last bit and are checked on the snapshot.
    private var bits: [String: UInt64] = [:]

    public subscript(id: String) -> WorkerSnapshot? { index[id].map { workers[$0] } }

    public mutating func upsert(_ snapshot: WorkerSnapshot) {
        let row = facts(for: snapshot)
        if let position = index[snapshot.id] {
            workers[position] = snapshot
            facts[position] = row
        } else {
            index[snapshot.id] = workers.count
            workers.append(snapshot)
            facts.append(row)
        }
    }

    mutating func update(_ id: String, _ change: (inout WorkerSnapshot) -> Void) {
        guard let position = index[id] else { return }
        change(&workers[position])
        facts[position] = facts(for: workers[position])
    }

    mutating func remove(_ id: String) {
        guard let position = index.removeValue(forKey: id) else { return }
        let last = workers.count - 1
        if position != last {
            workers[position] = workers[last]
            facts[position] = facts[last]
            index[workers[position].id] = position
        }
        workers.removeLast()
        facts.removeLast()
    }

    /// §9 over the facts: the eligible worker with the lowest (score, active count, ID).
    public func best(_ request: PlacementRequest, nowMillis: Int64, staleAfterIntervals: Int) -> WorkerSnapshot? {
        let wanted = bits[request.provider] ?? 0
        guard wanted != 0 else { return nil }
        let overflowBit: UInt64 = 1 << 63
        var chosen = -1
        var chosenScore = 0.0
        let stale = Int64(staleAfterIntervals)
        for position in facts.indices {
            let fact = facts[position]
            guard fact.placeable, fact.providers & wanted != 0,
                  (nowMillis - fact.lastHeartbeat) / fact.intervalMs < stale else { continue }
            if fact.maxSandboxes > 0 && fact.sandboxes + 1 > fact.maxSandboxes { continue }
            if fact.memoryMB > 0 && fact.usedMemoryMB + request.memoryMB > fact.memoryMB { continue }
            var score = 0.0
            if fact.maxSandboxes > 0 { score = max(score, Double(fact.sandboxes + 1) / Double(fact.maxSandboxes)) }
            if fact.memoryMB > 0 { score = max(score, Double(fact.usedMemoryMB + request.memoryMB) / Double(fact.memoryMB)) }
            if fact.vcpus > 0 { score = max(score, Double(fact.usedVCPUs + request.vcpus) / Double(fact.vcpus)) }
            score = (score * 1000).rounded() / 1000
            if chosen >= 0 {
                let current = facts[chosen]
                if score > chosenScore { continue }
                if score == chosenScore {
                    if fact.sandboxes > current.sandboxes { continue }
                    if fact.sandboxes == current.sandboxes && workers[position].id >= workers[chosen].id { continue }
                }
            }
            // The rare checks that need strings: tried or pinned workers, and shared provider bits.
            let worker = workers[position]
            if !request.excluded.isEmpty, request.excluded.contains(worker.id) { continue }
            if let pinned = request.pinnedWorker, pinned != worker.id { continue }
            if wanted == overflowBit, !worker.providers.contains(request.provider) { continue }
            chosen = position
            chosenScore = score
        }
        return chosen >= 0 ? workers[chosen] : nil
    }

    /// Whether any worker that heard from within `intervals` heartbeat intervals advertises
    /// `provider` (a spawn may name it, workers.md §8). Scans the facts, not the snapshots.
    public func anyAdvertises(_ provider: String, nowMillis: Int64, withinIntervals intervals: Int) -> Bool {
        guard let wanted = bits[provider] else { return false }
        let limit = Int64(intervals)
        return facts.indices.contains { position in
            let fact = facts[position]
            guard fact.providers & wanted != 0, (nowMillis - fact.lastHeartbeat) / fact.intervalMs < limit else { return false }
            return wanted != 1 << 63 || workers[position].providers.contains(provider)
        }
    }

    private mutating func facts(for snapshot: WorkerSnapshot) -> PlacementFacts {
        var providers: UInt64 = 0
        for name in snapshot.providers { providers |= providerBit(name) }
        return PlacementFacts(
            placeable: snapshot.status == "online" && snapshot.adminState == "active" && snapshot.capabilities.contains("spawn")
                && snapshot.capacity.rpcURL != nil,
            providers: providers, lastHeartbeat: snapshot.lastHeartbeat ?? 0, intervalMs: max(1, snapshot.heartbeatIntervalMs),
            maxSandboxes: snapshot.capacity.maxSandboxes ?? 0, memoryMB: snapshot.capacity.memoryMB ?? 0,
            vcpus: snapshot.capacity.vcpus ?? 0, sandboxes: snapshot.usage.sandboxes, usedMemoryMB: snapshot.usage.memoryMB,
            usedVCPUs: snapshot.usage.vcpus)
    }

    private mutating func providerBit(_ name: String) -> UInt64 {
        if let bit = bits[name] { return bit }
        let bit: UInt64 = bits.count < 63 ? 1 << UInt64(bits.count) : 1 << 63
        bits[name] = bit
        return bit
    }
}
