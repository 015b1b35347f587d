import CLinux
import Foundation
import Glibc

/// Where each resource controller lives on this host (runtime.md §2.6, "Limits"): found in
/// /proc/self/mountinfo, per controller, v2 (unified) or v1. Hybrid hosts, like this project's own
/// machines, have v1 `memory`, `pids`, `cpu` and `freezer` hierarchies under a *tmpfs* at
/// /sys/fs/cgroup, where a plain mkdir "works" and limits would silently do nothing; so every
/// directory used is checked to be a cgroup filesystem.
public struct CgroupLayout: Sendable, Equatable {
    /// Controller → v1 mount point.
    public var v1: [String: String] = [:]
    /// The unified (v2) mount, and the controllers it offers.
    public var unified: String?
    public var unifiedControllers: Set<String> = []

    public static let needed = ["memory", "pids", "cpu"]
    static let cgroupMagic: Int = 0x27E0EB
    static let cgroup2Magic: Int = 0x6367_7270

    public static func detect() -> CgroupLayout {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        var layout = parse(mountinfo: text)
        if let unified = layout.unified,
           let controllers = try? String(contentsOfFile: unified + "/cgroup.controllers", encoding: .utf8) {
            layout.unifiedControllers = Set(controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return layout
    }

    /// mountinfo lines: `id parent major:minor root mountpoint options - fstype source superoptions`.
    public static func parse(mountinfo: String) -> CgroupLayout {
        var layout = CgroupLayout()
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = String(left[4])
            switch right[0] {
            case "cgroup2":
                if layout.unified == nil { layout.unified = mountPoint }
            case "cgroup":
                for option in right[2].split(separator: ",") where ["memory", "pids", "cpu", "freezer"].contains(String(option)) {
                    if layout.v1[String(option)] == nil { layout.v1[String(option)] = mountPoint }
                }
            default:
                continue
            }
        }
        return layout
    }

    /// How each controller is reached: "v2", "v1" or nil (unavailable).
    public func version(of controller: String) -> String? {
        if unified != nil && unifiedControllers.contains(controller) { return "v2" }
        if v1[controller] != nil { return "v1" }
        return nil
    }

    /// Why limits cannot apply here, or nil.
    public func problem(verifyFilesystems: Bool = true) -> String? {
        for controller in Self.needed {
            guard let version = version(of: controller) else {
                return "no usable cgroup \(controller) controller (neither v2 nor a v1 hierarchy is mounted)"
            }
            let mount = version == "v2" ? unified! : v1[controller]!
            if verifyFilesystems, !Self.isCgroupFilesystem(mount) {
                return "\(mount) is not a cgroup filesystem, so \(controller) limits would not apply"
            }
        }
        return nil
    }

    static func isCgroupFilesystem(_ path: String) -> Bool {
        var fs = statfs()
        guard statfs(path, &fs) == 0 else { return false }
        return Int(fs.f_type) == cgroupMagic || Int(fs.f_type) == cgroup2Magic
    }
}

/// Limits of one sandbox.
public struct CgroupLimits: Sendable, Equatable {
    public var memoryBytes: Int64
    public var pidsMax: Int
    public var vcpus: Int
}

/// The cgroups of one sandbox: `<mount>/stacyvm/<id>` per hierarchy used.
struct SandboxCgroups: Sendable {
    let layout: CgroupLayout
    let id: String
    /// Directories created for this sandbox (one on v2; memory, pids, cpu and freezer on v1).
    var directories: [String] {
        var paths: [String] = []
        if let unified = layout.unified, layout.version(of: "memory") == "v2" || layout.version(of: "pids") == "v2" {
            paths.append(unified + "/stacyvm/" + id)
        }
        for controller in ["memory", "pids", "cpu", "freezer"] where layout.version(of: controller) == "v1" {
            if let mount = layout.v1[controller] { paths.append(mount + "/stacyvm/" + id) }
        }
        return paths
    }

    func directory(for controller: String) -> String? {
        switch layout.version(of: controller) {
        case "v2": return layout.unified.map { $0 + "/stacyvm/" + id }
        case "v1": return layout.v1[controller].map { $0 + "/stacyvm/" + id }
        default: return nil
        }
    }

