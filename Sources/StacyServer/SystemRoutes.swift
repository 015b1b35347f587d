import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyStore
import Synchronization

/// What the system routes read: the store (readiness), the HTTP server's counters and the
/// process start time.
final class SystemState: Sendable {
    let store: any Store
    let startedNanos: UInt64
    let openAPIDocument: [UInt8]
    let warnings: [String]
    let httpStats: HTTPStats
    let healthBody = KeyedCache<Int64, [UInt8]>()
    /// Provider health, shared with the provider routes (5 s, api.md §8.3).
    let providerHealth = HealthCache()

    let manager: SandboxManager
    let events: EventHub

    init(store: any Store, httpStats: HTTPStats, openAPIDocument: [UInt8], warnings: [String],
         manager: SandboxManager, events: EventHub) {
        self.manager = manager
        self.events = events
        self.store = store
        self.httpStats = httpStats
        self.startedNanos = monotonicNanos()
        self.openAPIDocument = openAPIDocument
        self.warnings = warnings
    }

    var uptime: GoDuration { GoDuration(nanoseconds: Int64(monotonicNanos() - startedNanos)) }

    /// Uptime as the original prints it: whole seconds ("1h2m3s"), so health bodies stay short.
    var uptimeText: String {
        GoDuration(nanoseconds: uptime.nanoseconds / GoDuration.second * GoDuration.second).description
    }
}

/// Remembers the last value computed for a key; a new key replaces it.
final class KeyedCache<Key: Equatable & Sendable, Value: Sendable>: Sendable {
    private let last = Mutex<(key: Key, value: Value)?>(nil)

    func value(for key: Key, compute: () -> Value) -> Value {
        if let hit = last.withLock({ $0?.key == key ? $0?.value : nil }) { return hit }
        let value = compute()
        last.withLock { $0 = (key, value) }
        return value
    }
}

/// api.md §7: health, liveness, readiness, metrics, and the contract document.
enum SystemRoutes {
    static let health = RouteInfo(method: "GET", path: "/api/v1/health", operationID: "getHealth", scope: "public")
    static let live = RouteInfo(method: "GET", path: "/api/v1/live", operationID: "getLive", scope: "public")
    static let ready = RouteInfo(method: "GET", path: "/api/v1/ready", operationID: "getReady", scope: "public")
    static let metrics = RouteInfo(method: "GET", path: "/api/v1/metrics", operationID: "getMetrics", scope: "read:*")
    static let prometheus = RouteInfo(method: "GET", path: "/api/v1/metrics/prometheus",
                                      operationID: "getPrometheusMetrics", scope: "read:*")
    static let openAPI = RouteInfo(method: "GET", path: "/api/v1/openapi.json", operationID: "getOpenAPIDocument", scope: "public")
    static let swagger = RouteInfo(method: "GET", path: "/swagger/doc.json", operationID: "getSwaggerDocument", scope: "public")

