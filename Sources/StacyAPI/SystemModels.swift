import StacyHTTP

/// Wire types of the system routes (api.md §7). Field order is the documented key order.

public typealias ErrorEnvelope = StacyHTTP.ErrorEnvelope

public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public var uptime: String
    public var warnings: [String]?

    public init(status: String = "ok", version: String, uptime: String, warnings: [String]? = nil) {
        self.status = status
        self.version = version
        self.uptime = uptime
        self.warnings = warnings
    }
}

public struct LiveResponse: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public var uptime: String

    public init(status: String = "alive", version: String, uptime: String) {
        self.status = status
        self.version = version
        self.uptime = uptime
    }
}

public struct ProviderHealth: Codable, Sendable, Equatable {
    public var name: String
    public var healthy: Bool
    public var latencyMs: Int64?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, healthy
        case latencyMs = "latency_ms"
        case error
    }

    public init(name: String, healthy: Bool, latencyMs: Int64? = nil, error: String? = nil) {
        self.name = name
        self.healthy = healthy
        self.latencyMs = latencyMs
        self.error = error
    }
}

public struct ReadinessChecks: Codable, Sendable, Equatable {
    /// `ok`, or a short description of the problem (never driver text).
    public var store: String
    /// `ok`, or `<n> pending`.
    public var migrations: String

    public init(store: String, migrations: String) {
        self.store = store
        self.migrations = migrations
    }
}

public struct ReadyResponse: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public var uptime: String
    public var providers: [ProviderHealth]
    public var readyProviders: Int
    public var totalProviders: Int
    public var checks: ReadinessChecks

    enum CodingKeys: String, CodingKey {
        case status, version, uptime, providers
        case readyProviders = "ready_providers"
        case totalProviders = "total_providers"
        case checks
    }

    public init(status: String, version: String, uptime: String, providers: [ProviderHealth],
                readyProviders: Int, totalProviders: Int, checks: ReadinessChecks) {
        self.status = status
        self.version = version
        self.uptime = uptime
        self.providers = providers
        self.readyProviders = readyProviders
        self.totalProviders = totalProviders
        self.checks = checks
    }
}

public struct HTTPMetrics: Codable, Sendable, Equatable {
    public var requestsTotal: Int
    public var inFlight: Int
    public var streamsOpen: Int

    enum CodingKeys: String, CodingKey {
        case requestsTotal = "requests_total"
        case inFlight = "in_flight"
        case streamsOpen = "streams_open"
    }

    public init(requestsTotal: Int, inFlight: Int, streamsOpen: Int) {
        self.requestsTotal = requestsTotal
        self.inFlight = inFlight
        self.streamsOpen = streamsOpen
    }
}

public struct SandboxMetrics: Codable, Sendable, Equatable {
    public var total: Int
    public var active: Int
    public var byState: [String: Int]
    public var byProvider: [String: Int]
    public var byWorker: [String: Int]

    enum CodingKeys: String, CodingKey {
        case total, active
        case byState = "by_state"
        case byProvider = "by_provider"
        case byWorker = "by_worker"
    }

    public init(total: Int, active: Int, byState: [String: Int], byProvider: [String: Int], byWorker: [String: Int]) {
        self.total = total
        self.active = active
        self.byState = byState
        self.byProvider = byProvider
        self.byWorker = byWorker
    }
}

public struct ProviderMetrics: Codable, Sendable, Equatable {
    public var total: Int
    public var healthy: Int
    public var items: [ProviderHealth]
    public init(total: Int, healthy: Int, items: [ProviderHealth]) {
        self.total = total
        self.healthy = healthy
        self.items = items
    }
}

public struct EventMetrics: Codable, Sendable, Equatable {
    public var subscribers: Int
    public var historySize: Int
    public var eventsTotal: Int
    enum CodingKeys: String, CodingKey {
        case subscribers
        case historySize = "history_size"
        case eventsTotal = "events_total"
    }
    public init(subscribers: Int, historySize: Int, eventsTotal: Int) {
        self.subscribers = subscribers
        self.historySize = historySize
        self.eventsTotal = eventsTotal
    }
}

public struct OperationMetric: Codable, Sendable, Equatable {
    public var operation: String
    public var provider: String
    public var success: Int
    public var failure: Int
    public var latencyCount: Int
    public var latencySumMs: Double
    public var latencyMinMs: Double
    public var latencyMaxMs: Double
    public var lastError: String?
    public var lastAt: String?

    enum CodingKeys: String, CodingKey {
        case operation, provider, success, failure
        case latencyCount = "latency_count"
        case latencySumMs = "latency_sum_ms"
        case latencyMinMs = "latency_min_ms"
        case latencyMaxMs = "latency_max_ms"
        case lastError = "last_error"
        case lastAt = "last_at"
    }

    public init(operation: String, provider: String, success: Int, failure: Int, latencyCount: Int, latencySumMs: Double,
                latencyMinMs: Double, latencyMaxMs: Double, lastError: String?, lastAt: String?) {
        self.operation = operation
        self.provider = provider
        self.success = success
        self.failure = failure
        self.latencyCount = latencyCount
        self.latencySumMs = latencySumMs
        self.latencyMinMs = latencyMinMs
        self.latencyMaxMs = latencyMaxMs
        self.lastError = lastError
        self.lastAt = lastAt
    }
}

public struct MetricsResponse: Codable, Sendable, Equatable {
    public var uptime: String
    /// OS thread count; the name is kept from the original for compatibility.
    public var goroutines: Int
    public var memoryAlloc: Int
    public var memorySys: Int
    public var memoryHeapAlloc: Int
    public var sandboxes: SandboxMetrics
    public var providers: ProviderMetrics
    public var events: EventMetrics
    public var operations: [OperationMetric]
    public var http: HTTPMetrics

    enum CodingKeys: String, CodingKey {
        case uptime, goroutines
        case memoryAlloc = "memory_alloc"
        case memorySys = "memory_sys"
        case memoryHeapAlloc = "memory_heap_alloc"
        case sandboxes, providers, events, operations, http
    }

    public init(uptime: String, goroutines: Int, memoryAlloc: Int, memorySys: Int, memoryHeapAlloc: Int,
                sandboxes: SandboxMetrics, providers: ProviderMetrics, events: EventMetrics, operations: [OperationMetric],
                http: HTTPMetrics) {
        self.uptime = uptime
        self.goroutines = goroutines
        self.memoryAlloc = memoryAlloc
        self.memorySys = memorySys
        self.memoryHeapAlloc = memoryHeapAlloc
        self.sandboxes = sandboxes
        self.providers = providers
        self.events = events
        self.operations = operations
        self.http = http
    }
}

/// One line of `stacyvm routes --json`.
public struct RouteEntry: Codable, Sendable, Equatable {
    public var method: String
    public var path: String
    public var scope: String
    public var operationID: String
    public var authRule: String?

    enum CodingKeys: String, CodingKey {
        case method, path, scope
        case operationID = "operation_id"
        case authRule = "auth_rule"
    }

    public init(method: String, path: String, scope: String, operationID: String, authRule: String? = nil) {
        self.method = method
        self.path = path
        self.scope = scope
        self.operationID = operationID
        self.authRule = authRule
    }
}
