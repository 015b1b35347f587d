import Glibc
import Synchronization

/// The `mock` provider (runtime.md §2.5): one host directory per sandbox, commands run directly on
/// the host in their own process group. No isolation: for tests and the smoke script only.
public final class MockProvider: Provider {
    public let name = "mock"
    /// From the api.md §8.3 list. No `preview` (openPort is not part of this contract yet), no
    /// `stats`, no `isolation_namespaces`; `test_provider` marks it as a test-only provider.
    public let capabilities: [String] = ["spawn", "exec", "exec_stream", "files", "console", "health",
                                         "runtime_inventory", "test_provider"]
    public let rootDirectory: String
    let consoleLimit: Int
    /// How many lines a console follower may be behind before it is dropped (see `followConsole`).
    let followerLagLimit: Int
    public static let defaultFollowerLagLimit = 10_000
    /// Guards only the id -> sandbox map; per-sandbox state has its own lock.
    private let sandboxes = Mutex<[String: MockSandbox]>([:])

    public init(rootDirectory: String, consoleLimit: Int = 1000, followerLagLimit: Int = MockProvider.defaultFollowerLagLimit) {
        var root = rootDirectory
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.rootDirectory = root
        self.consoleLimit = max(1, consoleLimit)
        self.followerLagLimit = min(max(1, followerLagLimit), Int.max - 2)
    }

    static let basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    // MARK: - Lifecycle

    public func health() async -> HealthReport { HealthReport(healthy: true, latencyMillis: 0) }

    public func spawn(_ spec: SpawnSpec) async throws(ProviderError) -> String {
        let id = spec.sandboxID
        try Self.validateSandboxID(id)
        let directory = rootDirectory + "/stacyvm-" + id
        // Held across a couple of mkdir calls only: it makes spawn idempotent under concurrency
        // without a separate "creating" state.
        return try sandboxes.withLock { (map: inout [String: MockSandbox]) throws(ProviderError) -> String in
            if map[id] != nil { return id }
            try Self.makeDirectories(rootDirectory)
            // State is in memory only, so a directory left by an earlier process is stale: start clean.
            try SandboxFiles.removeSandboxDirectory(directory)
            guard mkdir(directory, 0o755) == 0, mkdir(directory + "/workspace", 0o755) == 0 else {
                throw SandboxFiles.failure(errno, "/")
            }
            let sandbox = MockSandbox(id: id, directory: directory, consoleLimit: consoleLimit,
                                      followerLagLimit: followerLagLimit)
            sandbox.log("[INFO] mock sandbox \(id) started")
            sandbox.log("[INFO] workspace initialized at /workspace")
            sandbox.log("[INFO] sandbox ready")
            map[id] = sandbox
            return id
        }
    }

    public func status(_ runtimeID: String) async -> RuntimeStatus {
        sandboxes.withLock { $0[runtimeID] } == nil ? .missing : .running
    }

    public func destroy(_ runtimeID: String) async throws(ProviderError) -> Bool {
        let sandbox = sandboxes.withLock { $0.removeValue(forKey: runtimeID) }
        guard let sandbox else { return false }
        sandbox.killAll()
        // SIGKILL is delivered asynchronously; a dying process may still create a file, so retry.
        var lastError: ProviderError?
        for attempt in 0..<5 {
            do throws(ProviderError) {
                try SandboxFiles.removeSandboxDirectory(sandbox.directory)
                return true
            } catch {
                lastError = error
                try? await Task.sleep(nanoseconds: UInt64(20_000_000 * (attempt + 1)))
            }
        }
        throw .internal("removing \(sandbox.directory): \(String(describing: lastError))")
    }

