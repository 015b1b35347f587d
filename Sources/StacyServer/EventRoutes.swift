import StacyAPI
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyStore
import Synchronization

/// api.md §12: Server-Sent Events with ids, `Last-Event-ID` replay, keep-alives and per-caller
/// filtering.
enum EventRoutes {
    static let events = RouteInfo(method: "GET", path: "/api/v1/events", operationID: "streamEvents", scope: "read:*")
    static let all = [events]

    struct Filter: Sendable {
        let principal: Principal
        let sandboxID: String?
        let types: [String]

        func accepts(_ event: EventRecord) -> Bool {
            if let sandboxID, event.sandboxID != sandboxID { return false }
            if !types.isEmpty && !types.contains(where: { pattern in
                pattern.hasSuffix("*") ? event.type.hasPrefix(String(pattern.dropLast())) : event.type == pattern
            }) { return false }
            // Worker and control-plane events are operators' business; the rest follows §3.4.
            if event.type.hasPrefix("worker.") || event.type.hasPrefix("control_plane.") {
                return principal.has("operator:*")
            }
            return principal.canSee(ownerID: event.ownerID, tenantID: event.tenantID)
        }
    }

    static func routes(_ manager: SandboxManager, auth: Authenticator, hub: EventHub, store: any Store, keepalive: UInt64) -> [Route] {
        [
            Route(events, handler: .sync { request in
                let caller = try auth.authorize(request, events)
                let filter = Filter(principal: caller, sandboxID: try request.queryValue("sandbox_id"),
                                    types: (try request.queryValue("types") ?? "").split(separator: ",")
                                        .map { String($0).trimmingCharacters() }.filter { !$0.isEmpty })
                let named = SandboxRoutes.flag(try request.queryValue("named"))
                let resumeFrom = try parseEventID(request.header("Last-Event-ID") ?? request.queryValue("last_event_id"))
                var response = HTTPResponse.stream(contentType: "text/event-stream") { writer in
                    await stream(writer, filter: filter, named: named, after: resumeFrom, hub: hub, store: store, keepalive: keepalive)
                }
                response.headers.append(("X-Accel-Buffering", "no"))
                return response
            }),
        ]
    }

    /// `42` or `evt-42`; anything else is a 400.
    static func parseEventID(_ raw: String?) throws(APIError) -> Int64? {
        guard let raw, !raw.isEmpty else { return nil }
        let digits = raw.hasPrefix("evt-") ? String(raw.dropFirst(4)) : raw
        guard let value = Int64(digits), value >= 0 else { throw .badRequest("invalid event ID '\(raw)'") }
        return value
    }

    private static func stream(_ writer: StreamWriter, filter: Filter, named: Bool, after: Int64?, hub: EventHub,
                               store: any Store, keepalive: UInt64) async {
        // Subscribe before replaying, so nothing stored during the replay is missed; the live
        // feed then skips what the replay already sent.
        let live = hub.subscribe(accepts: filter.accepts)
        guard await writer.write("retry: 3000\n\n") else { return }
        let pinger = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: keepalive)
                guard await writer.write(": ping\n\n") else { return }
            }
        }
        defer { pinger.cancel() }

        var lastSent = after ?? Int64.max
        if let after {
            if let earliest = try? store.earliestEventSeq(), earliest > after + 1 {
                let gap = #"{"id":"evt-\#(earliest - 1)","type":"events.gap","timestamp":"\#(Log.timestamp())","data":{"requested":"evt-\#(after)","earliest":"evt-\#(earliest)"}}"#
                guard await writer.write("data: \(gap)\n\n") else { return }
            }
            lastSent = after
            while true {
                guard let page = try? store.listEvents(afterSeq: lastSent, limit: 500), !page.isEmpty else { break }
                for event in page {
                    lastSent = event.seq
                    if filter.accepts(event), !(await writer.write(frame(event, named: named))) { return }
                }
                if page.count < 500 { break }
            }
        } else {
            // No replay requested: live events from now on.
            lastSent = (try? store.latestEventSeq()) ?? 0
        }
        for await message in live {
            switch message {
            case .event(let event):
                guard event.seq > lastSent else { continue }
                lastSent = event.seq
                guard await writer.write(frame(event, named: named)) else { return }
            case .overflow:
                await writer.write(": overflow\n\n")
                return
            }
        }
    }

    struct Wire: Encodable {
        let id: String
        let type: String
        let sandboxID: String?
        let workerID: String?
        let timestamp: String
        let data: JSONValue?
        enum CodingKeys: String, CodingKey {
            case id, type
            case sandboxID = "sandbox_id"
            case workerID = "worker_id"
            case timestamp, data
        }
    }

    static func frame(_ event: EventRecord, named: Bool) -> String {
        let data = try? JanssonDecoder().decode(JSONValue.self, from: Array(event.dataJSON.utf8))
        let wire = Wire(id: "evt-\(event.seq)", type: event.type, sandboxID: event.sandboxID, workerID: event.workerID,
                        timestamp: Log.timestamp(unixMillis: event.createdAt),
                        data: data == .object([]) ? nil : data)
        let json = (try? JanssonEncoder().encode(wire)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "id: \(event.seq)\n" + (named ? "event: \(event.type)\n" : "") + "data: \(json)\n\n"
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
