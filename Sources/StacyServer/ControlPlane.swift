import Dispatch
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyProviders
import StacyStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The route table compiled into the binary: what `stacyvm routes --json` prints and what
/// `scripts/check-swagger.sh` compares with `openapi/openapi.json`.
public enum ControlPlaneRoutes {
    public static let all: [RouteInfo] = [
        SystemRoutes.health, SystemRoutes.live, SystemRoutes.ready, SystemRoutes.metrics,
        SystemRoutes.prometheus, SystemRoutes.openAPI, SystemRoutes.swagger,
    ] + SandboxRoutes.all + ProviderRoutes.all + ExecRoutes.all + FileRoutes.all + EventRoutes.all + AdminRoutes.all + QuotaRoutes.all + TemplateRoutes.all
        + WorkerRoutes.all + WorkerAdminRoutes.all

    /// Sorted by path, then method (cli.md, `routes`).
    public static func entries() -> [RouteEntry] {
        all.map { RouteEntry(method: $0.method, path: $0.path, scope: $0.scope, operationID: $0.operationID, authRule: $0.authRule) }
            .sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }
}

/// The control plane: HTTP server, routes and the store they use.
public final class ControlPlane: Sendable {
    public let instanceID: String
    private let server: HTTPServer
    private let shutdownTimeout: GoDuration
    let state: SystemState

    public let manager: SandboxManager
    public let events: EventHub
    private let writer: BatchedWriter
    private let reaper: Reaper

    /// Builds the server from validated config. The store must already be migrated (or the
    /// caller accepts a not-ready server).
    public let auth: Authenticator
    public let workerAuth: WorkerAuthenticator
    public let workers: WorkerRegistry
    private let supervisor: WorkerSupervisor

