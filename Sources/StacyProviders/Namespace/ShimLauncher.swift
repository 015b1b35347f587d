import Foundation
import Glibc
import Synchronization

/// Holds one uid slot (runtime.md §2.6): `flock` on `<data_dir>/.slots/<n>.lock`. The lock travels
/// to the shim (an inherited descriptor), so it is held exactly as long as the sandbox's shim lives,
/// across restarts of this process, and a crash can never leak a slot.
struct SlotLock {
    let slot: Int
    let fd: Int32

    static func acquire(directory: String, maxSlots: Int) throws(ProviderError) -> SlotLock {
        mkdir(directory, 0o700)
        for slot in 0..<maxSlots {
            let fd = open(directory + "/\(slot).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .internal("cannot open slot lock in \(directory): errno \(errno)") }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return SlotLock(slot: slot, fd: fd) }
            close(fd)
        }
        throw .resourceLimit("no free sandbox uid slot (\(maxSlots) in use)")
    }

    /// Whether some live process holds `slot` (a probe on a fresh descriptor).
    static func isHeld(directory: String, slot: Int) -> Bool {
        let fd = open(directory + "/\(slot).lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return true
    }

    func release() { close(fd) }
}

/// The host-wide claim on a `subuid_base` (runtime.md §2.6): an flock on a file under /run (or the
/// temp directory), held for the life of the process. Providers of one process share it.
enum SubuidBaseLock {
    private static let held = Mutex<[Int: Int32]>([:])

    /// Nil when this process holds the base (now or already), else why not.
    static func hold(_ base: Int) -> String? {
        held.withLock { held -> String? in
            if held[base] != nil { return nil }
            let directory = access("/run", W_OK) == 0 ? "/run/stacyvm" : NSTemporaryDirectory() + "stacyvm-locks"
            mkdir(directory, 0o755)
            let path = directory + "/subuid-\(base).lock"
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return "cannot open \(path): errno \(errno)" }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                return "providers.namespace.subuid_base \(base) is in use by another process on this host "
                    + "(each worker process needs its own base; lock \(path))"
            }
            held[base] = fd
            return nil
        }
    }
}

/// Starts `stacyvm-agent shim` with posix_spawn (never fork in the server) and returns the PID of
/// the detached shim it reports.
enum ShimLauncher {
    /// The descriptor the shim gives bwrap the seccomp program on (`--seccomp 10`).
    static let seccompDescriptor = 10

    static func launch(agent: String, sandboxDirectory: String, uid: Int, gid: Int, slot: SlotLock,
                       seccompFile: String?, cgroupProcs: [String], bwrap: [String]) throws(ProviderError) -> pid_t {
        var pair: [Int32] = [-1, -1]
        guard LinuxCalls.pipe2(&pair, O_CLOEXEC) == 0 else { throw .resourceLimit("pipe: errno \(errno)") }
        defer { close(pair[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, sandboxDirectory + "/console.log", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // Descriptor 3 carries the slot lock (dup2 clears close-on-exec on the copy).
        posix_spawn_file_actions_adddup2(&actions, slot.fd, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)

        var arguments = [agent, "shim", "--dir", sandboxDirectory, "--uid", String(uid), "--gid", String(gid),
                         "--keep-fd", "3"]
        if let seccompFile { arguments += ["--seccomp-file", seccompFile] }
        for procs in cgroupProcs { arguments += ["--cgroup", procs] }
        arguments += ["--"] + bwrap
        let argv = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, agent, &actions, &attr, argv, envp)
        close(pair[1])
        guard rc == 0 else { throw .providerUnavailable("cannot start the sandbox shim \(agent): errno \(rc)") }

        // The first shim process prints the detached shim's PID and exits at once.
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64)
        while true {
            let n = read(pair[0], &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[0..<n]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, let shim = pid_t(text), shim > 0 else {
            throw .providerUnavailable("the sandbox shim failed to start (status \(status))")
        }
        return shim
    }
}

/// Identity of a process that survives PID reuse: its PID plus its start time in clock ticks.
struct ProcessIdentity: Sendable, Equatable {
    let pid: pid_t
    let startTicks: UInt64

    static func of(_ pid: pid_t) -> ProcessIdentity? {
        guard let start = startTicks(pid) else { return nil }
        return ProcessIdentity(pid: pid, startTicks: start)
    }

    /// Field 22 of /proc/<pid>/stat; nil when the process is gone or a zombie.
    static func startTicks(_ pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); start time is field 22.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    var isAlive: Bool { Self.startTicks(pid) == startTicks }
}

/// `stat(2)` of a host path, for code inside types whose own `stat` method hides the C call.
func hostStat(_ path: String) -> stat? {
    var st = stat()
    return stat(path, &st) == 0 ? st : nil
}