    static func routes(_ state: SystemState, auth: Authenticator) -> [Route] {
        [
            Route(health, handler: .sync { _ in
                // Load balancers poll this hardest, and its body only changes when the uptime
                // second does: encode it once per second.
                let second = state.uptime.nanoseconds / GoDuration.second
                let body = state.healthBody.value(for: second) {
                    (try? JanssonEncoder().encode(HealthResponse(version: BuildInfo.version, uptime: state.uptimeText,
                                                                 warnings: state.warnings.isEmpty ? nil : state.warnings))) ?? []
                }
                return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(body))
            }),
            Route(live, handler: .sync { _ in
                .json(LiveResponse(version: BuildInfo.version, uptime: state.uptimeText))
            }),
            Route(ready, handler: .async { _ in await readiness(state) }),
            Route(metrics, handler: .async { request in
                _ = try auth.authorize(request, metrics)
                return .json(await metricsBody(state))
            }),
            Route(prometheus, handler: .async { request in
                _ = try auth.authorize(request, prometheus)
                return
                .text(PrometheusText.render(state, await MetricsSnapshot.take(state)),
                      contentType: "text/plain; version=0.0.4; charset=utf-8")
            }),
            Route(openAPI, handler: .sync { _ in document(state) }),
            Route(swagger, handler: .sync { _ in document(state) }),
        ]
    }

    private static func document(_ state: SystemState) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(state.openAPIDocument))
    }

    /// 503 with the readiness body (not the envelope, api.md §2) when the store is unreachable,
    /// migrations are pending or no provider is healthy.
    private static func readiness(_ state: SystemState) async -> HTTPResponse {
        var storeCheck = "ok"
        var migrationCheck = "ok"
        do {
            try state.store.ping()
            let status = try state.store.migrationStatus()
            if !status.pending.isEmpty { migrationCheck = "\(status.pending.count) pending" }
            if !status.checksumMismatches.isEmpty { migrationCheck = "checksum mismatch" }
        } catch {
            storeCheck = "unreachable"
            migrationCheck = "unknown"
        }
        var providers: [ProviderHealth] = []
        for provider in state.manager.registry.all {
            let (report, _) = await state.providerHealth.health(of: provider)
            providers.append(ProviderHealth(name: provider.name, healthy: report.healthy, latencyMs: report.latencyMillis,
                                            error: report.error))
        }
        let healthy = providers.filter(\.healthy).count
        let ready = storeCheck == "ok" && migrationCheck == "ok" && healthy > 0
        let body = ReadyResponse(status: ready ? "ready" : "not_ready", version: BuildInfo.version,
                                 uptime: state.uptimeText, providers: providers, readyProviders: healthy,
                                 totalProviders: providers.count,
                                 checks: ReadinessChecks(store: storeCheck, migrations: migrationCheck))
        return .json(body, status: ready ? 200 : 503)
    }

    private static func metricsBody(_ state: SystemState) async -> MetricsResponse {
        let process = ProcessStats.current()
        let stats = state.httpStats
        let snapshot = await MetricsSnapshot.take(state)
        return MetricsResponse(
            uptime: state.uptimeText, goroutines: process.threads, memoryAlloc: process.residentBytes,
            memorySys: process.virtualBytes, memoryHeapAlloc: process.dataBytes,
            sandboxes: snapshot.sandboxes, providers: snapshot.providers, events: snapshot.events,
            operations: snapshot.operations,
            http: HTTPMetrics(requestsTotal: stats.requestsTotal.load(ordering: .relaxed),
                              inFlight: stats.inFlight.load(ordering: .relaxed),
                              streamsOpen: stats.streamsOpen.load(ordering: .relaxed)))
    }
}

/// What /metrics and /metrics/prometheus both report beyond the process and HTTP counters.
struct MetricsSnapshot {
    var sandboxes: SandboxMetrics
    var providers: ProviderMetrics
    var events: EventMetrics
    var operations: [OperationMetric]

    static func take(_ state: SystemState) async -> MetricsSnapshot {
        var byState: [String: Int] = [:], byProvider: [String: Int] = [:], byWorker: [String: Int] = [:]
        var total = 0, active = 0
        for row in (try? state.store.sandboxCounts()) ?? [] {
            total += row.count
            byState[row.state, default: 0] += row.count
            if row.state != "destroyed" {
                active += row.count
                byProvider[row.provider, default: 0] += row.count
                byWorker[row.workerID ?? "local", default: 0] += row.count
            }
        }
        var items: [ProviderHealth] = []
        for provider in state.manager.registry.all {
            let report = await provider.health()
            items.append(ProviderHealth(name: provider.name, healthy: report.healthy, latencyMs: report.latencyMillis,
                                        error: report.error))
        }
        let first = (try? state.store.earliestEventSeq()) ?? nil
        let last = (try? state.store.latestEventSeq()) ?? nil
        let history = first.flatMap { f in last.map { Int($0 - f + 1) } } ?? 0
        let operations = state.manager.operations.snapshot().map {
            OperationMetric(operation: $0.operation, provider: $0.provider, success: $0.success, failure: $0.failure,
                            latencyCount: $0.latencyCount, latencySumMs: ($0.latencySumMs * 1000).rounded() / 1000,
                            latencyMinMs: ($0.latencyMinMs * 1000).rounded() / 1000,
                            latencyMaxMs: ($0.latencyMaxMs * 1000).rounded() / 1000, lastError: $0.lastError,
                            lastAt: $0.lastAtMillis.map { Log.timestamp(unixMillis: $0) })
        }
        return MetricsSnapshot(
            sandboxes: SandboxMetrics(total: total, active: active, byState: byState, byProvider: byProvider, byWorker: byWorker),
            providers: ProviderMetrics(total: items.count, healthy: items.filter(\.healthy).count, items: items),
            events: EventMetrics(subscribers: state.events.subscriberCount, historySize: history,
                                 eventsTotal: state.events.eventsTotal.load(ordering: .relaxed)),
            operations: operations)
    }
}