    public init(config: Config, store: any Store, log: Log, instanceID: String,
                environment: [String: String] = [:]) throws {
        auth = Authenticator(settings: Authenticator.settings(from: config, loopbackListener: ControlPlane.isLoopback(config.server.host)),
                             store: store)
        try ControlPlane.refuseInsecureExposure(config, credentialsConfigured: auth.credentialsConfigured)
        let (registry, warnings) = try ControlPlane.providers(config, environment: environment)
        for warning in warnings { log.warn(warning) }
        let settings = ManagerSettings(config: config, listenPort: config.server.port)
        events = EventHub(subscriberBuffer: config.value("events.subscriber_buffer")?.intValue ?? 256)
        writer = BatchedWriter(store: store, hub: events, log: log)
        let signingKeyPath = config.value("auth.control_plane_signing_key_file")?.stringValue
            ?? config.server.dataDir + "/control-plane.ed25519"
        let signingKey = try ControlPlaneSigningKey.loadOrCreate(path: signingKeyPath)
        let workerSettings = WorkerSettings(config: config)
        workers = try WorkerRegistry(store: store, writer: writer, settings: workerSettings, instanceID: instanceID,
                                     publicKeys: [signingKey.publicKeyText])
        // The embedded worker enforces only the capacity it is given: host-derived defaults would
        // silently cap a control plane that has always been limited by `defaults.max_sandboxes`.
        let embedded = config.value("server.local_worker.enabled")?.boolValue != false
            ? LocalPlacement(workerID: settings.workerID, registry: registry) : nil
        let rpc = WorkerRPCClient(instanceID: instanceID, key: signingKey)
        let placement = WorkerPlacement(
            local: embedded, localCapacity: ControlPlane.capacity(config, keyPrefix: "server.local_worker.capacity", deriveFromHost: false),
            registry: workers,
            rpc: rpc, store: store,
            preferLocal: config.value("scheduler.prefer_local")?.boolValue ?? false,
            timeouts: .init(rpcSeconds: ControlPlane.seconds(config, "workers.rpc_timeout", 10),
                            spawnSeconds: ControlPlane.seconds(config, "workers.spawn_timeout", 60)))
        manager = SandboxManager(store: store, placement: placement, registry: registry, settings: settings, writer: writer, log: log)
        supervisor = WorkerSupervisor(store: store, registry: workers, placement: placement, rpc: rpc, writer: writer, log: log,
                                      orphanPolicy: config.value("workers.orphan_policy")?.stringValue ?? "reap",
                                      rpcTimeoutSeconds: ControlPlane.seconds(config, "workers.rpc_timeout", 10),
                                      reconcileIntervalSeconds: ControlPlane.seconds(config, "workers.reconcile_interval", 30))
        reaper = Reaper(manager: manager, settings: ControlPlane.reaperSettings(config))
        let stats = HTTPStats()
        let document: [UInt8]
        do {
            // Served compact, like every other JSON body; parsing it here also proves the
            // embedded copy is well formed before anyone asks for it.
            document = try JanssonEncoder().encode(JanssonDecoder().decode(JSONValue.self, from: Array(openAPIDocumentText.utf8)))
        } catch {
            throw StartupError("embedded OpenAPI document is not valid JSON: \(error)")
        }
        state = SystemState(store: store, httpStats: stats, openAPIDocument: document, warnings: warnings,
                            manager: manager, events: events)
        workerAuth = WorkerAuthenticator(store: store, sharedToken: config.value("auth.worker_token")?.stringValue, log: log)
        let leases = LeaseService(store: store, settings: workerSettings)
        let credentials = WorkerCredentials(store: store, key: signingKey, auth: workerAuth)
        let controlPlaneView: @Sendable () throws(APIError) -> ControlPlaneView = { [instanceID] () throws(APIError) in
            let instances: [ControlPlaneRecord]
            do { instances = try store.listControlPlanes() } catch { throw APIError.internalError }
            return ControlPlaneView(
                instanceID: instanceID, isLeader: true, leaderInstanceID: instanceID, version: BuildInfo.version,
                publicKey: signingKey.publicKeyText, keyID: signingKey.keyID,
                instances: instances.map { .init(instanceID: $0.instanceID, hostname: $0.hostname, version: $0.version,
                                                 startedAt: Log.timestamp(unixMillis: $0.startedAt),
                                                 lastSeen: Log.timestamp(unixMillis: $0.lastSeen)) })
        }
        var router = Router()
        let routes = SystemRoutes.routes(state, auth: auth) + SandboxRoutes.routes(manager, auth: auth, store: store, warnings: warnings)
            + ProviderRoutes.routes(manager, auth: auth, store: store, cache: state.providerHealth)
            + ExecRoutes.routes(manager, auth: auth) + FileRoutes.routes(manager, auth: auth)
            + EventRoutes.routes(manager, auth: auth, hub: events, store: store,
                                 keepalive: UInt64(settings.streamKeepalive.nanoseconds))
            + AdminRoutes.routes(store: store, auth: auth) + QuotaRoutes.routes(manager, auth: auth)
            + TemplateRoutes.routes(manager, auth: auth, store: store, warnings: warnings)
            + WorkerRoutes.routes(registry: workers, leases: leases, auth: workerAuth)
            + WorkerAdminRoutes.routes(registry: workers, credentials: credentials, leases: leases, supervisor: supervisor,
                                       manager: manager, placement: placement, workerAuth: workerAuth,
                                       controlPlane: controlPlaneView, auth: auth)
        for route in routes { router.add(route) }
        precondition(router.routes.map(\.info) == ControlPlaneRoutes.all, "route table and served routes differ")

        var http = HTTPServerConfig()
        http.host = config.server.host
        http.port = UInt16(config.server.port)
        http.maxConnections = config.server.maxConnections
        http.threads = config.server.threads > 0 ? config.server.threads : ControlPlane.automaticThreads()
        http.idleTimeoutSeconds = max(1, Int(config.server.idleTimeout.nanoseconds / GoDuration.second))
        http.maxBodyBytes = config.limits.maxJSONBodyBytes
        http.log = log
        http.cors = CORSPolicy(allowedOrigins: config.server.corsAllowedOrigins)
        server = HTTPServer(config: http, router: router, stats: stats)
        shutdownTimeout = config.server.shutdownTimeout
        self.instanceID = instanceID
    }

    /// Starts the writer and the reaper (on SQLite this control plane is always the leader),
    /// then the listener.
    public func start() throws {
        writer.start()
        reaper.start()
        supervisor.start()
        try server.start()
    }

    /// The bound port (useful when the config asked for port 0).
    public var port: UInt16 { server.port }

