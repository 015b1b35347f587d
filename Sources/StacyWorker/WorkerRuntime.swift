import Foundation
import StacyAPI
import StacyHTTP
import StacyProviders
import StacyVMClient
import Synchronization

/// What `stacyvm worker` runs with (workers.md §1), already validated by the config path.
public struct WorkerOptions: Sendable {
    public var id: String
    public var controlPlaneURL: String
    public var token: String
    public var heartbeatIntervalSeconds: Double
    /// `http(s)://host:port` the control plane dials for RPC; nil with no listener (or `--once`).
    public var advertiseURL: String?
    public var previewDomain: String?
    public var stateDirectory: String
    public var capacity: WorkerCapacity
    public var labels: [String: String]
    /// `auth.control_plane_public_key(s)`; empty means "pin the keys of the first accepted heartbeat".
    public var controlPlanePublicKeys: [String]
    /// `--worker-token-file` / `auth.worker_token_file`: re-read when it changes (workers.md §1), so
    /// a rotated credential is picked up without a restart.
    public var tokenFile: String?
    public var version: String
    /// `--exit-when-drained`: the heartbeat loop ends once the control plane reports `drained`.
    public var exitWhenDrained: Bool

    public init(id: String, controlPlaneURL: String, token: String, heartbeatIntervalSeconds: Double,
                advertiseURL: String?, previewDomain: String?, stateDirectory: String, capacity: WorkerCapacity,
                labels: [String: String], controlPlanePublicKeys: [String], version: String, exitWhenDrained: Bool = false,
                tokenFile: String? = nil) {
        self.id = id
        self.controlPlaneURL = controlPlaneURL
        self.token = token
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.advertiseURL = advertiseURL
        self.previewDomain = previewDomain
        self.stateDirectory = stateDirectory
        self.capacity = capacity
        self.labels = labels
        self.controlPlanePublicKeys = controlPlanePublicKeys
        self.version = version
        self.exitWhenDrained = exitWhenDrained
        self.tokenFile = tokenFile
    }
}

/// Why the heartbeat loop ended.
public enum WorkerExit: Equatable, Sendable {
    /// Stopped by a signal after the final `offline` heartbeat (exit 0).
    case stopped
    /// Another process with this ID is newer (HTTP 409): exit 3 (cli.md §1).
    case superseded
}

/// The worker's side of workers.md §4: one epoch per process, heartbeats every interval ± 10 %,
/// failures retried with backoff (200 ms doubling to 7 s, ± 20 %) and never fatal, and the
/// control plane's keys pinned from the first accepted response when none are configured.
public final class WorkerRuntime: Sendable {
    public let options: WorkerOptions
    /// 128 random bits in hex, new for every process (workers.md §1).
    public let epoch: String
    public let startedAt: String
    /// The control plane's API with this worker's own credential (heartbeats, lease renewals); a
    /// new client when the token file changes.
    private let clientState: Mutex<(client: StacyVMClient, token: String, fileStamp: String?)>
    var client: StacyVMClient { currentClient() }
    private let providers: [String]
    private let log: Log
    private let keys: PinnedKeys
    private let stopping = Atomic<Bool>(false)
    private let wake = WakeSignal()
    /// RPCs being served right now (`outstanding_work`).
    public let outstandingWork = Atomic<Int>(0)
    /// Draining as the control plane's heartbeat directives say (its admin state is authoritative).
    private let drainingByControlPlane = Atomic<Bool>(false)
    /// Draining as a `worker.drain`/`worker.shutdown` call said (persisted in the state directory).
    private let drainingByCall = Atomic<Bool>(false)
    /// Control-plane time minus local time, in ms, estimated from heartbeat round trips (§4).
    private let clockOffsetMs = Atomic<Int64>(0)

    public init(options: WorkerOptions, providers: [String], log: Log) throws {
        self.options = options
        self.advertiseURL = Mutex(options.advertiseURL)
        self.providers = providers
        self.log = log
        var generator = SystemRandomNumberGenerator()
        epoch = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        startedAt = Log.timestamp()
        clientState = Mutex((Self.makeClient(options, token: options.token), options.token,
                             options.tokenFile.flatMap(Self.fileStamp)))
        try FileManager.default.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        keys = try PinnedKeys(directory: options.stateDirectory, configured: options.controlPlanePublicKeys)
    }

