import Glibc
import StacyAPI
import StacyOrchestrator
import Synchronization

// Benchmark of placement among 10,000 registered workers (issue 5, "Speed" (c); driven by
// scripts/bench/workers.sh, release build, one run):
//   stacyvm-worker-bench [WORKERS=10000] [CALLS=1000]
// Builds WORKERS snapshots with varied capacity, usage and state, then times CALLS placements as
// `WorkerPlacement.place` makes them (`SnapshotTable.best` under a lock), and, for comparison, the
// full `Scheduler.rank` that placement explain runs (alone, and after copying a Mutex-guarded
// dictionary's values). Prints one line of key=value figures in milliseconds.

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

/// SplitMix64: the same workers on every run.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

let arguments = CommandLine.arguments
let workerCount = arguments.count > 1 ? Int(arguments[1]) ?? 10_000 : 10_000
let calls = arguments.count > 2 ? Int(arguments[2]) ?? 1_000 : 1_000
guard workerCount > 0, calls > 0 else {
    print("usage: stacyvm-worker-bench [WORKERS] [CALLS]")
    exit(2)
}

let nowMillis: Int64 = 1_780_000_000_000
let settings = WorkerSettings()
var random = Random(state: 42)
var table: [String: WorkerSnapshot] = [:]
table.reserveCapacity(workerCount)
for index in 0..<workerCount {
    let id = "bench-" + String(repeating: "0", count: max(0, 5 - String(index).count)) + String(index)
    let memory = [4_096, 8_192, 16_384, 32_768, 65_536][random.below(5)]
    let vcpus = [2, 4, 8, 16, 32, 64][random.below(6)]
    let maxSandboxes = random.below(4) == 0 ? 0 : 10 + random.below(190)
    let capacity = WorkerCapacity(maxSandboxes: maxSandboxes, maxSandboxesPerOwner: 0, vcpus: vcpus, memoryMB: memory,
                                  rpcURL: "http://10.\(index / 65_536).\(index / 256 % 256).\(index % 256):7430")
    let sandboxes = maxSandboxes > 0 ? random.below(maxSandboxes + 1) : random.below(50)
    let usage = WorkerUsageInfo(sandboxes: sandboxes, vcpus: random.below(vcpus * 2 + 1), memoryMB: random.below(memory + 1))
    // About 90 % placeable: the rest stale, draining, offline, without spawn or without the provider.
    var status = "online", adminState = "active", lastHeartbeat = nowMillis - Int64(random.below(10_000))
    var capabilities: Set<String> = ["spawn", "exec", "exec_stream", "files", "logs", "preview", "inventory", "drain", "stats"]
    var providers: Set<String> = random.below(2) == 0 ? ["mock", "namespace"] : ["mock"]
    switch random.below(50) {
    case 0: lastHeartbeat = nowMillis - 120_000
    case 1: adminState = "draining"
    case 2: status = "offline"
    case 3: capabilities.remove("spawn")
    case 4: providers = ["namespace"]
    default: break
    }
    table[id] = WorkerSnapshot(id: id, status: status, adminState: adminState, epoch: "epoch-\(index)", providers: providers,
                               capabilities: capabilities, capacity: capacity, lastHeartbeat: lastHeartbeat,
                               heartbeatIntervalMs: 10_000, embedded: false, usage: usage)
}
let registry = Mutex(table)
let facts = Mutex({ () -> SnapshotTable in
    var facts = SnapshotTable()
    for snapshot in table.values { facts.upsert(snapshot) }
    return facts
}())
let snapshots = Array(table.values)

let request = PlacementRequest(provider: "mock", memoryMB: 512, vcpus: 1)
var sink = 0
func timeCalls(_ count: Int, copy: Bool, sink: inout Int) -> [Double] {
    var millis: [Double] = []
    millis.reserveCapacity(count)
    for _ in 0..<count {
        let start = now()
        let workers = copy ? registry.withLock { Array($0.values) } : snapshots
        let ranked = Scheduler.rank(workers, request, nowMillis: nowMillis, settings: settings, preferLocal: false)
        let elapsed = now() - start
        sink &+= ranked.count &+ (ranked.first?.workerID.utf8.count ?? 0)
        millis.append(Double(elapsed) / 1e6)
    }
    return millis.sorted()
}

/// What `WorkerPlacement.place` does per spawn: one pass over the registry's plain-value placement
/// facts (`SnapshotTable.best`), under its lock, without copying anything.
func timePlacement(_ count: Int, sink: inout Int) -> [Double] {
    var millis: [Double] = []
    millis.reserveCapacity(count)
    for _ in 0..<count {
        let start = now()
        let best = facts.withLock { $0.best(request, nowMillis: nowMillis, staleAfterIntervals: settings.staleAfterIntervals) }
        let elapsed = now() - start
        sink &+= best?.id.utf8.count ?? 0
        millis.append(Double(elapsed) / 1e6)
    }
    return millis.sorted()
}

_ = timePlacement(max(10, calls / 20), sink: &sink)
let placement = timePlacement(calls, sink: &sink)

// Warm-up (caches, allocator), then the counted calls.
_ = timeCalls(max(10, calls / 20), copy: false, sink: &sink)
let rankOnly = timeCalls(calls, copy: false, sink: &sink)
_ = timeCalls(max(10, calls / 20), copy: true, sink: &sink)
let withCopy = timeCalls(calls, copy: true, sink: &sink)
let ranked = Scheduler.rank(snapshots, request, nowMillis: nowMillis, settings: settings, preferLocal: false)
let eligible = ranked.filter(\.eligible).count

func f(_ value: Double) -> String {
    let scaled = Int((value * 1000).rounded())
    let fraction = String(scaled % 1000)
    return "\(scaled / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
print("workers=\(workerCount) eligible=\(eligible) calls=\(calls) best=\(ranked.first?.workerID ?? "-")"
    + " place_p50_ms=\(f(percentile(placement, 0.5))) place_p99_ms=\(f(percentile(placement, 0.99)))"
    + " place_max_ms=\(f(placement.last ?? 0))"
    + " rank_p50_ms=\(f(percentile(rankOnly, 0.5))) rank_p99_ms=\(f(percentile(rankOnly, 0.99)))"
    + " rank_max_ms=\(f(rankOnly.last ?? 0))"
    + " copy_rank_p50_ms=\(f(percentile(withCopy, 0.5))) copy_rank_p99_ms=\(f(percentile(withCopy, 0.99)))"
    + " copy_rank_max_ms=\(f(withCopy.last ?? 0)) sink=\(sink % 10)")