    public func checkExec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) {
        _ = try prepare(try lookup(runtimeID), spec)
    }

    public var configSummary: [String: String] { ["root_dir": rootDirectory, "isolation": "none"] }

    /// runtime.md §2.5: the mock has no network of its own; the port is the host's.
    public func openPort(_ runtimeID: String, port: Int) async throws(ProviderError) -> Int32 {
        _ = try lookup(runtimeID)
        return try connectLoopback(port: port)
    }

    public func listRuntimes() async -> [RuntimeInfo] {
        sandboxes.withLock { Array($0.keys) }.sorted().map { RuntimeInfo(runtimeID: $0, sandboxID: $0) }
    }

    public func stats(_ runtimeID: String) async -> SandboxStats? { nil }

    public func console(_ runtimeID: String, lines: Int) async throws(ProviderError) -> [String] {
        if lines < 0 { throw .invalidInput("lines must not be negative") }
        return try lookup(runtimeID).consoleTail(lines)
    }

    /// Backlog and live lines come from the sandbox's console buffer: each follower is a stream
    /// continuation registered with it, fed synchronously by `log` (no polling).
    ///
    /// Per-follower bound: a follower may hold at most `followerLagLimit` (10,000) undelivered
    /// lines. The line that takes it past that is still delivered, followed by `.ended`, and the
    /// follower is dropped. We end it rather than silently skipping lines so a consumer never sees
    /// a gap it cannot detect; a client that wants more can follow again (api.md §10 `lines`).
    /// The same bound applies to the backlog, which the API caps at 10,000 lines anyway.
    public func followConsole(_ runtimeID: String, lines: Int) -> AsyncStream<ConsoleEvent> {
        guard let sandbox = sandboxes.withLock({ $0[runtimeID] }) else {
            return AsyncStream { continuation in
                continuation.yield(.ended)
                continuation.finish()
            }
        }
        return sandbox.follow(lines: lines)
    }

    /// Registered console followers of a runtime (0 when unknown): for tests and diagnostics.
    public func followerCount(_ runtimeID: String) -> Int {
        sandboxes.withLock { $0[runtimeID] }?.followerCount ?? 0
    }

    // MARK: - Exec

    public func exec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) -> ExecResult {
        let sandbox = try lookup(runtimeID)
        let launch = try prepare(sandbox, spec)
        let collector = OutputCollector(limit: max(0, spec.maxOutputBytes))
        let slot = ProcessSlot()
        let outcome: Result<ProcessOutcome, ProviderError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<ProcessOutcome, ProviderError>, Never>) in
                do throws(ProviderError) {
                    let process = try ProcessRunner.start(
                        launch, timeoutNanos: spec.timeoutNanos,
                        output: { stream, bytes in collector.append(stream, bytes) },
                        completion: { continuation.resume(returning: .success($0)) })
                    sandbox.track(process)
                    slot.set(process)
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        } onCancel: {
            slot.cancel()
        }
        let result = try outcome.get()
        sandbox.log("[EXEC] \(spec.argv[0]) exit=\(result.exitCode)")
        switch result.stoppedBy {
        case .destroyed: throw .sandboxDestroyed
        // The caller went away; nobody reads this, but it must not look like a normal exit.
        case .cancelled: throw .internal("exec cancelled")
        case nil: break
        }
        if result.timedOut { throw .execTimeout }
        let (stdout, stderr, outTruncated, errTruncated) = collector.take()
        return ExecResult(exitCode: result.exitCode, stdout: stdout, stderr: stderr, durationNanos: result.durationNanos,
                          stdoutTruncated: outTruncated, stderrTruncated: errTruncated)
    }

    public func execStream(_ runtimeID: String, _ spec: ExecSpec) -> AsyncStream<ExecEvent> {
        AsyncStream { continuation in
            let slot = ProcessSlot()
            // Only a consumer that went away (not our own finish) kills the processes.
            continuation.onTermination = { reason in
                if case .cancelled = reason { slot.cancel() }
            }
            do throws(ProviderError) {
                let sandbox = try lookup(runtimeID)
                let launch = try prepare(sandbox, spec)
                let process = try ProcessRunner.start(
                    launch, timeoutNanos: spec.timeoutNanos,
                    output: { stream, bytes in continuation.yield(.output(stream, bytes)) },
                    completion: { outcome in
                        sandbox.log("[EXEC] \(spec.argv[0]) exit=\(outcome.exitCode)")
                        let error: ProviderError? = outcome.timedOut ? .execTimeout
                            : outcome.stoppedBy == .destroyed ? .sandboxDestroyed : nil
                        continuation.yield(.exit(ExecExit(exitCode: outcome.exitCode, durationNanos: outcome.durationNanos,
                                                          timedOut: outcome.timedOut, error: error)))
                        continuation.finish()
                    })
                sandbox.track(process)
                slot.set(process)
            } catch {
                continuation.yield(.exit(ExecExit(exitCode: -1, durationNanos: 0, timedOut: false, error: error)))
                continuation.finish()
            }
        }
    }

    /// Validates the spec and builds the host launch: cwd, environment and executable.
    private func prepare(_ sandbox: MockSandbox, _ spec: ExecSpec) throws(ProviderError) -> ProcessLaunch {
        let workdir = try spec.validated()
        let command = spec.argv[0]
        do throws(ProviderError) {
            guard try sandbox.files.stat(workdir).isDir else { throw .invalidInput("workdir is not a directory: \(workdir)") }
        } catch {
            if case .fileNotFound = error { throw .invalidInput("workdir does not exist: \(workdir)") }
            throw error
        }
        let cwd = workdir == "/" ? sandbox.directory : sandbox.directory + workdir

        // Base env of runtime.md §4 with the mock's host-facing overrides; nothing inherited.
        let env = try spec.environment(over: [
            "PATH": getenv("PATH").map { String(cString: $0) } ?? Self.basePath,
            "HOME": sandbox.directory,
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "STACYVM_SANDBOX_ID": sandbox.id,
            "WORKSPACE": sandbox.directory + "/workspace",
            "SANDBOX_ROOT": sandbox.directory,
        ])
        guard let executable = Processes.resolveExecutable(command, path: env["PATH"] ?? "", cwd: cwd) else {
            throw .invalidInput("command not found: \(command)")
        }
        return ProcessLaunch(executable: executable, argv: spec.argv,
                             environment: env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
                             workingDirectory: cwd, stdin: spec.stdin)
    }

    // MARK: - Files

    public func writeFile(_ runtimeID: String, path: String, bytes: [UInt8], mode: UInt32?) async throws(ProviderError) -> Int {
        let mode = mode ?? 0o644
        if mode > 0o7777 { throw .invalidInput("mode out of range") }
        return try lookup(runtimeID).files.writeFile(path, bytes: bytes, mode: mode)
    }

    public func readFile(_ runtimeID: String, path: String, maxBytes: Int?) async throws(ProviderError) -> [UInt8] {
        try lookup(runtimeID).files.readFile(path, maxBytes: maxBytes)
    }

    public func list(_ runtimeID: String, path: String) async throws(ProviderError) -> [FileInfo] {
        try lookup(runtimeID).files.list(path)
    }

    public func stat(_ runtimeID: String, path: String) async throws(ProviderError) -> FileInfo {
        try lookup(runtimeID).files.stat(path)
    }

    public func glob(_ runtimeID: String, pattern: String) async throws(ProviderError) -> [String] {
        try lookup(runtimeID).files.glob(pattern)
    }

    public func move(_ runtimeID: String, from: String, to: String) async throws(ProviderError) {
        try lookup(runtimeID).files.move(from: from, to: to)
    }

    public func chmod(_ runtimeID: String, path: String, mode: UInt32) async throws(ProviderError) {
        if mode > 0o7777 { throw .invalidInput("mode out of range") }
        try lookup(runtimeID).files.chmod(path, mode: mode)
    }

    public func delete(_ runtimeID: String, path: String, recursive: Bool) async throws(ProviderError) {
        try lookup(runtimeID).files.delete(path, recursive: recursive)
    }

    // MARK: - Helpers

    private func lookup(_ runtimeID: String) throws(ProviderError) -> MockSandbox {
        guard let sandbox = sandboxes.withLock({ $0[runtimeID] }) else { throw .sandboxNotFound }
        return sandbox
    }

    /// The ID becomes a directory name, so only a conservative character set is accepted.
    static func validateSandboxID(_ id: String) throws(ProviderError) {
        let allowed = id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e
        }
        guard !id.isEmpty, id.utf8.count <= 128, allowed, id != ".", id != ".." else {
            throw .invalidInput("invalid sandbox id")
        }
    }

    private static func makeDirectories(_ path: String) throws(ProviderError) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST { throw .internal("mkdir \(current): errno \(errno)") }
        }
    }
}

