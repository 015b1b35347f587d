import Foundation
import Glibc
import StacyProviders

// Benchmark of the namespace provider at its API (issue 4, "Speed"; driven by
// scripts/bench/namespace.sh, release build, one run). Prints medians, p99 and ratios.

func now() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func report(_ name: String, _ millis: [Double]) -> (p50: Double, p99: Double) {
    let result = (percentile(millis, 0.5), percentile(millis, 0.99))
    let label = name.count < 46 ? name + String(repeating: " ", count: 46 - name.count) : name
    print(label + String(format: "p50 %7.2f ms   p99 %7.2f ms   (n=%d)", result.0, result.1, millis.count))
    return result
}

/// bwrap one-shot `true` with the provider's namespace, image and bind flags, as an unprivileged
/// uid like a sandbox (the baseline the create target is measured against).
func bwrapBaseline(iterations: Int, directory: String) -> [Double] {
    for name in ["workspace", "tmp", "root", "home", "app", "run"] {
        mkdir(directory + "/" + name, 0o755)
        chown(directory + "/" + name, 100_999, 100_999)
    }
    var args = ["/usr/bin/setpriv", "--reuid=100999", "--regid=100999", "--clear-groups", NamespaceSettings.defaultBwrapPath(),
                "--unshare-user", "--uid", "0", "--gid", "0", "--unshare-pid", "--unshare-uts", "--unshare-ipc",
                "--unshare-cgroup-try", "--unshare-net", "--die-with-parent", "--new-session", "--hostname", "bench",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc", "/etc",
                "--proc", "/proc", "--dev", "/dev"]
    for path in ["/workspace", "/tmp", "/root", "/home", "/app"] { args += ["--bind", directory + path, path] }
    args += ["--bind", directory + "/run", "/run/stacyvm", "--remount-ro", "/", "--chdir", "/workspace", "--clearenv", "/bin/true"]
    var times: [Double] = []
    for i in 0..<(iterations + 5) {
        let argv = args.map { strdup($0) } + [nil]
        let started = now()
        var pid: pid_t = 0
        guard posix_spawn(&pid, args[0], nil, nil, argv, nil) == 0 else { fatalError("cannot start bwrap") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if i >= 5 { times.append(Double(now() - started) / 1e6) }
        argv.forEach { free($0) }
    }
    return times
}

func processPssKB(_ pid: pid_t) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}

/// The shim and every process below it (bwrap, the agent).
func tree(of root: pid_t) -> [pid_t] {
    var children: [pid_t: [pid_t]] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
    }
    var all = [root], queue = [root]
    while let next = queue.popLast() { let kids = children[next] ?? []; all += kids; queue += kids }
    return all
}

let iterations = Int(CommandLine.arguments.dropFirst().first ?? "100") ?? 100
let idleCount = Int(CommandLine.arguments.dropFirst(2).first ?? "100") ?? 100
let base = NSTemporaryDirectory() + "stacyvm-bench-\(getpid())"
mkdir(base, 0o711)
defer { try? FileManager.default.removeItem(atPath: base) }
var settings = NamespaceSettings(dataDirectory: base + "/sandboxes")
// Ablations, to see what a slow path costs (not for the reported figures).
if getenv("BENCH_NO_SECCOMP") != nil { settings.seccomp = false }
if getenv("BENCH_NO_LIMITS") != nil { settings.limits = false }
let provider = NamespaceProvider(settings: settings)
if let problem = provider.problem() {
    print("namespace provider unavailable: \(problem)")
    exit(1)
}

mkdir(base + "/baseline", 0o711)
let baseline = report("bwrap one-shot `true` (baseline, same flags)", bwrapBaseline(iterations: iterations, directory: base + "/baseline"))

// create → running (agent ready), no warm pool
var creates: [Double] = []
for i in 0..<(iterations + 5) {
    let id = "bench-c\(i)"
    let started = now()
    _ = try await provider.spawn(SpawnSpec(sandboxID: id, image: "host", memoryMB: 256))
    if i >= 5 { creates.append(Double(now() - started) / 1e6) }
    if getenv("BENCH_KEEP") == nil { _ = try await provider.destroy(id) }
}
if getenv("BENCH_KEEP") != nil { for i in 0..<(iterations + 5) { _ = try await provider.destroy("bench-c\(i)") } }
let create = report("create → running (agent ready)", creates)

// exec `true` in a running sandbox, at the provider API
_ = try await provider.spawn(SpawnSpec(sandboxID: "bench-exec", image: "host"))
var execs: [Double] = []
for i in 0..<(iterations * 2 + 10) {
    let started = now()
    let result = try await provider.exec("bench-exec", ExecSpec(argv: ["true"]))
    precondition(result.exitCode == 0)
    if i >= 10 { execs.append(Double(now() - started) / 1e6) }
}
let exec = report("exec `true` (provider API)", execs)
_ = try await provider.destroy("bench-exec")

// idle sandboxes: memory, then destroying them all at once
let ids = (0..<idleCount).map { "bench-idle\($0)" }
for id in ids { _ = try await provider.spawn(SpawnSpec(sandboxID: id, image: "host", memoryMB: 256)) }
try await Task.sleep(nanoseconds: 500_000_000)
var pssKB = 0
var cgroupBytes: Int64 = 0
for id in ids {
    let state = try String(contentsOfFile: base + "/sandboxes/\(id)/state.json", encoding: .utf8)
    let pid = pid_t(state.split(separator: ",").first { $0.contains("shim_pid") }?.split(separator: ":").last ?? "0") ?? 0
    pssKB += tree(of: pid).reduce(0) { $0 + processPssKB($1) }
    cgroupBytes += await provider.stats(id)?.memBytes ?? 0
}
let perSandboxMB = Double(pssKB) / 1024 / Double(idleCount)
let cgroupMB = Double(cgroupBytes) / 1_048_576 / Double(idleCount)
let destroyStarted = now()
await withTaskGroup(of: Void.self) { group in
    for id in ids { group.addTask { _ = try? await provider.destroy(id) } }
}
let destroySeconds = Double(now() - destroyStarted) / 1e9

print("")
print(String(format: "%d idle sandboxes: Pss of shim+bwrap+agent %.2f MB each, memory cgroup usage %.2f MB each (target: sum ≤ 3 MB)",
             idleCount, perSandboxMB, cgroupMB))
print(String(format: "destroying all %d at once: %.2f s (target ≤ 2 s)", idleCount, destroySeconds))
print(String(format: "create p50 − baseline p50 = %+.2f ms (target ≤ +5 ms); create p99 / baseline p50 = %.2f× (target ≤ 3×)",
             create.p50 - baseline.p50, create.p99 / baseline.p50))
print(String(format: "exec p50 = %.2f ms (target ≤ 2 ms)", exec.p50))
// Each move into a cgroup v1 hierarchy waits for an RCU grace period (the cgroup_threadgroup_rwsem
// write side), which is where the create tail comes from on v1 hosts; expedited RCU shortens it.
let expedited = (try? String(contentsOfFile: "/sys/kernel/rcu_expedited", encoding: .utf8))?
    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
print("host: cgroup memory \(provider.cgroupLayout.version(of: "memory") ?? "none"), /sys/kernel/rcu_expedited = \(expedited)")