    /// Graceful stop within `server.shutdown_timeout`.
    public func stop() {
        server.stop(timeoutSeconds: Double(shutdownTimeout.nanoseconds) / 1e9)
        reaper.stop()
        supervisor.stop()
        // Flush what requests handed over before the process goes (runtime.md §8).
        let writer = self.writer
        _ = Self.waitFor(seconds: 5) { await writer.stop() }
    }

    static func seconds(_ config: Config, _ key: String, _ fallback: Double) -> Double {
        config.value(key)?.durationValue.map { Double($0.nanoseconds) / 1e9 } ?? fallback
    }

    /// A worker's capacity from `<prefix>.*` (`worker.capacity` for `stacyvm worker`,
    /// `server.local_worker.capacity` for the embedded worker). With `deriveFromHost` unset vCPUs
    /// and memory take the defaults of workers.md §1 (host CPUs × `vcpu_overcommit`, 80 % of
    /// MemTotal); without it they stay unknown (unlimited).
    public static func capacity(_ config: Config, keyPrefix prefix: String, deriveFromHost: Bool = true) -> WorkerCapacity {
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let overcommit = config.value(prefix + ".vcpu_overcommit")?.doubleValue ?? 8
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES))), pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let memoryMB = pages > 0 && pageSize > 0 ? pages / 1024 * pageSize / 1024 * 8 / 10 : 0
        return WorkerCapacity(
            maxSandboxes: config.value(prefix + ".max_sandboxes")?.intValue ?? 0,
            maxSandboxesPerOwner: config.value(prefix + ".max_sandboxes_per_owner")?.intValue ?? 0,
            vcpus: config.value(prefix + ".vcpus")?.intValue ?? (deriveFromHost ? Int(Double(cpus) * overcommit) : nil),
            memoryMB: config.value(prefix + ".memory_mb")?.intValue ?? (deriveFromHost ? memoryMB : nil))
    }

    static func reaperSettings(_ config: Config) -> Reaper.Settings {
        var settings = Reaper.Settings()
        func duration(_ key: String) -> GoDuration? { config.value(key)?.durationValue }
        settings.interval = duration("defaults.reaper_interval") ?? settings.interval
        settings.destroyedRetention = duration("defaults.destroyed_retention") ?? settings.destroyedRetention
        settings.eventRetention = duration("events.retention") ?? settings.eventRetention
        settings.eventMaxRows = config.value("events.max_rows")?.intValue ?? settings.eventMaxRows
        settings.execLogRetention = duration("limits.exec_log_retention") ?? settings.execLogRetention
        return settings
    }

    /// One event thread per core but one. The HTTP threads only parse, route and answer quick
    /// handlers; slow work runs on Swift's task pool, which needs a core too. On this 2-core
    /// kind of machine one event thread gave a p99 of 1.3 ms on /health against 4.4 ms with
    /// two (wrk on the same cores), at 0.8-1.0x the requests/s (scripts/bench/http.sh).
    static func automaticThreads() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1)
    }

    /// runtime.md §2.3. `namespace` as the named default must pass its host check or startup fails.
    /// `auto` still falls back to `mock` on loopback (choosing namespace through its self-test is
    /// issue 4, stage 4), with a loud warning unless tests say STACYVM_TESTING=1.
    public static func providers(_ config: Config, environment: [String: String]) throws -> (ProviderRegistry, [String]) {
        let wanted = config.value("providers.default")?.stringValue ?? "auto"
        if wanted == "namespace" {
            guard config.value("providers.namespace.enabled")?.boolValue != false else {
                throw StartupError("providers.default is namespace but providers.namespace.enabled is false")
            }
            let namespace = NamespaceProvider(settings: namespaceSettings(config))
            if let problem = namespace.problem() {
                throw StartupError("the namespace provider cannot run on this host: \(problem)")
            }
            cleanUp(namespace)
            return (ProviderRegistry(providers: [namespace], defaultName: "namespace"), [])
        }
        guard wanted == "auto" || wanted == "mock" else {
            throw StartupError("providers.default \(wanted) is not available in this version (use mock or namespace)")
        }
        var warnings: [String] = []
        var unavailable: [any Provider] = []
        if wanted == "auto" && config.value("providers.namespace.enabled")?.boolValue != false {
            let namespace = NamespaceProvider(settings: namespaceSettings(config))
            guard let problem = selfTest(namespace) else {
                cleanUp(namespace)
                return (ProviderRegistry(providers: [namespace], defaultName: "namespace"), [])
            }
            warnings.append("namespace provider unavailable: \(problem)")
            // Listed, unhealthy, so GET /providers/namespace says why (issue 4, "auto").
            namespace.recordSelfTestFailure(problem)
            unavailable.append(namespace)
        }
        // The key table defaults root_dir to the system temp directory.
        let root = config.value("providers.mock.root_dir")?.stringValue ?? "/tmp"
        let mock = MockProvider(rootDirectory: root, consoleLimit: config.value("providers.mock.console_lines")?.intValue ?? 1000)
        if environment["STACYVM_TESTING"] != "1" { warnings.append("mock provider is the default: no isolation") }
        return (ProviderRegistry(providers: [mock] + unavailable, defaultName: "mock"), warnings)
    }

    /// Removes what sandboxes that died while this process was down left behind (bounded wait).
    static func cleanUp(_ namespace: NamespaceProvider) {
        _ = waitFor(seconds: 30) { await namespace.cleanUpDeadSandboxes() }
    }

    /// The namespace self-test, bounded.
    static func selfTest(_ namespace: NamespaceProvider) -> String? {
        guard let problem = waitFor(seconds: 30, { await namespace.selfTest() }) else {
            return "self-test did not finish within 30 s"
        }
        return problem
    }

    /// Runs async work from synchronous start-up code (called on a plain thread, never on the
    /// cooperative pool, which the work itself needs); nil when it did not finish in time.
    static func waitFor<T: Sendable>(seconds: Int, _ work: @escaping @Sendable () async -> T) -> T? {
        let outcome = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let value = await work()
            outcome.withLock { $0 = value }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(seconds)) == .success else { return nil }
        return outcome.withLock { $0 }
    }

    static func namespaceSettings(_ config: Config) -> NamespaceSettings {
        var settings = NamespaceSettings(dataDirectory: config.value("providers.namespace.data_dir")?.stringValue
                                         ?? config.server.dataDir + "/sandboxes")
        settings.subuidBase = config.value("providers.namespace.subuid_base")?.intValue ?? settings.subuidBase
        settings.network = config.value("providers.namespace.network")?.stringValue ?? settings.network
        settings.consoleLines = config.value("providers.namespace.console_lines")?.intValue ?? settings.consoleLines
        settings.seccomp = config.value("providers.namespace.seccomp")?.stringValue != "off"
        settings.pidsMax = config.value("providers.namespace.pids_max")?.intValue ?? settings.pidsMax
        settings.upper = config.value("providers.namespace.upper")?.stringValue ?? settings.upper
        settings.diskMB = config.value("defaults.disk_mb")?.intValue ?? settings.diskMB
        settings.imageDirectory = config.value("providers.namespace.image_dir")?.stringValue ?? config.server.dataDir + "/images"
        settings.images = config.value("providers.namespace.images")?.mapValue ?? [:]
        settings.imageFallback = config.value("providers.namespace.image_fallback")?.stringValue ?? "host"
        return settings
    }

    /// api.md §3.1 and runtime.md §2.3: never listen beyond loopback without an API credential,
    /// and never offer the mock provider (no isolation) there unless the config says so.
    public static func refuseInsecureExposure(_ config: Config, credentialsConfigured: Bool) throws {
        guard !isLoopback(config.server.host) else { return }
        guard credentialsConfigured else {
            throw StartupError("server.host \(config.server.host) is not a loopback address and no API credential is "
                + "configured (auth.api_key, auth.admin_api_key, auth.api_keys or database keys)")
        }
        guard config.value("providers.mock.allow_non_loopback")?.boolValue == true else {
            throw StartupError("the mock provider gives no isolation: on a non-loopback address it needs "
                + "providers.mock.allow_non_loopback: true")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    /// `cp-<host>-<6 hex>` (spec README §5) unless `server.instance_id` names one.
    public static func makeInstanceID(configured: String?) -> String {
        if let configured, !configured.isEmpty { return configured }
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let host = String(cString: name).split(separator: ".").first.map(String.init) ?? "host"
        let suffix = RequestID.newUUID().replacingOccurrences(of: "-", with: "").prefix(6)
        return "cp-\(host.isEmpty ? "host" : host)-\(suffix)"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