/// Per-sandbox state of the mock provider.
final class MockSandbox: Sendable {
    let id: String
    let directory: String
    let files: SandboxFiles
    private let consoleLimit: Int
    private let followerLagLimit: Int
    private struct State {
        var console: [String] = []
        /// Console followers by token. Never finished while the lock is held: `finish()` runs the
        /// termination handler synchronously, and that handler takes this lock.
        var followers: [UInt64: AsyncStream<ConsoleEvent>.Continuation] = [:]
        var nextFollower: UInt64 = 0
        var processes: [RunningProcess] = []
        /// Every process group ever started here: groups whose leader exited may still hold
        /// background processes (`sleep 30 &`) that destroy must kill.
        var groups: Set<pid_t> = []
        var destroyed = false
    }
    private let state = Mutex(State())
    /// Serialises deliveries to followers (so every follower sees the buffer's order) without
    /// holding `state`: a yield may wait for the consumer task's status lock, and cancelling that
    /// task holds the status lock while `onTermination` takes `state` (a lock-order deadlock).
    private let delivery = Mutex(())

    init(id: String, directory: String, consoleLimit: Int, followerLagLimit: Int) {
        self.id = id
        self.directory = directory
        self.files = SandboxFiles(root: directory)
        self.consoleLimit = consoleLimit
        self.followerLagLimit = followerLagLimit
    }

