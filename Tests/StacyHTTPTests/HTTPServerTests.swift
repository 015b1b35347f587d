import XCTest
import Synchronization
import StacyJSON
import StacyTestSupport
@testable import StacyHTTP

private struct Greeting: Codable { var name: String; var count: Int }

/// Facts the test routes record, so tests can see what the server did on its side.
private final class Observations: Sendable {
    let producerStopped = Atomic<Int>(0)
    let slowCancelled = Atomic<Int>(0)
}

private func envelope(_ response: RawResponse) throws -> ErrorEnvelope {
    try JanssonDecoder().decode(ErrorEnvelope.self, from: response.body)
}

final class HTTPServerTests: XCTestCase {
    private var server: HTTPServer!
    private var port: UInt16 = 0
    private let observations = Observations()
    private var logPipe: [Int32] = [-1, -1]

    override func setUp() {
        super.setUp()
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        // Both ends non-blocking: tests that do not read the log must not stall the server
        // once the pipe is full.
        fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        logPipe = fds
        server = makeServer(log: Log(level: .info, format: .json, fd: fds[1]))
        XCTAssertNoThrow(try server.start())
        port = server.port
        XCTAssertNotEqual(port, 0)
    }

    override func tearDown() {
        server.stop(timeoutSeconds: 2)
        close(logPipe[0]); close(logPipe[1])
        super.tearDown()
    }