    private static func makeClient(_ options: WorkerOptions, token: String) -> StacyVMClient {
        StacyVMClient(baseURL: options.controlPlaneURL, workerID: options.id, workerToken: token,
                      timeout: max(5, min(30, options.heartbeatIntervalSeconds * 2)))
    }

    /// Size, modification time and inode: enough to notice an edit or a rename over the file.
    private static func fileStamp(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// The client, rebuilt first if the token file changed and holds a new, non-empty token.
    private func currentClient() -> StacyVMClient {
        guard let path = options.tokenFile else { return clientState.withLock { $0.client } }
        let stamp = Self.fileStamp(path)
        return clientState.withLock { state in
            guard stamp != state.fileStamp else { return state.client }
            state.fileStamp = stamp
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return state.client }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, token != state.token else { return state.client }
            state.token = token
            state.client = Self.makeClient(options, token: token)
            log.info("worker token file changed: using the new credential", [("file", .string(path))])
            return state.client
        }
    }

    /// Keys RPC tokens must verify against: configured ones, else those pinned from a heartbeat.
    public var controlPlaneKeys: [String] { keys.current }

    /// Draining refuses new spawns and is reported on `/health` and in heartbeats.
    public var draining: Bool { drainingByControlPlane.load(ordering: .relaxed) || drainingByCall.load(ordering: .relaxed) }

    /// Set by drain RPCs (and from the persisted flag at start).
    public func setDraining(_ draining: Bool) {
        let before = drainingByCall.exchange(draining, ordering: .relaxed)
        if before != draining { wake.signal() }  // report the new status now, not an interval later
    }

    /// Now on the control plane's clock (Unix ms): lease checks use it (workers.md §6.3).
    public func controlPlaneNowMillis() -> Int64 { Self.localMillis() + clockOffsetMs.load(ordering: .relaxed) }

    static func localMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// One heartbeat with `status`; the response's keys are pinned when none are known yet.
    public func heartbeat(status: String? = nil) async throws(StacyVMError) -> Worker {
        let request = HeartbeatRequest(
            hostname: systemHostName() ?? options.id, status: status ?? (draining ? "draining" : "online"),
            epoch: epoch, startedAt: startedAt, protocolVersion: workerProtocolVersion, version: options.version,
            heartbeatInterval: "\(Int(options.heartbeatIntervalSeconds * 1000))ms", providers: providers,
            capabilities: ["spawn", "inventory", "drain"], capacity: advertisedCapacity, usage: WorkerUsageInfo(),
            labels: options.labels, outstandingWork: outstandingWork.load(ordering: .relaxed))
        let sent = Self.localMillis()
        let worker = try await client.workerHeartbeat(options.id, request)
        let received = Self.localMillis()
        if let time = worker.controlPlane?.time, let cpMillis = Log.unixMillis(fromTimestamp: time) {
            // The control plane stamped its time somewhere in the round trip: assume the middle.
            let offset = cpMillis - (sent + received) / 2
            if abs(offset) > 1000 && abs(clockOffsetMs.load(ordering: .relaxed)) <= 1000 {
                log.warn("this host's clock differs from the control plane's", [("offset_ms", .int(Int(offset)))])
            }
            clockOffsetMs.store(offset, ordering: .relaxed)
        }
        if let published = worker.controlPlane?.publicKeys, !published.isEmpty {
            do { try keys.pinIfEmpty(published) } catch { log.error("cannot persist the control plane's keys", [("error", .string("\(error)"))]) }
        }
        if let directives = worker.directives { drainingByControlPlane.store(directives.draining, ordering: .relaxed) }
        if let leases = worker.leases, let handler = leaseListener.withLock({ $0 }) { handler(leases) }
        if let revoked = worker.revoked, !revoked.isEmpty, let handler = revocationListener.withLock({ $0 }) { handler(revoked) }
        return worker
    }

    private let advertiseURL: Mutex<String?>
    private let leaseListener = Mutex<(@Sendable ([LeaseToken]) -> Void)?>(nil)
    private let revocationListener = Mutex<(@Sendable ([Worker.Revocation]) -> Void)?>(nil)

    /// Called with every accepted heartbeat's non-empty `revoked` (sandboxes to destroy here).
    public func onRevocations(_ handler: @escaping @Sendable ([Worker.Revocation]) -> Void) {
        revocationListener.withLock { $0 = handler }
    }