    func log(_ line: String) {
        let dropped = delivery.withLock { _ -> [AsyncStream<ConsoleEvent>.Continuation] in
            let followers = state.withLock { s -> [(UInt64, AsyncStream<ConsoleEvent>.Continuation)] in
                s.console.append(line)
                // Trim in batches so appends stay amortised O(1).
                if s.console.count >= consoleLimit * 2 { s.console.removeFirst(s.console.count - consoleLimit) }
                return s.followers.map { ($0.key, $0.value) }
            }
            var dropped: [(UInt64, AsyncStream<ConsoleEvent>.Continuation)] = []
            for (token, continuation) in followers where !deliver(line, to: continuation) { dropped.append((token, continuation)) }
            if !dropped.isEmpty { state.withLock { s in for (token, _) in dropped { s.followers[token] = nil } } }
            return dropped.map(\.1)
        }
        for continuation in dropped { continuation.finish() }
    }

    /// Backlog, then live lines, then `.ended` (MockProvider.followConsole).
    func follow(lines: Int) -> AsyncStream<ConsoleEvent> {
        // Two slots beyond the bound: one for the line that crosses it, one for `.ended`.
        AsyncStream(bufferingPolicy: .bufferingOldest(followerLagLimit + 2)) { continuation in
            let token = state.withLock { s in
                s.nextFollower += 1
                return s.nextFollower
            }
            continuation.onTermination = { [weak self] _ in self?.unregister(token) }
            // Backlog and registration inside one delivery: no line is lost or repeated between them.
            let registered = delivery.withLock { _ -> Bool in
                let (destroyed, backlog) = state.withLock { s in
                    (s.destroyed, Array(s.console.suffix(min(max(0, lines), consoleLimit))))
                }
                if destroyed {
                    continuation.yield(.ended)
                    return false
                }
                for line in backlog where !deliver(line, to: continuation) { return false }
                state.withLock { $0.followers[token] = continuation }
                return true
            }
            if !registered { continuation.finish() }
        }
    }

