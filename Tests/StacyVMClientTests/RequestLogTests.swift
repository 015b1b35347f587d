import XCTest
import Foundation
import StacyVMClient

/// `--verbose` request logs: redaction (`RequestLog.redact`) and the printed line. No server.
final class RequestLogTests: XCTestCase {
    func testTokenQueryParameterIsRedacted() {
        let url = "http://127.0.0.1:7423/api/v1/sandboxes/sb-1/preview/8080/?token=s3cret&x=1"
        XCTAssertEqual(RequestLog.redact(url: url).url,
                       "http://127.0.0.1:7423/api/v1/sandboxes/sb-1/preview/8080/?token=[redacted]&x=1")
    }

    func testEveryTokenParameterInAnyPositionAndCase() {
        let url = "http://h/p?a=1&TOKEN=one&b=&token=two&access_token=three&worker_token=four#frag"
        XCTAssertEqual(RequestLog.redact(url: url).url,
                       "http://h/p?a=1&TOKEN=[redacted]&b=&token=[redacted]&access_token=[redacted]&worker_token=[redacted]#frag")
        XCTAssertEqual(RequestLog.redact(url: "http://h/p?%74oken=enc").url, "http://h/p?%74oken=[redacted]")
        XCTAssertEqual(RequestLog.redact(url: "http://h/p?api_key=k&limit=3").url, "http://h/p?api_key=[redacted]&limit=3")
    }

    func testURLsWithoutSecretsAreUnchanged() {
        for url in ["http://127.0.0.1:7423/api/v1/sandboxes", "http://h/api/v1/sandboxes?limit=3&cursor=djE6c2ItMQ",
                    "http://h/p?flag&state=running", "http://h/p?", "https://h:8443/a/b#token=frag-not-query", ""] {
            XCTAssertEqual(RequestLog.redact(url: url).url, url)
        }
    }

    func testURLPasswordIsRedacted() {
        XCTAssertEqual(RequestLog.redact(url: "http://alice:pw@h:7423/api/v1/health").url,
                       "http://alice:[redacted]@h:7423/api/v1/health")
        XCTAssertEqual(RequestLog.redact(url: "http://alice@h/api/v1/health").url, "http://alice@h/api/v1/health")
    }

    func testSecretHeadersAreRedactedOthersKept() {
        let headers = [("X-API-Key", "key-1"), ("X-Admin-API-Key", "admin-2"), ("Authorization", "Bearer tok-3"),
                       ("x-api-key", "key-4"), ("X-User-ID", "alice"), ("X-Tenant-ID", "acme")]
        let redacted = RequestLog.redact(url: "http://h/", headers: headers).headers
        XCTAssertEqual(redacted.map(\.name), headers.map(\.0))
        XCTAssertEqual(redacted.map(\.value), ["[redacted]", "[redacted]", "[redacted]", "[redacted]", "alice", "acme"])
    }

    func testLogIsRedactedOnCreationAndLineHasMethodURLStatusAndDuration() {
        let log = RequestLog(method: "GET", url: "http://h:7423/api/v1/sandboxes?limit=3&token=zz-secret",
                             headers: [("X-API-Key", "zz-key"), ("X-User-ID", "alice")], status: 200, durationMS: 4)
        XCTAssertEqual(log.url, "http://h:7423/api/v1/sandboxes?limit=3&token=[redacted]")
        XCTAssertEqual(log.line,
                       "GET http://h:7423/api/v1/sandboxes?limit=3&token=[redacted] -> 200 (4 ms) X-API-Key: [redacted]; X-User-ID: alice")
        XCTAssertFalse(log.line.contains("zz-"))
    }

    func testLineForAStreamAndForAFailure() {
        let stream = RequestLog(method: "POST", url: "http://h/api/v1/sandboxes/sb-1/exec", status: 200, durationMS: 12,
                                stream: true)
        XCTAssertEqual(stream.line, "POST http://h/api/v1/sandboxes/sb-1/exec -> 200 (12 ms, stream head)")
        let failed = RequestLog(method: "GET", url: "http://h/api/v1/health", status: 0, durationMS: 1,
                                error: "CONNECTION_ERROR")
        XCTAssertEqual(failed.line, "GET http://h/api/v1/health -> CONNECTION_ERROR (1 ms)")
    }

    /// The hook fires, redacted, even when nothing answers (a closed port: no server needed).
    func testClientReportsAFailedRequestRedacted() async {
        let logs = LogBox()
        let client = StacyVMClient(baseURL: "http://127.0.0.1:1", apiKey: "zz-api-key", adminKey: "zz-admin-key",
                                   userID: "alice", timeout: 5, onRequest: { logs.append($0) })
        do {
            _ = try await client.getHealth()
            XCTFail("expected a connection error")
        } catch {
            XCTAssertEqual(error.code, "CONNECTION_ERROR")
        }
        let recorded = logs.all
        XCTAssertEqual(recorded.count, 1)
        XCTAssertEqual(recorded.first?.method, "GET")
        XCTAssertEqual(recorded.first?.url, "http://127.0.0.1:1/api/v1/health")
        XCTAssertEqual(recorded.first?.status, 0)
        XCTAssertEqual(recorded.first?.error, "CONNECTION_ERROR")
        XCTAssertEqual(recorded.first?.headers.map(\.value), ["[redacted]", "[redacted]", "alice"])
        XCTAssertFalse(recorded.first?.line.contains("zz-") ?? true)
    }
}

private final class LogBox: @unchecked Sendable {
    private let lock = NSLock()
    private var logs: [RequestLog] = []
    func append(_ log: RequestLog) { lock.withLock { logs.append(log) } }
    var all: [RequestLog] { lock.withLock { logs } }
}
