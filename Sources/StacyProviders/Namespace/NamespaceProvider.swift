import Foundation
import Glibc
import StacyAgentWire
import Synchronization

/// The `namespace` provider (runtime.md §2.6): each sandbox is a bubblewrap sandbox (pid, mount,
/// uts, ipc, net and user namespaces; one unprivileged host uid mapped to 0 inside; no
/// capabilities; no_new_privs) under its own shim, with `stacyvm-agent` inside serving exec over a
/// unix socket, so every command inherits the sandbox's namespaces, uid and restrictions.
///
/// Done so far (issue 4, stages 1-2 in part): launch, exec and streams, files through the agent,
/// destroy, console file, restart-surviving state. Images, cgroup limits, seccomp and previews are
/// the next stages.
public final class NamespaceProvider: Provider {
    public let name = "namespace"
    public var capabilities: [String] { ["exec", "exec_stream", "files", "console", "isolation"] }
    public let settings: NamespaceSettings
    private let sandboxes = Mutex<[String: NamespaceSandbox]>([:])
    /// Sandbox IDs being spawned, so a concurrent spawn of the same ID waits instead of racing.
    private let spawning = Mutex<Set<String>>([])
    private let seccompWritten = Mutex(false)
    private let selfTestFailure = Mutex<String?>(nil)
    /// Measured bytes of each sandbox's writable state and when (monotonic ns), for the soft cap.
    let diskUsage = Mutex<[String: (Int64, Int64)]>([:])

    static let basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    static let socketInside = "/run/stacyvm/agent.sock"
    static let writablePaths = ["/workspace", "/tmp", "/root", "/home", "/app"]
    /// Top-level names an image does not provide: the provider mounts them itself.
    static let mountedByProvider: Set<String> = Set(writablePaths + ["/proc", "/dev", "/sys", "/run", "/.stacyvm"])

    public let cgroupLayout: CgroupLayout
    public var images: NamespaceImages {
        NamespaceImages(imageDirectory: settings.imageDirectory, configured: settings.images, fallback: settings.imageFallback)
    }

    public init(settings: NamespaceSettings, cgroupLayout: CgroupLayout = .detect()) {
        self.settings = settings
        self.cgroupLayout = cgroupLayout
    }

    func cgroups(of id: String) -> SandboxCgroups? {
        settings.limits ? SandboxCgroups(layout: cgroupLayout, id: id) : nil
    }

    var slotDirectory: String { settings.dataDirectory + "/.slots" }

    func directory(of id: String) -> String { settings.dataDirectory + "/" + id }

    // MARK: health

    public func health() async -> HealthReport {
        let started = monotonicNanos()
        let problem = self.problem()
        return HealthReport(healthy: problem == nil, latencyMillis: (monotonicNanos() - started) / 1_000_000, error: problem)
    }

    /// Why this host cannot run namespace sandboxes, or nil. Cheap and free of side effects.
    public static func hostProblem(_ settings: NamespaceSettings) -> String? {
        guard access(settings.bwrapPath, X_OK) == 0 else {
            return "bubblewrap not found at \(settings.bwrapPath) (install Debian's bubblewrap)"
        }
        guard access(settings.agentPath, X_OK) == 0 else { return "stacyvm-agent not found at \(settings.agentPath)" }
        if let limit = try? String(contentsOfFile: "/proc/sys/user/max_user_namespaces", encoding: .utf8),
           Int(limit.trimmingCharacters(in: .whitespacesAndNewlines)) == 0 {
            return "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)"
        }
        // bwrap runs as the sandbox's unprivileged uid, which must reach its own directory: every
        // ancestor must be searchable by others. (The agent is copied there when its own location
        // is not reachable, see `agentForSandboxes`.)
        if let blocked = unsearchableAncestor(of: settings.dataDirectory + "/x") {
            return "\(blocked) is not searchable by other users (chmod o+x), so sandbox uids cannot reach "
                + settings.dataDirectory
        }
        return nil
    }

