import StacyAPI
import StacyHTTP

/// `GET /metrics/prometheus` (api.md §13): text format 0.0.4, every family with HELP and TYPE,
/// counters typed `counter`, everything else `gauge`, all prefixed `stacyvm_`.
enum PrometheusText {
    static func render(_ state: SystemState, _ snapshot: MetricsSnapshot) -> String {
        var out = ""
        let process = ProcessStats.current()
        family(&out, "stacyvm_uptime_seconds", "gauge", "Seconds since the server started.",
               [([], Double(state.uptime.nanoseconds) / 1e9)])
        family(&out, "stacyvm_runtime_threads", "gauge", "OS threads of the server process.",
               [([], Double(process.threads))])
        family(&out, "stacyvm_runtime_memory_rss_bytes", "gauge", "Resident set size of the server process.",
               [([], Double(process.residentBytes))])

        family(&out, "stacyvm_sandboxes_total", "gauge", "Sandboxes in the store, by state.",
               snapshot.sandboxes.byState.sorted { $0.key < $1.key }.map { ([("state", $0.key)], Double($0.value)) })
        family(&out, "stacyvm_sandboxes_by_provider_total", "gauge", "Sandboxes not destroyed, by provider.",
               snapshot.sandboxes.byProvider.sorted { $0.key < $1.key }.map { ([("provider", $0.key)], Double($0.value)) })
        family(&out, "stacyvm_sandboxes_by_worker_total", "gauge", "Sandboxes not destroyed, by worker.",
               snapshot.sandboxes.byWorker.sorted { $0.key < $1.key }.map { ([("worker", $0.key)], Double($0.value)) })
        let defaultProvider = state.manager.registry.defaultName
        family(&out, "stacyvm_provider_healthy", "gauge", "1 when the provider's health check passes.",
               snapshot.providers.items.map { ([("provider", $0.name), ("default", String($0.name == defaultProvider))], $0.healthy ? 1 : 0) })
        family(&out, "stacyvm_provider_health_latency_milliseconds", "gauge", "Duration of the last provider health check.",
               snapshot.providers.items.map { ([("provider", $0.name)], Double($0.latencyMs ?? 0)) })
        let queue = state.manager.spawnQueue
        family(&out, "stacyvm_spawn_queue_depth", "gauge", "Spawns waiting for capacity.", [([], Double(queue.depth))])
        family(&out, "stacyvm_spawn_queue_capacity", "gauge", "Most spawns that may wait.", [([], Double(queue.capacity))])
        family(&out, "stacyvm_spawn_queue_enqueued_total", "counter", "Spawns that waited.", [([], Double(queue.enqueued.load(ordering: .relaxed)))])
        family(&out, "stacyvm_spawn_queue_timeout_total", "counter", "Spawns whose wait timed out.", [([], Double(queue.timedOut.load(ordering: .relaxed)))])
        family(&out, "stacyvm_event_subscribers", "gauge", "Open event streams.", [([], Double(snapshot.events.subscribers))])
        family(&out, "stacyvm_event_history_size", "gauge", "Stored events.", [([], Double(snapshot.events.historySize))])
        family(&out, "stacyvm_events_total", "counter", "Events published since start.", [([], Double(snapshot.events.eventsTotal))])
        let ops = snapshot.operations
        let opLabels: (OperationMetric) -> [(String, String)] = { [("operation", $0.operation), ("provider", $0.provider)] }
        family(&out, "stacyvm_operation_success_total", "counter", "Successful operations.", ops.map { (opLabels($0), Double($0.success)) })
        family(&out, "stacyvm_operation_failure_total", "counter", "Failed operations.", ops.map { (opLabels($0), Double($0.failure)) })
        family(&out, "stacyvm_operation_latency_milliseconds_sum", "counter", "Total operation time.", ops.map { (opLabels($0), $0.latencySumMs) })
        family(&out, "stacyvm_operation_latency_milliseconds_count", "counter", "Operations timed.", ops.map { (opLabels($0), Double($0.latencyCount)) })
        family(&out, "stacyvm_operation_latency_milliseconds_max", "gauge", "Slowest operation.", ops.map { (opLabels($0), $0.latencyMaxMs) })

        let counters = state.httpStats.routeCounters()
        family(&out, "stacyvm_http_requests_total", "counter", "HTTP requests answered, by route template, method and status.",
               counters.map { ([("route", $0.0.route), ("method", $0.0.method), ("code", String($0.0.status))], Double($0.1.count)) })
        // Durations are per route and method; sum the status codes together.
        var durations: [String: (route: String, method: String, sum: Double, count: Int)] = [:]
        for (key, counter) in counters {
            let id = key.method + " " + key.route
            var entry = durations[id] ?? (key.route, key.method, 0, 0)
            entry.sum += counter.durationSumMs
            entry.count += counter.count
            durations[id] = entry
        }
        let ordered = durations.values.sorted { ($0.route, $0.method) < ($1.route, $1.method) }
        family(&out, "stacyvm_http_request_duration_milliseconds_sum", "counter", "Total time spent answering HTTP requests.",
               ordered.map { ([("route", $0.route), ("method", $0.method)], $0.sum) })
        family(&out, "stacyvm_http_request_duration_milliseconds_count", "counter", "HTTP requests timed.",
               ordered.map { ([("route", $0.route), ("method", $0.method)], Double($0.count)) })
        return out
    }

    private static func family(_ out: inout String, _ name: String, _ type: String, _ help: String,
                               _ samples: [([(String, String)], Double)]) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for (labels, value) in samples {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " " + format(value) + "\n"
        }
    }

    private static func escape(_ value: String) -> String {
        var escaped = ""
        for ch in value {
            switch ch {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(ch)
            }
        }
        return escaped
    }

    private static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
