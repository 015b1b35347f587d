import XCTest
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// Stage 2 of the sandbox API: durable events and SSE replay, the reaper, log following,
/// metrics and the batched writer.
final class EventsAndReaperTests: XCTestCase {
    private var harness: ServerHarness!
    private var store: SQLiteStore { harness.store }
    private var controlPlane: ControlPlane { harness.controlPlane }
    private var port: UInt16 { harness.port }
    private var directory: String { harness.directory }

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_LIMITS_STREAM_KEEPALIVE": "200ms", "STACYVM_DEFAULTS_REAPER_INTERVAL": "1h"])
    }

    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, json: String? = nil, user: String? = nil) throws -> RawResponse {
        let headers = user.map { [("X-User-ID", $0)] } ?? []
        if let json { return try rawRequest(port: port, method: method, path: path, headers: headers, json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: headers)
    }

    private func spawn(_ json: String = "{}", user: String? = nil) throws -> Sandbox {
        let response = try call("POST", "/api/v1/sandboxes", json: json, user: user)
        XCTAssertEqual(response.status, 201, response.text)
        return try JanssonDecoder().decode(Sandbox.self, from: response.body)
    }

    private func flush() async { await controlPlane.manager.writer.flush() }

    private struct WireEvent: Decodable {
        let id: String
        let type: String
        let sandbox_id: String?
        let timestamp: String
        let data: JSONValue?
    }

    /// Opens an SSE stream and reads `count` events (or until `timeout`).
    private func readEvents(_ query: String, user: String? = nil, headers: [(String, String)] = [], count: Int,
                            timeout: Int = 5) throws -> (events: [WireEvent], raw: String) {
        let connection = try RawConnection(port: port, timeoutSeconds: timeout)
        var head = "GET /api/v1/events\(query) HTTP/1.1\r\nHost: x\r\n"
        if let user { head += "X-User-ID: \(user)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        connection.send(head + "\r\n")
        let (status, responseHeaders) = try connection.readHead()
        XCTAssertEqual(status, 200)
        XCTAssertEqual(responseHeaders.first { $0.0.lowercased() == "content-type" }?.1, "text/event-stream")
        var raw = ""
        var events: [WireEvent] = []
        while events.count < count, let chunk = try? connection.readChunk() {
            raw += String(decoding: chunk, as: UTF8.self)
            events = raw.split(separator: "\n").filter { $0.hasPrefix("data: ") }
                .compactMap { try? JanssonDecoder().decode(WireEvent.self, from: Array($0.dropFirst(6).utf8)) }
        }
        return (events, raw)
    }

    func testLifecycleEventsAreStoredAndReplayedInOrder() async throws {
        let sandbox = try spawn()
        _ = try call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec", json: #"{"command":"echo hi"}"#)
        _ = try call("POST", "/api/v1/sandboxes/\(sandbox.id)/files", json: #"{"path":"a.txt","content":"x"}"#)
        _ = try call("DELETE", "/api/v1/sandboxes/\(sandbox.id)")
        await flush()
        let (events, raw) = try readEvents("?last_event_id=0&sandbox_id=\(sandbox.id)", count: 6)
        XCTAssertTrue(raw.hasPrefix("retry: 3000\n\n"), raw)
        XCTAssertEqual(events.map(\.type), ["sandbox.created", "sandbox.running", "exec.started", "exec.completed",
                                            "file.written", "sandbox.destroyed"])
        XCTAssertEqual(events.first?.sandbox_id, sandbox.id)
        let seqs = events.map { Int($0.id.dropFirst(4))! }
        XCTAssertEqual(seqs, seqs.sorted())
        XCTAssertTrue(raw.contains("id: \(seqs[0])\ndata: "), "SSE id line carries the sequence number")
        XCTAssertEqual(events[3].data?["exit_code"], .string("0"))

        // Last-Event-ID resumes after the given event, in either form.
        let resumed = try readEvents("?sandbox_id=\(sandbox.id)", headers: [("Last-Event-ID", "evt-\(seqs[3])")], count: 2)
        XCTAssertEqual(resumed.events.map(\.type), ["file.written", "sandbox.destroyed"])

        let logs = try store.listExecLogs(sandboxID: sandbox.id, limit: 10)
        XCTAssertEqual(logs.count, 1, "the exec log went through the batched writer")
        XCTAssertEqual(logs.first?.stdout, "hi\n")
        XCTAssertEqual(logs.first?.exitCode, 0)
    }

    func testLiveEventsTypeFilterAndNamedEvents() async throws {
        let connection = try RawConnection(port: port)
        connection.send("GET /api/v1/events?types=sandbox.*&named=true HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try connection.readHead().0, 200)
        // The first chunk ("retry: 3000") means the server has subscribed: later events are live.
        XCTAssertEqual(try connection.readChunk().map { String(decoding: $0, as: UTF8.self) }, "retry: 3000\n\n")
        let sandbox = try spawn()
        _ = try call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec", json: #"{"command":"true"}"#)
        _ = try call("DELETE", "/api/v1/sandboxes/\(sandbox.id)")
        var raw = ""
        while !raw.contains("sandbox.destroyed"), let chunk = try? connection.readChunk() {
            raw += String(decoding: chunk, as: UTF8.self)
        }
        let types = raw.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        XCTAssertEqual(types, ["sandbox.created", "sandbox.running", "sandbox.destroyed"], "exec.* is filtered out")
    }

    func testOwnersOnlySeeTheirOwnEvents() async throws {
        let alice = try spawn(user: "alice")
        let bob = try spawn(user: "bob")
        await flush()
        let seenByBob = try readEvents("?last_event_id=0", user: "bob", count: 2, timeout: 2)
        XCTAssertEqual(Set(seenByBob.events.compactMap(\.sandbox_id)), [bob.id])
        let seenByOperator = try readEvents("?last_event_id=0", count: 4)
        XCTAssertEqual(Set(seenByOperator.events.compactMap(\.sandbox_id)), [alice.id, bob.id])
    }

    func testReplayFromBeforeRetentionStartsWithAGap() async throws {
        _ = try spawn()
        _ = try spawn()
        await flush()
        let latest = try XCTUnwrap(try store.latestEventSeq())
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 0, maxRows: 1), Int(latest) - 1)
        let (events, _) = try readEvents("?last_event_id=evt-0", count: 2)
        XCTAssertEqual(events.first?.type, "events.gap")
        XCTAssertEqual(events.first?.data?["requested"], .string("evt-0"))
        XCTAssertEqual(events.first?.data?["earliest"], .string("evt-\(latest)"))
        XCTAssertEqual(events.last?.id, "evt-\(latest)")
        XCTAssertEqual(try call("GET", "/api/v1/events?last_event_id=yesterday").status, 400)
    }

    func testKeepAlivePingsWhenIdle() throws {
        let connection = try RawConnection(port: port, timeoutSeconds: 3)
        connection.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try connection.readHead()
        var raw = ""
        while !raw.contains(": ping"), let chunk = try? connection.readChunk() { raw += String(decoding: chunk, as: UTF8.self) }
        XCTAssertTrue(raw.contains(": ping\n\n"), raw)
    }

    func testHubCutsOffASubscriberThatFallsBehind() async {
        let hub = EventHub(subscriberBuffer: 3)
        let stream = hub.subscribe { _ in true }
        hub.deliver((1...10).map { EventRecord(seq: Int64($0), type: "test") })
        var received: [EventHub.Message] = []
        for await message in stream { received.append(message) }
        XCTAssertEqual(received.last, .overflow)
        XCTAssertEqual(received.count, 5, "buffer + 1 events, then the overflow marker")
        XCTAssertEqual(hub.subscriberCount, 0)
    }

    func testReaperExpiresAndDestroysPastTTL() async throws {
        let doomed = try spawn(#"{"ttl":"1ms"}"#)
        let kept = try spawn(#"{"ttl":"1h"}"#)
        try await Task.sleep(nanoseconds: 20_000_000)
        let reaper = Reaper(manager: controlPlane.manager, settings: Reaper.Settings())
        let destroyed = await reaper.pass()
        XCTAssertEqual(destroyed, 1)
        XCTAssertEqual(try store.getSandbox(doomed.id)?.state, "destroyed")
        XCTAssertEqual(try store.getSandbox(doomed.id)?.stateReason, "expired")
        XCTAssertEqual(try store.getSandbox(kept.id)?.state, "running")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/stacyvm-\(doomed.id)"), "runtime removed")
        await flush()
        let (events, _) = try readEvents("?last_event_id=0&sandbox_id=\(doomed.id)&types=sandbox.expired,sandbox.destroyed", count: 2)
        XCTAssertEqual(events.map(\.type), ["sandbox.expired", "sandbox.destroyed"])
        let again = await reaper.pass()
        XCTAssertEqual(again, 0, "nothing left to reap")
    }

    func testReaperBackoffIsExponentialAndCapped() {
        XCTAssertEqual(Reaper.backoffMillis(failures: 1), 1000)
        XCTAssertEqual(Reaper.backoffMillis(failures: 4), 8000)
        XCTAssertEqual(Reaper.backoffMillis(failures: 30), 300_000)
    }

    func testFollowLogsStreamsNewLinesAndEndsOnDestroy() async throws {
        let sandbox = try spawn()
        let connection = try RawConnection(port: port)
        connection.send("GET /api/v1/sandboxes/\(sandbox.id)/logs?follow=true&lines=10 HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try connection.readHead().0, 200)
        _ = try call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec", json: #"{"command":"true"}"#)
        _ = try call("DELETE", "/api/v1/sandboxes/\(sandbox.id)")
        var text = ""
        while let chunk = try connection.readChunk() { text += String(decoding: chunk, as: UTF8.self) }
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, #"{"stream":"console","data":"[INFO] mock sandbox \#(sandbox.id) started"}"#)
        XCTAssertTrue(lines.contains(#"{"stream":"console","data":"[EXEC] /bin/sh exit=0"}"#), text)
        XCTAssertTrue(lines.last?.hasPrefix(#"{"stream":"exit","exit_code":0,"duration":"#) ?? false, text)
    }

    func testMetricsReportSandboxesOperationsAndEvents() async throws {
        let sandbox = try spawn()
        _ = try call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec", json: #"{"command":"true"}"#)
        await flush()
        let metrics = try JanssonDecoder().decode(MetricsResponse.self, from: call("GET", "/api/v1/metrics").body)
        XCTAssertEqual(metrics.sandboxes.byState["running"], 1)
        XCTAssertEqual(metrics.sandboxes.byProvider, ["mock": 1])
        XCTAssertEqual(metrics.sandboxes.byWorker, ["local": 1])
        XCTAssertEqual(metrics.providers.items.map(\.name), ["mock"])
        XCTAssertEqual(metrics.providers.healthy, 1)
        XCTAssertGreaterThanOrEqual(metrics.events.historySize, 4)
        let exec = try XCTUnwrap(metrics.operations.first { $0.operation == "exec" })
        XCTAssertEqual(exec.success, 1)
        XCTAssertEqual(metrics.operations.first { $0.operation == "spawn" }?.success, 1)
        let text = try call("GET", "/api/v1/metrics/prometheus").text
        for family in ["stacyvm_sandboxes_total{state=\"running\"} 1", "stacyvm_operation_success_total{operation=\"exec\",provider=\"mock\"} 1",
                       "# TYPE stacyvm_events_total counter", "stacyvm_provider_healthy{provider=\"mock\",default=\"true\"} 1"] {
            XCTAssertTrue(text.contains(family), family)
        }
    }
}