    /// Yields one line; false when the follower must be dropped (it is then past the lag bound and
    /// `.ended` has been yielded, or its consumer is already gone).
    private func deliver(_ line: String, to continuation: AsyncStream<ConsoleEvent>.Continuation) -> Bool {
        switch continuation.yield(.line(line)) {
        case .enqueued(let remaining):
            // remaining = capacity - pending = (bound + 2) - pending, so <= 1 means pending > bound.
            if remaining > 1 { return true }
            continuation.yield(.ended)
            return false
        case .dropped:  // unreachable: `.ended` always has a reserved slot
            return false
        case .terminated:
            return false
        @unknown default:
            return false
        }
    }

    private func unregister(_ token: UInt64) {
        // The removed continuation is returned, so it is released after the lock is dropped.
        _ = state.withLock { $0.followers.removeValue(forKey: token) }
    }

    var followerCount: Int { state.withLock { $0.followers.count } }

    func consoleTail(_ lines: Int) -> [String] {
        state.withLock { Array($0.console.suffix(min(lines, consoleLimit))) }
    }

    /// Registers a started process; one started while destroy ran is killed at once.
    func track(_ process: RunningProcess) {
        let killNow = state.withLock { s in
            s.processes.removeAll { $0.isFinished }
            s.processes.append(process)
            s.groups.insert(process.pid)
            return s.destroyed
        }
        if killNow { process.stop(.destroyed) }
    }

    func killAll() {
        let (processes, groups, followers) = delivery.withLock { _ in
            let taken = state.withLock { s in
                s.destroyed = true
                let followers = Array(s.followers.values)
                s.followers = [:]
                return (s.processes, s.groups, followers)
            }
            for follower in taken.2 { follower.yield(.ended) }
            return taken
        }
        for follower in followers { follower.finish() }
        for process in processes { process.stop(.destroyed) }
        for group in groups { kill(-group, SIGKILL) }
    }
}

/// Links a task's or stream's cancellation to a process that may not have started yet.
final class ProcessSlot: Sendable {
    private let state = Mutex<(process: RunningProcess?, cancelled: Bool)>((nil, false))

    func set(_ process: RunningProcess) {
        let cancelled = state.withLock { s in
            s.process = process
            return s.cancelled
        }
        if cancelled { process.stop(.cancelled) }
    }

    func cancel() {
        let process = state.withLock { s in
            s.cancelled = true
            return s.process
        }
        process?.stop(.cancelled)
    }
}

/// Sync-exec output: keeps `limit` bytes per stream and counts the rest as truncated.
final class OutputCollector: Sendable {
    private let limit: Int
    private let state = Mutex<(out: [UInt8], err: [UInt8], outTruncated: Bool, errTruncated: Bool)>(([], [], false, false))

    init(limit: Int) { self.limit = limit }

    func append(_ stream: OutputStream, _ bytes: [UInt8]) {
        state.withLock { s in
            switch stream {
            case .stdout: Self.add(bytes, to: &s.out, truncated: &s.outTruncated, limit: limit)
            case .stderr: Self.add(bytes, to: &s.err, truncated: &s.errTruncated, limit: limit)
            }
        }
    }

    private static func add(_ bytes: [UInt8], to buffer: inout [UInt8], truncated: inout Bool, limit: Int) {
        let room = limit - buffer.count
        if bytes.count <= room {
            buffer += bytes
        } else {
            buffer += bytes.prefix(max(0, room))
            truncated = true
        }
    }

    func take() -> ([UInt8], [UInt8], Bool, Bool) {
        state.withLock { ($0.out, $0.err, $0.outTruncated, $0.errTruncated) }
    }
}
