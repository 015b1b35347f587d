import StacyAPI

/// One worker as the scheduler sees it: refreshed by every heartbeat, reservation and destroy on
/// this control plane; never read from the store per candidate (workers.md §9).
public struct WorkerSnapshot: Sendable, Equatable {
    public var id: String
    public var status: String
    public var adminState: String
    public var epoch: String
    public var providers: Set<String>
    public var capabilities: Set<String>
    public var capacity: WorkerCapacity
    /// Database time of the last heartbeat (Unix ms); nil for the embedded worker, which is alive
    /// as long as this process is.
    public var lastHeartbeat: Int64?
    public var heartbeatIntervalMs: Int64
    public var embedded: Bool
    /// Counted by the control plane: sandboxes not destroyed (plus reap_pending ones).
    public var usage: WorkerUsageInfo

    /// Whole heartbeat intervals since the last heartbeat (workers.md §4.1), on `nowMillis`.
    public func missedHeartbeats(at nowMillis: Int64) -> Int64 {
        (nowMillis - (lastHeartbeat ?? 0)) / max(1, heartbeatIntervalMs)
    }

    public init(id: String, status: String = "online", adminState: String = "active", epoch: String, providers: Set<String>,
                capabilities: Set<String>, capacity: WorkerCapacity, lastHeartbeat: Int64?, heartbeatIntervalMs: Int64,
                embedded: Bool, usage: WorkerUsageInfo = WorkerUsageInfo()) {
        self.id = id
        self.status = status
        self.adminState = adminState
        self.epoch = epoch
        self.providers = providers
        self.capabilities = capabilities
        self.capacity = capacity
        self.lastHeartbeat = lastHeartbeat
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.embedded = embedded
        self.usage = usage
    }
}

/// What one spawn asks of a worker.
public struct PlacementRequest: Sendable {
    public var provider: String
    public var memoryMB: Int
    public var vcpus: Int
    /// `placement.worker_id` (operators only).
    public var pinnedWorker: String?
    /// Workers an earlier attempt of this spawn already tried.
    public var excluded: Set<String>

    public init(provider: String, memoryMB: Int, vcpus: Int, pinnedWorker: String? = nil, excluded: Set<String> = []) {
        self.provider = provider
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.pinnedWorker = pinnedWorker
        self.excluded = excluded
    }
}

/// One line of `POST /admin/placement/explain`.
public struct PlacementCandidate: Sendable, Equatable {
    public var workerID: String
    public var eligible: Bool
    public var reason: String?
    /// Rounded to 1/1000 (§9 step 3).
    public var score: Double
}

/// workers.md §9: deterministic, resource-aware ranking.
public enum Scheduler {
    /// Every worker with its eligibility and score, best first; ineligible ones last, by ID.
    public static func rank(_ workers: [WorkerSnapshot], _ request: PlacementRequest, nowMillis: Int64,
                            settings: WorkerSettings, preferLocal: Bool) -> [PlacementCandidate] {
        var eligible: [(snapshot: WorkerSnapshot, candidate: PlacementCandidate)] = []
        var refused: [PlacementCandidate] = []
        for worker in workers {
            if let reason = ineligibility(worker, request, nowMillis: nowMillis, settings: settings) {
                refused.append(PlacementCandidate(workerID: worker.id, eligible: false, reason: reason, score: 0))
            } else {
                eligible.append((worker, PlacementCandidate(workerID: worker.id, eligible: true, reason: nil,
                                                            score: score(worker, request))))
            }
        }
        eligible.sort { a, b in ranksBefore(a.snapshot, a.candidate.score, b.snapshot, b.candidate.score, preferLocal: preferLocal) }
        return eligible.map(\.candidate) + refused.sorted { $0.workerID < $1.workerID }
    }

    /// Step 4's order: `prefer_local` first if enabled, then score, active count, worker ID.
    static func ranksBefore(_ a: WorkerSnapshot, _ aScore: Double, _ b: WorkerSnapshot, _ bScore: Double,
                            preferLocal: Bool) -> Bool {
        if preferLocal, a.embedded != b.embedded { return a.embedded }
        if aScore != bScore { return aScore < bScore }
        if a.usage.sandboxes != b.usage.sandboxes { return a.usage.sandboxes < b.usage.sandboxes }
        return a.id < b.id
    }

    /// Steps 1 and 2: why this worker cannot take the sandbox, or nil.
    static func ineligibility(_ worker: WorkerSnapshot, _ request: PlacementRequest, nowMillis: Int64,
                              settings: WorkerSettings) -> String? {
        if let pinned = request.pinnedWorker, pinned != worker.id { return "not_requested" }
        if request.excluded.contains(worker.id) { return "already_tried" }
        if !worker.embedded {
            if worker.missedHeartbeats(at: nowMillis) >= Int64(settings.staleAfterIntervals) { return "worker_stale" }
            if worker.capacity.rpcURL == nil { return "no_rpc_url" }
        }
        if worker.adminState != "active" { return "worker_\(worker.adminState)" }
        if worker.status != "online" { return "worker_\(worker.status)" }
        if !worker.capabilities.contains("spawn") { return "no_spawn_capability" }
        if !worker.providers.contains(request.provider) { return "provider_unavailable" }
        let capacity = worker.capacity, usage = worker.usage
        if let max = capacity.maxSandboxes, max > 0, usage.sandboxes + 1 > max { return "max_sandboxes" }
        if let memory = capacity.memoryMB, memory > 0, usage.memoryMB + request.memoryMB > memory { return "memory" }
        // vCPUs are soft (workers.md §1): they rank (step 3) but never refuse.
        return nil
    }

    /// Step 3: the fullest known dimension after placing, rounded to 1/1000; 0 when none is known.
    static func score(_ worker: WorkerSnapshot, _ request: PlacementRequest) -> Double {
        var fullest = 0.0
        func consider(_ used: Int, _ capacity: Int?) {
            guard let capacity, capacity > 0 else { return }
            fullest = max(fullest, Double(used) / Double(capacity))
        }
        consider(worker.usage.sandboxes + 1, worker.capacity.maxSandboxes)
        consider(worker.usage.memoryMB + request.memoryMB, worker.capacity.memoryMB)
        consider(worker.usage.vcpus + request.vcpus, worker.capacity.vcpus)
        return (fullest * 1000).rounded() / 1000
    }
}