    /// The startup self-test of `providers.default: auto` (runtime.md §2.3): spawn from the default
    /// image, `/bin/sh -c 'echo ok'`, destroy. Nil when it passed, else what went wrong.
    public func selfTest() async -> String? {
        if let problem = problem() { return problem }
        let id = "selftest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            _ = try await spawn(SpawnSpec(sandboxID: id, image: "host", memoryMB: 64))
            let result = try await exec(id, ExecSpec(argv: ["/bin/sh", "-c", "echo ok"], timeoutNanos: 10_000_000_000))
            _ = try await destroy(id)
            let output = String(decoding: result.stdout, as: UTF8.self)
            return result.exitCode == 0 && output == "ok\n" ? nil : "self-test printed \(output.debugDescription), exit \(result.exitCode)"
        } catch {
            _ = try? await destroy(id)
            return "self-test failed: \(error)"
        }
    }

    /// Why this provider cannot run sandboxes now, or nil: the host, the limits, the uid range.
    public func problem() -> String? {
        Self.hostProblem(settings) ?? limitsProblem() ?? uidRangeProblem() ?? selfTestFailure.withLock { $0 }
    }

    /// Set when the startup self-test failed, so health (and GET /providers/{name}) says why.
    public func recordSelfTestFailure(_ problem: String) {
        selfTestFailure.withLock { $0 = problem }
    }

    /// Sandbox uids are `subuid_base + slot`: two processes on one host with the same base would
    /// hand one uid to two sandboxes. The base is locked host-wide while a provider uses it.
    public func uidRangeProblem() -> String? {
        SubuidBaseLock.hold(settings.subuidBase)
    }

    /// Why cgroup limits cannot apply (health fails then, runtime.md §2.6), or nil.
    public func limitsProblem() -> String? {
        guard settings.limits else { return nil }
        guard geteuid() == 0 else { return "cgroup limits need root (run as root, or on a host with delegated cgroups)" }
        return cgroupLayout.problem()
    }

    static func unsearchableAncestor(of path: String) -> String? {
        var current = (path as NSString).deletingLastPathComponent
        while current.count > 1 {
            if let st = hostStat(current), st.st_mode & 0o001 == 0 { return current }
            current = (current as NSString).deletingLastPathComponent
        }
        return nil
    }

    // MARK: lifecycle

    public func spawn(_ spec: SpawnSpec) async throws(ProviderError) -> String {
        let id = spec.sandboxID
        guard Self.isSafeID(id) else { throw .invalidInput("invalid sandbox id") }
        while true {
            // Idempotent by ID, also across a restart of this process (the state file on disk).
            if let existing = lookupQuietly(id), existing.shim.isAlive { return id }
            if spawning.withLock({ $0.insert(id).inserted }) { break }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        defer { _ = spawning.withLock { $0.remove(id) } }
        if let problem = problem() { throw .providerUnavailable(problem) }

        // An unknown image resolves to the fallback; with no fallback it is a 400 naming the images.
        let image = try images.resolve(spec.image)
        try ensureDataDirectory()
        let dir = directory(of: id)
        let slot = try SlotLock.acquire(directory: slotDirectory, maxSlots: settings.maxSlots)
        // Closed exactly once: a second close could hit a descriptor reused meanwhile.
        var slotReleased = false
        func releaseSlot() {
            if !slotReleased { slot.release(); slotReleased = true }
        }
        let uid = settings.subuidBase + slot.slot
        do throws(ProviderError) {
            try prepareDirectories(dir, uid: uid)
            let limits = CgroupLimits(memoryBytes: Int64(max(16, spec.memoryMB)) << 20, pidsMax: settings.pidsMax,
                                      vcpus: max(1, spec.vcpus))
            try cgroups(of: id)?.create(limits)
            let agent = try agentForSandboxes()
            let filter = settings.seccomp ? try seccompProgram() : nil
            let shimPID = try ShimLauncher.launch(agent: settings.agentPath, sandboxDirectory: dir, uid: uid, gid: uid,
                                                  slot: slot, seccompFile: filter, cgroupProcs: cgroups(of: id)?.procsFiles ?? [],
                                                  bwrap: bwrapArguments(id: id, directory: dir, agent: agent, image: image))
            releaseSlot()  // the shim holds the lock now
            guard let shim = ProcessIdentity.of(shimPID) else {
                throw .providerUnavailable("sandbox exited at start: \(consoleTail(dir))")
            }
            let sandbox = NamespaceSandbox(id: id, directory: dir, shim: shim, slot: slot.slot, uid: uid)
            try sandbox.writeState()
            sandboxes.withLock { $0[id] = sandbox }
            try await waitUntilReady(sandbox)
            return id
        } catch {
            releaseSlot()
            if let sandbox = sandboxes.withLock({ $0.removeValue(forKey: id) }) { await stop(sandbox) }
            await removeCgroups(id)
            removeTree(dir)
            throw error
        }
    }

    static func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x5F
        } && id.first != "-"
    }

    /// `mkdir -p` of the data directory; what it creates is searchable, not listable, by others.
    private func ensureDataDirectory() throws(ProviderError) {
        var current = ""
        for part in settings.dataDirectory.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o711) != 0 && errno != EEXIST {
                throw .providerUnavailable("cannot create \(current): errno \(errno)")
            }
        }
    }

    private func prepareDirectories(_ dir: String, uid: Int) throws(ProviderError) {
        if access(emptyFile, F_OK) != 0 {
            let fd = open(emptyFile, O_WRONLY | O_CREAT | O_CLOEXEC, 0o444)
            if fd >= 0 { fchmod(fd, 0o444); close(fd) }
        }
        removeTree(dir)  // leftovers of a sandbox that died with this ID
        guard mkdir(dir, 0o711) == 0 else { throw .internal("mkdir \(dir): errno \(errno)") }
        for name in ["workspace", "tmp", "root", "home", "app", "run"] {
            let path = dir + "/" + name
            guard mkdir(path, name == "run" ? 0o700 : 0o755) == 0 else { throw .internal("mkdir \(path): errno \(errno)") }
            if getuid() == 0 { chown(path, uid_t(uid), gid_t(uid)) }
        }
        Glibc.chmod(dir + "/tmp", 0o1777)
    }

    /// The bubblewrap command line (provider-feasibility.md §1, "Recipe that worked").
    func bwrapArguments(id: String, directory dir: String, agent: String, image: NamespaceImage) -> [String] {
        var args = [settings.bwrapPath,
                    "--unshare-user", "--uid", "0", "--gid", "0",
                    "--unshare-pid", "--unshare-uts", "--unshare-ipc", "--unshare-cgroup-try",
                    "--die-with-parent", "--new-session", "--hostname", id]
        if settings.network != "host" { args.append("--unshare-net") }
        args += NamespaceImages.rootArguments(image, emptyFile: emptyFile, skip: Self.mountedByProvider)
        args += ["--proc", "/proc", "--dev", "/dev"]
        if settings.seccomp { args += ["--seccomp", String(ShimLauncher.seccompDescriptor)] }
        for path in Self.writablePaths {
            if settings.upper == "tmpfs" {
                args += ["--size", String(Int64(max(1, settings.diskMB)) << 20)]
                if path == "/tmp" { args += ["--perms", "1777"] }
                args += ["--tmpfs", path]
            } else {
                args += ["--bind", dir + path, path]
            }
        }
        args += ["--bind", dir + "/run", "/run/stacyvm",
                 "--ro-bind", agent, "/.stacyvm/agent",
                 // root_mode readonly: bwrap's own root (a tmpfs holding the mount points) too, so
                 // only the writable paths take writes.
                 "--remount-ro", "/",
                 "--chdir", "/workspace", "--clearenv",
                 "--setenv", "PATH", Self.basePath, "--setenv", "HOME", "/root",
                 "--setenv", "STACYVM_SANDBOX_ID", id,
                 "/.stacyvm/agent", "serve", Self.socketInside]
        return args
    }

    /// The agent binary as sandbox uids can reach it: where it is installed when every ancestor is
    /// searchable (the usual /usr/local/bin), else a copy in the data directory (a build under
    /// /root, say).
    func agentForSandboxes() throws(ProviderError) -> String {
        if Self.unsearchableAncestor(of: settings.agentPath) == nil,
           let st = hostStat(settings.agentPath), st.st_mode & 0o005 == 0o005 {
            return settings.agentPath
        }
        let copy = settings.dataDirectory + "/.agent/stacyvm-agent"
        if let source = hostStat(settings.agentPath), let existing = hostStat(copy),
           existing.st_size == source.st_size, existing.st_mtim.tv_sec >= source.st_mtim.tv_sec {
            return copy
        }
        mkdir(settings.dataDirectory + "/.agent", 0o711)
        let temporary = copy + ".\(getpid()).tmp"
        unlink(temporary)
        do {
            try FileManager.default.copyItem(atPath: settings.agentPath, toPath: temporary)
        } catch {
            throw .providerUnavailable("cannot copy the agent to \(copy): \(error)")
        }
        Glibc.chmod(temporary, 0o755)
        guard rename(temporary, copy) == 0 else { throw .providerUnavailable("cannot install \(copy): errno \(errno)") }
        return copy
    }

    /// The compiled default seccomp program, written once per provider to the data directory
    /// (read by each sandbox's shim at start).
    func seccompProgram() throws(ProviderError) -> String {
        let path = settings.dataDirectory + "/.seccomp.bpf"
        if seccompWritten.withLock({ $0 }) && access(path, R_OK) == 0 { return path }
        let program = try SeccompFilter.compile()
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(program), attributes: [.posixPermissions: 0o644]),
              rename(temporary, path) == 0 else {
            unlink(temporary)
            throw .internal("cannot write \(path)")
        }
        seccompWritten.withLock { $0 = true }
        return path
    }

    /// An empty read-only file that masks secrets. (A bind of /dev/null would not do: device nodes
    /// cannot be opened on mounts a user namespace inherits, so reads would fail instead of being
    /// empty.)
    var emptyFile: String { settings.dataDirectory + "/.empty" }

    private func waitUntilReady(_ sandbox: NamespaceSandbox) async throws(ProviderError) {
        let started = monotonicNanos()
        let deadline = started + settings.readyTimeoutNanos
        while true {
            // The agent creates its socket under a temporary name and renames it once listening.
            if access(sandbox.socketPath, F_OK) == 0 { return }
            guard sandbox.shim.isAlive else {
                throw .providerUnavailable("sandbox exited at start: \(consoleTail(sandbox.directory))")
            }
            let now = monotonicNanos()
            guard now < deadline else {
                throw .providerUnavailable("sandbox agent not ready in time: \(consoleTail(sandbox.directory))")
            }
            // A sandbox is normally ready within ~10 ms: look often then (a check is one access(2)),
            // rarely after that.
            try? await Task.sleep(nanoseconds: now - started < 200_000_000 ? 200_000 : 5_000_000)
        }
    }

    private func consoleTail(_ dir: String) -> String {
        let text = (try? String(contentsOfFile: dir + "/console.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }

    public func status(_ runtimeID: String) async -> RuntimeStatus {
        guard let sandbox = lookupQuietly(runtimeID) else { return .missing }
        return sandbox.shim.isAlive ? .running : .stopped
    }

    public func destroy(_ runtimeID: String) async throws(ProviderError) -> Bool {
        guard Self.isSafeID(runtimeID) else { return false }
        diskUsage.withLock { _ = $0.removeValue(forKey: runtimeID) }
        let known = sandboxes.withLock { $0.removeValue(forKey: runtimeID) } ?? NamespaceSandbox.load(directory(of: runtimeID))
        guard let sandbox = known else {
            let dir = directory(of: runtimeID)
            let leftovers = access(dir, F_OK) == 0
            await removeCgroups(runtimeID)
            removeTree(dir)
            return leftovers
        }
        await stop(sandbox)
        await removeCgroups(runtimeID)
        removeTree(sandbox.directory)
        return true
    }

    /// Kills whatever is still in the sandbox's cgroups and removes them (bounded wait: a process
    /// in uninterruptible sleep leaves late).
    private func removeCgroups(_ id: String) async {
        guard let cgroups = cgroups(of: id), cgroups.directories.contains(where: { access($0, F_OK) == 0 }) else { return }
        let deadline = monotonicNanos() + 5_000_000_000
        while true {
            cgroups.killAll()
            if cgroups.remove() || monotonicNanos() >= deadline { return }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
    }

    /// Kills the shim; bwrap dies with it, and with the sandbox's init every process inside.
    private func stop(_ sandbox: NamespaceSandbox) async {
        // Everything inside first (nothing can fork meanwhile), then the shim.
        cgroups(of: sandbox.id)?.killAll()
        guard sandbox.shim.isAlive else { return }
        kill(sandbox.shim.pid, SIGKILL)
        let deadline = monotonicNanos() + 5_000_000_000
        var pause: UInt64 = 100_000
        while sandbox.shim.isAlive && monotonicNanos() < deadline {
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 5_000_000)
        }
        // The shim is gone; wait (bounded) until nothing runs as the sandbox's uid any more, so
        // its directory is not removed under a dying process.
        while Self.processesRunning(as: sandbox.uid) && monotonicNanos() < deadline {
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
    }

    static func processesRunning(as uid: Int) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        for entry in entries where entry.first?.isNumber == true {
            // A zombie waits only for its new parent (often the host's init) to reap it.
            if let st = hostStat("/proc/" + entry), Int(st.st_uid) == uid, let pid = pid_t(entry),
               ProcessIdentity.startTicks(pid) != nil { return true }
        }
        return false
    }

    private func removeTree(_ path: String) {
        _ = try? FileManager.default.removeItem(atPath: path)
    }

    private func lookupQuietly(_ id: String) -> NamespaceSandbox? {
        guard Self.isSafeID(id) else { return nil }
        // The map is a cache: another process (a restarted owner) may have destroyed the sandbox.
        if let known = sandboxes.withLock({ $0[id] }) {
            if access(known.directory + "/state.json", F_OK) == 0 { return known }
            sandboxes.withLock { _ = $0.removeValue(forKey: id) }
            return nil
        }
        return NamespaceSandbox.load(directory(of: id))
    }

    func lookup(_ id: String) throws(ProviderError) -> NamespaceSandbox {
        guard let sandbox = lookupQuietly(id), sandbox.shim.isAlive else { throw .sandboxNotFound }
        return sandbox
    }

    /// After a restart (runtime.md §2.6, "Restart survival"): sandboxes whose shim is gone are
    /// cleaned up — leftover processes, cgroups and directories; their uid slots were freed with
    /// the shim. Live ones stay and are reached through their agents. Returns the removed IDs.
    public func cleanUpDeadSandboxes() async -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: settings.dataDirectory) else { return [] }
        var removed: [String] = []
        for entry in entries.sorted() where Self.isSafeID(entry) {
            if let sandbox = NamespaceSandbox.load(directory(of: entry)), sandbox.shim.isAlive { continue }
            // A spawn in progress has no state file yet and is never touched.
            if spawning.withLock({ $0.contains(entry) }) { continue }
            sandboxes.withLock { _ = $0.removeValue(forKey: entry) }
            await removeCgroups(entry)
            removeTree(directory(of: entry))
            removed.append(entry)
        }
        return removed
    }

    public var configSummary: [String: String] {
        var summary = ["data_dir": settings.dataDirectory, "image_dir": settings.imageDirectory,
                       "image_fallback": settings.imageFallback, "subuid_base": String(settings.subuidBase),
                       "network": settings.network, "seccomp": settings.seccomp ? "default" : "off",
                       "upper": settings.upper, "disk_mb": String(settings.diskMB), "pids_max": String(settings.pidsMax),
                       "console_lines": String(settings.consoleLines), "bwrap": settings.bwrapPath]
        for controller in ["memory", "pids", "cpu"] {
            summary["cgroup_" + controller] = settings.limits ? (cgroupLayout.version(of: controller) ?? "unavailable") : "off"
        }
        return summary
    }

    /// Previews (runtime.md §2.6): a socket created by a thread that entered the sandbox's network
    /// namespace stays bound to it, so the sandbox needs no route to the host (no veth, loopback
    /// only) and the connection reaches what listens on the sandbox's own 127.0.0.1.
    public func openPort(_ runtimeID: String, port: Int) async throws(ProviderError) -> Int32 {
        let sandbox = try lookup(runtimeID)
        guard let member = Self.networkNamespaceMember(of: sandbox.shim.pid) else { throw .sandboxNotFound }
        let namespace = open("/proc/\(member)/ns/net", O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw .sandboxNotFound }
        let outcome: Result<Int32, ProviderError> = await withCheckedContinuation { continuation in
            // setns changes only the calling thread; this thread exists for it and then ends.
            let thread = Thread {
                defer { close(namespace) }
                guard LinuxCalls.setns(namespace, LinuxCalls.newNetworkNamespace) == 0 else {
                    continuation.resume(returning: .failure(.internal("setns: errno \(errno)")))
                    return
                }
                do throws(ProviderError) {
                    continuation.resume(returning: .success(try connectLoopback(port: port)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "stacyvm-preview-connect"
            thread.start()
        }
        return try outcome.get()
    }

    /// A process inside the sandbox's network namespace: the first descendant of its shim whose
    /// namespace differs from this process's (bwrap's init, created with --unshare-net).
    static func networkNamespaceMember(of shim: pid_t) -> pid_t? {
        guard let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net") else { return nil }
        var queue = [shim]
        var seen = 0
        while !queue.isEmpty && seen < 64 {
            let pid = queue.removeFirst()
            seen += 1
            if pid != shim, let net = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"), net != own {
                return pid
            }
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            queue += children.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return nil
    }

    public func listRuntimes() async -> [RuntimeInfo] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: settings.dataDirectory) else { return [] }
        return entries.sorted().compactMap { entry in
            guard Self.isSafeID(entry), let sandbox = lookupQuietly(entry), sandbox.shim.isAlive else { return nil }
            return RuntimeInfo(runtimeID: entry, sandboxID: entry)
        }
    }

}