    /// Creates the directories and writes the limits; on any failure removes what it made.
    func create(_ limits: CgroupLimits, verifyFilesystems: Bool = true) throws(ProviderError) {
        do throws(ProviderError) {
            if let unified = layout.unified, directories.contains(where: { $0.hasPrefix(unified + "/") }) {
                // Children of stacyvm/ may only use the controllers enabled in its parent's subtree.
                try makeDirectory(unified + "/stacyvm", verify: verifyFilesystems)
                let wanted = ["memory", "pids", "cpu"].filter { layout.unifiedControllers.contains($0) }
                _ = write(unified + "/cgroup.subtree_control", wanted.map { "+" + $0 }.joined(separator: " "))
                _ = write(unified + "/stacyvm/cgroup.subtree_control", wanted.map { "+" + $0 }.joined(separator: " "))
            }
            for path in directories {
                try makeDirectory((path as NSString).deletingLastPathComponent, verify: verifyFilesystems)
                try makeDirectory(path, verify: verifyFilesystems)
            }
            try applyMemory(limits.memoryBytes)
            if let pids = directory(for: "pids") { try require(write(pids + "/pids.max", String(limits.pidsMax)), pids + "/pids.max") }
            if let cpu = directory(for: "cpu") {
                let quota = max(1, limits.vcpus) * 100_000
                if layout.version(of: "cpu") == "v2" {
                    try require(write(cpu + "/cpu.max", "\(quota) 100000"), cpu + "/cpu.max")
                } else {
                    try require(write(cpu + "/cpu.cfs_period_us", "100000"), cpu + "/cpu.cfs_period_us")
                    try require(write(cpu + "/cpu.cfs_quota_us", String(quota)), cpu + "/cpu.cfs_quota_us")
                }
            }
        } catch {
            remove()
            throw error
        }
    }

    private func applyMemory(_ bytes: Int64) throws(ProviderError) {
        guard let memory = directory(for: "memory") else { return }
        if layout.version(of: "memory") == "v2" {
            try require(write(memory + "/memory.max", String(bytes)), memory + "/memory.max")
            _ = write(memory + "/memory.swap.max", "0")  // absent without swap accounting
        } else {
            try require(write(memory + "/memory.limit_in_bytes", String(bytes)), memory + "/memory.limit_in_bytes")
            // No swap: memory+swap capped at the same value, where swap accounting exists.
            if access(memory + "/memory.memsw.limit_in_bytes", F_OK) == 0 {
                _ = write(memory + "/memory.memsw.limit_in_bytes", String(bytes))
            }
        }
    }

    /// The `cgroup.procs` files a process writes itself into to join every hierarchy.
    var procsFiles: [String] { directories.map { $0 + "/cgroup.procs" } }

    /// Kills every process in the sandbox's cgroups: `cgroup.kill` on v2; on v1 freeze, SIGKILL
    /// each PID, thaw (so nothing forks in between).
    func killAll() {
        if let memory = directory(for: "memory"), layout.version(of: "memory") == "v2",
           write(memory + "/cgroup.kill", "1") {
            return
        }
        let freezer = layout.version(of: "freezer") == "v1" ? layout.v1["freezer"].map { $0 + "/stacyvm/" + id } : nil
        if let freezer { _ = write(freezer + "/freezer.state", "FROZEN") }
        for path in directories {
            for pid in pids(in: path) { kill(pid, SIGKILL) }
        }
        if let freezer { _ = write(freezer + "/freezer.state", "THAWED") }
    }

    func pids(in directory: String) -> [pid_t] {
        let text = (try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    var isEmpty: Bool { directories.allSatisfy { pids(in: $0).isEmpty } }

    /// Removes the directories (they must be empty); true when none is left.
    @discardableResult
    func remove() -> Bool {
        var left = false
        for path in directories where access(path, F_OK) == 0 {
            if rmdir(path) != 0 && errno != ENOENT { left = true }
        }
        return !left
    }

    /// OOM kills so far in this sandbox (v1 `memory.oom_control`, v2 `memory.events`).
    var oomKills: Int {
        guard let memory = directory(for: "memory") else { return 0 }
        let file = layout.version(of: "memory") == "v2" ? "/memory.events" : "/memory.oom_control"
        let text = (try? String(contentsOfFile: memory + file, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.dropFirst("oom_kill ".count)) ?? 0
        }
        return 0
    }

    var memoryUsageBytes: Int64? {
        guard let memory = directory(for: "memory") else { return nil }
        let file = layout.version(of: "memory") == "v2" ? "/memory.current" : "/memory.usage_in_bytes"
        return (try? String(contentsOfFile: memory + file, encoding: .utf8)).flatMap {
            Int64($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private func makeDirectory(_ path: String, verify: Bool) throws(ProviderError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .providerUnavailable("cannot create cgroup \(path): errno \(errno)")
        }
        if verify && !CgroupLayout.isCgroupFilesystem(path) {
            throw .providerUnavailable("\(path) is not on a cgroup filesystem; limits would not apply")
        }
    }

    private func require(_ ok: Bool, _ path: String) throws(ProviderError) {
        if !ok { throw .providerUnavailable("cannot write \(path): errno \(errno)") }
    }

    private func write(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return value.withCString { Glibc.write(fd, $0, strlen($0)) } == value.utf8.count
    }
}