    private func makeServer(log: Log) -> HTTPServer {
        let seen = observations
        var router = Router()
        func add(_ method: String, _ path: String, limit: Int? = nil, _ handler: RouteHandler) {
            router.add(Route(RouteInfo(method: method, path: path, operationID: path, scope: "public"), maxBodyBytes: limit, handler: handler))
        }
        add("GET", "/items/{id}", .sync { request in .json(["id": request.pathParameter("id")]) })
        add("POST", "/echo", .sync { request in .json(try request.decodeJSON(Greeting.self), status: 201) })
        add("POST", "/small", limit: 16, .sync { request in .json(["bytes": request.body.count]) })
        add("GET", "/search", .sync { request in .json(["q": try request.queryValue("q") ?? "-"]) })
        add("GET", "/fail", .sync { _ in throw CancellationError() })
        add("GET", "/slow", .async { _ in
            do { try await Task.sleep(nanoseconds: 300_000_000) } catch { seen.slowCancelled.add(1, ordering: .relaxed) }
            return .json(["done": true])
        })
        add("GET", "/hang", .async { _ in
            do { try await Task.sleep(nanoseconds: 60_000_000_000) } catch { seen.slowCancelled.add(1, ordering: .relaxed) }
            return .json(["done": true])
        })
        add("GET", "/stream", .sync { _ in
            .stream(contentType: "application/x-ndjson") { writer in
                for i in 0..<5 {
                    await writer.write("{\"line\":\(i)}\n")
                    try? await Task.sleep(nanoseconds: 20_000_000)
                }
            }
        })
        add("GET", "/forever", .sync { _ in
            .stream(contentType: "application/x-ndjson", shutdownTrailer: Array("{\"stream\":\"exit\",\"error\":\"UNAVAILABLE\"}\n".utf8)) { writer in
                await writer.write("{\"line\":\"first\"}\n")
                while writer.isOpen && !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 50_000_000)
                }
                seen.producerStopped.add(1, ordering: .relaxed)
            }
        })
        var config = HTTPServerConfig()
        config.port = 0
        config.maxBodyBytes = 1024
        config.log = log
        return HTTPServer(config: config, router: router)
    }

    // MARK: routing and the envelope

    func testJSONRouteAndParameter() throws {
        let response = try rawRequest(port: port, path: "/items/a%2Fb")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "application/json")
        XCTAssertEqual(response.text, #"{"id":"a/b"}"#)
    }

    func testUnknownRouteAndWrongMethodGetTheEnvelope() throws {
        let missing = try rawRequest(port: port, path: "/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(try envelope(missing), ErrorEnvelope(code: "NOT_FOUND", message: "route not found"))
        let wrong = try rawRequest(port: port, method: "DELETE", path: "/items/1")
        XCTAssertEqual(wrong.status, 405)
        XCTAssertEqual(try envelope(wrong).code, "METHOD_NOT_ALLOWED")
        XCTAssertEqual(wrong.header("Allow"), "GET, HEAD")
    }

    func testRequestIDIsEchoedOrGenerated() throws {
        let echoed = try rawRequest(port: port, path: "/items/1", headers: [("x-request-id", "trace-42")])
        XCTAssertEqual(echoed.header("X-Request-ID"), "trace-42")
        let replaced = try rawRequest(port: port, path: "/items/1", headers: [("X-Request-ID", "bad value!")])
        XCTAssertEqual(replaced.header("X-Request-ID")?.count, 36)
        let generated = try rawRequest(port: port, path: "/nope")
        XCTAssertEqual(generated.header("X-Request-ID")?.count, 36, "errors carry a request ID too")
    }

    func testUnexpectedHandlerErrorsAre500WithoutDetail() throws {
        let response = try rawRequest(port: port, path: "/fail")
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(try envelope(response), ErrorEnvelope(code: "INTERNAL_ERROR", message: "internal error"))
    }

    // MARK: bodies

    func testJSONBodyDecodes() throws {
        let response = try rawRequest(port: port, method: "POST", path: "/echo", json: #"{"name":"ö/x","count":2,"extra":1}"#)
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.text, #"{"name":"ö/x","count":2}"#)
    }

    func testMalformedAndTruncatedJSONAre400() throws {
        for body in [#"{"name":"x","count":}"#, #"{"name":"x","#, #"{"name":"x","count":1,"count":2}"#,
                     #"{"name":"x","count":99999999999999999999999}"#, #"{"name":5,"count":1}"#] {
            let response = try rawRequest(port: port, method: "POST", path: "/echo", json: body)
            XCTAssertEqual(response.status, 400, body)
            XCTAssertEqual(try envelope(response).code, "BAD_REQUEST", body)
        }
        let typed = try rawRequest(port: port, method: "POST", path: "/echo", json: #"{"name":5,"count":1}"#)
        XCTAssertEqual(try envelope(typed).message, "field 'name': expected string")
    }

    func testInvalidUTF8InBodyIs400() throws {
        let body: [UInt8] = Array(#"{"name":""#.utf8) + [0xFF, 0xFE] + Array(#"","count":1}"#.utf8)
        let response = try rawRequest(port: port, method: "POST", path: "/echo",
                                      headers: [("Content-Type", "application/json")], body: body)
        XCTAssertEqual(response.status, 400)
    }

    func testEmptyBodyCountsAsEmptyObject() throws {
        let response = try rawRequest(port: port, method: "POST", path: "/echo", body: [])
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(try envelope(response).message, "missing field 'name'")
    }

    func testContentTypeRules() throws {
        let json = Array(#"{"name":"x","count":1}"#.utf8)
        let plain = try rawRequest(port: port, method: "POST", path: "/echo", headers: [("Content-Type", "text/plain")], body: json)
        XCTAssertEqual(plain.status, 415)
        XCTAssertEqual(try envelope(plain).code, "UNSUPPORTED_MEDIA_TYPE")
        let curlStyle = try rawRequest(port: port, method: "POST", path: "/echo",
                                       headers: [("Content-Type", "application/x-www-form-urlencoded")], body: json)
        XCTAssertEqual(curlStyle.status, 201, "curl -d sends JSON form-encoded; accepted without Origin")
        let none = try rawRequest(port: port, method: "POST", path: "/echo", body: json)
        XCTAssertEqual(none.status, 201)
        let browser = try rawRequest(port: port, method: "POST", path: "/echo",
                                     headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.test")], body: json)
        XCTAssertEqual(browser.status, 415)
        let charset = try rawRequest(port: port, method: "POST", path: "/echo",
                                     headers: [("Content-Type", "Application/JSON; charset=utf-8")], body: json)
        XCTAssertEqual(charset.status, 201)
    }

    func testDeclaredBodyOverLimitIs413BeforeUpload() throws {
        let response = try rawRequest(port: port, method: "POST", path: "/echo",
                                      headers: [("Content-Type", "application/json")], body: [UInt8](repeating: 0x20, count: 4096))
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(try envelope(response).code, "PAYLOAD_TOO_LARGE")
        let routeLimit = try rawRequest(port: port, method: "POST", path: "/small", body: [UInt8](repeating: 0x20, count: 17))
        XCTAssertEqual(routeLimit.status, 413)
        let withinRouteLimit = try rawRequest(port: port, method: "POST", path: "/small", body: [UInt8](repeating: 0x20, count: 16))
        XCTAssertEqual(withinRouteLimit.text, #"{"bytes":16}"#)
    }

    func testChunkedBodyOverLimitIs413() throws {
        let connection = try RawConnection(port: port)
        var request = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        for _ in 0..<8 { request += "200\r\n" + String(repeating: " ", count: 512) + "\r\n" }
        request += "0\r\n\r\n"
        connection.send(request)
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(try envelope(response).code, "PAYLOAD_TOO_LARGE")
    }

    // MARK: query strings, paths, headers

    func testQueryStringsAreFormDecoded() throws {
        XCTAssertEqual(try rawRequest(port: port, path: "/search?q=a+b%2Fc%2B").text, #"{"q":"a b/c+"}"#)
        XCTAssertEqual(try rawRequest(port: port, path: "/search?other=1").text, #"{"q":"-"}"#)
        let duplicate = try rawRequest(port: port, path: "/search?q=1&q=2")
        XCTAssertEqual(duplicate.status, 400)
        XCTAssertTrue(try envelope(duplicate).message.contains("more than once"))
        let badEscape = try rawRequest(port: port, path: "/search?q=%E9")
        XCTAssertEqual(badEscape.status, 400)
    }

    func testInvalidUTF8InPathIs400() throws {
        let escaped = try rawRequest(port: port, path: "/items/%FF%FE")
        XCTAssertEqual(escaped.status, 400)
        XCTAssertEqual(try envelope(escaped).code, "BAD_REQUEST")
        let connection = try RawConnection(port: port)
        connection.send(Array("GET /items/".utf8) + [0xC3, 0x28] + Array(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        let raw = try connection.readResponse()
        XCTAssertTrue((400..<500).contains(raw.status), "got \(raw.status)")
    }

    func testVeryLongPathsAndHeadersGet4xxAndServerStaysUp() throws {
        let longPath = try rawRequest(port: port, path: "/items/" + String(repeating: "a", count: 20_000))
        XCTAssertEqual(longPath.status, 200, "a long parameter within the header budget still routes")
        let longUnknown = try rawRequest(port: port, path: "/" + String(repeating: "x", count: 20_000))
        XCTAssertEqual(longUnknown.status, 404)
        XCTAssertEqual(try envelope(longUnknown).code, "NOT_FOUND")
        let hugeHeader = try rawRequest(port: port, path: "/items/1", headers: [("X-Big", String(repeating: "b", count: 200_000))])
        XCTAssertTrue((400..<500).contains(hugeHeader.status), "got \(hugeHeader.status)")
        let hugePath = try rawRequest(port: port, path: "/" + String(repeating: "y", count: 200_000))
        XCTAssertTrue((400..<500).contains(hugePath.status), "got \(hugePath.status)")
        XCTAssertEqual(try rawRequest(port: port, path: "/items/ok").status, 200, "server still answers")
    }

    func testHeadRequestHasNoBody() throws {
        let response = try rawRequest(port: port, method: "HEAD", path: "/items/1")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, [])
    }

    // MARK: async handlers and streams

    func testAsyncHandlerAnswers() throws {
        XCTAssertEqual(try rawRequest(port: port, path: "/slow").text, #"{"done":true}"#)
    }

    func testNDJSONStreamArrivesInOrderAndEndsCleanly() throws {
        let connection = try RawConnection(port: port)
        connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        let (status, headers) = try connection.readHead()
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers.first { $0.0.lowercased() == "transfer-encoding" }?.1, "chunked")
        var text = ""
        while let chunk = try connection.readChunk() { text += String(decoding: chunk, as: UTF8.self) }
        XCTAssertEqual(text, (0..<5).map { "{\"line\":\($0)}\n" }.joined())
        // Keep-alive: the same connection serves the next request.
        connection.send("GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().text, #"{"id":"2"}"#)
    }

    /// Many idle streams and many in-flight async handlers must not take the server's two
    /// threads: plain requests keep being answered.
    func testOpenStreamsAndSlowHandlersDoNotBlockPlainRequests() throws {
        var streams: [RawConnection] = []
        for _ in 0..<150 {
            let connection = try RawConnection(port: port)
            connection.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            streams.append(connection)
        }
        var hanging: [RawConnection] = []
        for _ in 0..<20 {
            let connection = try RawConnection(port: port)
            connection.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            hanging.append(connection)
        }
        for connection in streams.prefix(10) {
            XCTAssertEqual(try connection.readHead().0, 200)
        }
        for i in 0..<50 {
            XCTAssertEqual(try rawRequest(port: port, path: "/items/\(i)").status, 200)
        }
        XCTAssertGreaterThanOrEqual(server.stats.streamsOpen.load(ordering: .relaxed), 10)
    }

    func testClientDisconnectStopsProducerAndCancelsHandler() throws {
        do {
            let connection = try RawConnection(port: port)
            connection.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(try connection.readHead().0, 200)
            _ = try connection.readChunk()
            let hanging = try RawConnection(port: port)
            hanging.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            usleep(200_000)
        }  // both sockets close here
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && (observations.producerStopped.load(ordering: .relaxed) < 1
                                    || observations.slowCancelled.load(ordering: .relaxed) < 1) {
            usleep(50_000)
        }
        XCTAssertEqual(observations.producerStopped.load(ordering: .relaxed), 1, "stream producer noticed the disconnect")
        XCTAssertEqual(observations.slowCancelled.load(ordering: .relaxed), 1, "async handler was cancelled")
    }

    func testGracefulStopFinishesStreamsAndRefusesNewConnections() throws {
        let connection = try RawConnection(port: port)
        connection.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try connection.readHead().0, 200)
        XCTAssertEqual(try connection.readChunk().map { String(decoding: $0, as: UTF8.self) }, "{\"line\":\"first\"}\n")
        let started = Date()
        server.stop(timeoutSeconds: 5)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "streams end promptly, not at the deadline")
        var rest = ""
        while let chunk = try connection.readChunk() { rest += String(decoding: chunk, as: UTF8.self) }
        XCTAssertEqual(rest, "{\"stream\":\"exit\",\"error\":\"UNAVAILABLE\"}\n", "the stream got its trailer and a clean end")
        XCTAssertThrowsError(try RawConnection(port: port), "new connections are refused after stop")
    }

    func testAccessLogIsOneJSONLinePerRequest() throws {
        _ = try rawRequest(port: port, path: "/items/7", headers: [("X-Request-ID", "log-check-1")])
        usleep(100_000)
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = read(logPipe[0], &buffer, buffer.count)
        XCTAssertGreaterThan(count, 0)
        let lines = String(decoding: buffer[0..<max(0, count)], as: UTF8.self).split(separator: "\n")
        let line = try XCTUnwrap(lines.first { $0.contains("log-check-1") })
        let entry = try JanssonDecoder().decode(JSONValue.self, from: Array(line.utf8))
        XCTAssertEqual(entry["msg"], .string("request"))
        XCTAssertEqual(entry["status"], .int(200))
        XCTAssertEqual(entry["route"], .string("/items/{id}"))
        XCTAssertEqual(entry["method"], .string("GET"))
        XCTAssertEqual(entry["path"], .string("/items/7"))
    }
}