    /// Called with every accepted heartbeat's `leases` (the RPC dispatcher syncs its records).
    public func onLeases(_ handler: @escaping @Sendable ([LeaseToken]) -> Void) { leaseListener.withLock { $0 = handler } }

    /// The listener's URL once it is bound (a `:0` listen address gets its port only then).
    public func setAdvertiseURL(_ url: String?) { advertiseURL.withLock { $0 = url } }

    private var advertisedCapacity: WorkerCapacity {
        var capacity = options.capacity
        capacity.rpcURL = advertiseURL.withLock { $0 }
        capacity.previewDomain = options.previewDomain
        return capacity
    }

    /// Heartbeats until `stop()`, then sends the final `offline` heartbeat.
    public func run() async -> WorkerExit {
        var backoff = 0.2
        var accepted = false
        while !stopping.load(ordering: .relaxed) {
            let delay: Double
            do {
                let worker = try await heartbeat()
                if options.exitWhenDrained, worker.directives?.drained == true {
                    log.info("drained: exiting as --exit-when-drained asks", [("worker_id", .string(options.id))])
                    stopping.store(true, ordering: .relaxed)
                    continue
                }
                if !accepted { log.info("heartbeat accepted", [("worker_id", .string(options.id)), ("epoch", .string(epoch))]) }
                accepted = true
                backoff = 0.2
                delay = options.heartbeatIntervalSeconds * Double.random(in: 0.9...1.1)
            } catch {
                if error.status == 409 {
                    log.error("another process with this worker ID is newer; exiting", [("worker_id", .string(options.id))])
                    return .superseded
                }
                log.warn("heartbeat failed", [("error", .string(error.description)), ("retry_in_ms", .int(Int(backoff * 1000)))])
                delay = backoff * Double.random(in: 0.8...1.2)
                backoff = min(7, backoff * 2)
            }
            await wake.wait(seconds: delay)
        }
        do { _ = try await heartbeat(status: "offline") } catch {
            log.warn("final offline heartbeat failed", [("error", .string(error.description))])
        }
        return .stopped
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
    }
}

/// The control plane's public keys as the worker knows them (workers.md §1): configured keys win;
/// otherwise the keys of the first accepted heartbeat, persisted in the state directory so a
/// restart keeps trusting the same control plane.
final class PinnedKeys: Sendable {
    private let path: String
    private let configured: [String]
    private let pinned: Mutex<[String]>

    init(directory: String, configured: [String]) throws {
        path = directory + "/control-plane-keys.json"
        self.configured = configured
        var loaded: [String] = []
        if let data = FileManager.default.contents(atPath: path) {
            guard let keys = try? JSONDecoder().decode([String].self, from: data) else {
                throw WorkerStateError("\(path) is not a JSON list of keys; remove it to pin again")
            }
            loaded = keys
        }
        pinned = Mutex(loaded)
    }

    var current: [String] { configured.isEmpty ? pinned.withLock { $0 } : configured }

    func pinIfEmpty(_ keys: [String]) throws {
        guard configured.isEmpty else { return }
        let fresh = pinned.withLock { current -> Bool in
            guard current.isEmpty else { return false }
            current = keys
            return true
        }
        guard fresh else { return }
        try AtomicFile.write(try JSONEncoder().encode(keys), to: path)
    }
}

public struct WorkerStateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Durable state writes (workers.md §6.4): temp file, fsync, rename.
enum AtomicFile {
    static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WorkerStateError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return false }
                offset += written
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            throw WorkerStateError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A sleep that `signal()` cuts short (stop, or a directive that needs an early heartbeat).
final class WakeSignal: Sendable {
    private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let pending = Atomic<Bool>(false)

    func wait(seconds: Double) async {
        if pending.exchange(false, ordering: .relaxed) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiter.withLock { $0 = continuation }
            if pending.exchange(false, ordering: .relaxed) { resumeOnce(); return }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
                self.resumeOnce()
            }
        }
    }

    func signal() {
        pending.store(true, ordering: .relaxed)
        resumeOnce()
    }

    private func resumeOnce() {
        let continuation = waiter.withLock { current -> CheckedContinuation<Void, Never>? in
            defer { current = nil }
            return current
        }
        if continuation != nil { pending.store(false, ordering: .relaxed) }
        continuation?.resume()
    }
}

/// The host name, or nil when the kernel has none.
public func systemHostName() -> String? {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return nil }
    let name = String(cString: buffer)
    return name.isEmpty ? nil : name
}
