import XCTest
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// The sandbox API end to end: real HTTP server, real SQLite store, real mock provider (real
/// processes on this host).
final class SandboxAPITests: XCTestCase {
    private var harness: ServerHarness!
    private var store: SQLiteStore { harness.store }
    private var port: UInt16 { harness.port }

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_LIMITS_MAX_EXEC_OUTPUT_BYTES": "4096",
                                                  "STACYVM_DEFAULTS_MAX_EXEC_TIMEOUT": "20s", "STACYVM_DEFAULTS_MAX_TTL": "2h"])
    }

    override func tearDown() { harness?.stop() }

    // MARK: helpers

    private func call(_ method: String, _ path: String, json: String? = nil, user: String? = nil,
                      headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> RawResponse {
        var all = headers
        if let user { all.append(("X-User-ID", user)) }
        if let json { return try rawRequest(port: port, method: method, path: path, headers: all, json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: all, body: body)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: RawResponse) throws -> T {
        try JanssonDecoder().decode(type, from: response.body)
    }

    private func spawn(_ json: String = "{}", user: String? = nil) throws -> Sandbox {
        let response = try call("POST", "/api/v1/sandboxes", json: json, user: user)
        XCTAssertEqual(response.status, 201, response.text)
        return try decode(Sandbox.self, response)
    }

    private func exec(_ id: String, _ json: String, user: String? = nil) throws -> RawResponse {
        try call("POST", "/api/v1/sandboxes/\(id)/exec", json: json, user: user)
    }

    private func code(_ response: RawResponse) -> String {
        (try? JanssonDecoder().decode(ErrorEnvelope.self, from: response.body).code) ?? "<\(response.text)>"
    }

    // MARK: lifecycle

    func testSpawnGetListDestroy() throws {
        let sandbox = try spawn(#"{"image":"python:3.12","ttl":"10m","metadata":{"team":"ml"}}"#)
        XCTAssertTrue(sandbox.id.hasPrefix("sb-") && sandbox.id.count == 27, sandbox.id)
        XCTAssertEqual(sandbox.state, "running")
        XCTAssertEqual(sandbox.provider, "mock")
        XCTAssertEqual(sandbox.image, "python:3.12")
        XCTAssertEqual(sandbox.workerID, "local")
        XCTAssertEqual(sandbox.memoryMB, 512)
        XCTAssertEqual(sandbox.metadata, ["team": "ml"])
        XCTAssertTrue(sandbox.createdAt.hasSuffix("Z") && sandbox.createdAt.count == 24, sandbox.createdAt)

        XCTAssertEqual(try decode(Sandbox.self, call("GET", "/api/v1/sandboxes/\(sandbox.id)")).id, sandbox.id)
        XCTAssertEqual(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes")).map(\.id), [sandbox.id])

        let destroyed = try call("DELETE", "/api/v1/sandboxes/\(sandbox.id)")
        XCTAssertEqual(destroyed.text, #"{"status":"destroyed"}"#)
        XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes/\(sandbox.id)").status, 200, "destroy is idempotent")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(sandbox.id)").status, 404)
        XCTAssertEqual(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes")).count, 0)
        XCTAssertEqual(try exec(sandbox.id, #"{"command":"echo hi"}"#).status, 404, "exec on a destroyed sandbox")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(sandbox.id)/files?path=a").status, 404)
    }

    func testUnknownAndMalformedIDsAre404() throws {
        for id in ["sb-nonexistent", "sb-000000000000000000000000", "not-an-id", "SB-ABC"] {
            let response = try call("GET", "/api/v1/sandboxes/\(id)")
            XCTAssertEqual(response.status, 404, id)
            XCTAssertEqual(code(response), "NOT_FOUND")
            XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes/\(id)").status, 404, id)
        }
    }

    func testSpawnValidationIs400Or429AndCreatesNothing() throws {
        let cases: [(String, Int)] = [
            (#"{"ttl":"0s"}"#, 400), (#"{"ttl":"-5m"}"#, 400), (#"{"ttl":"ten minutes"}"#, 400), (#"{"ttl":"3h"}"#, 429),
            (#"{"memory_mb":8}"#, 400), (#"{"memory_mb":"lots"}"#, 400), (#"{"vcpus":0}"#, 400),
            (#"{"provider":"firecracker"}"#, 400), (#"{"template":"nope"}"#, 400), (#"{"image":"bad image!"}"#, 400),
            (#"{"owner_id":"a b"}"#, 400), (#"{"network":"bridge"}"#, 400), (#"{"metadata":{"k":1}}"#, 400),
            (#"{"ttl":"10m""#, 400), (#"{"memory_mb":99999999999999999999}"#, 400),
        ]
        for (body, status) in cases {
            let response = try call("POST", "/api/v1/sandboxes", json: body)
            XCTAssertEqual(response.status, status, body + " → " + response.text)
        }
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}", user: "bad/owner").status, 400)
        XCTAssertEqual(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes?include_destroyed=true")).count, 0)
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 100)).count, 0, "nothing reached the store")
    }

    func testOwnersAreIsolated() throws {
        let alice = try spawn(user: "alice")
        let bob = try spawn(user: "bob")
        XCTAssertEqual(alice.ownerID, "alice")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(alice.id)", user: "bob").status, 404)
        XCTAssertEqual(try exec(alice.id, #"{"command":"echo x"}"#, user: "bob").status, 404)
        XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes/\(alice.id)", user: "bob").status, 404)
        XCTAssertEqual(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes", user: "alice")).map(\.id), [alice.id])
        XCTAssertEqual(Set(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes")).map(\.id)), [alice.id, bob.id],
                       "the local operator sees everything")
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: #"{"owner_id":"carol"}"#, user: "bob").status, 403)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes?owner_id=alice", user: "bob").status, 403)
    }

    func testExtendSetAddAndMax() throws {
        let sandbox = try spawn(#"{"ttl":"10m"}"#)
        let set = try decode(Sandbox.self, call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{"ttl":"1h"}"#))
        XCTAssertGreaterThan(set.expiresAt, sandbox.expiresAt)
        let added = try decode(Sandbox.self, call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{"ttl":"30m","mode":"add"}"#))
        XCTAssertGreaterThan(added.expiresAt, set.expiresAt)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{"ttl":"1h","mode":"add"}"#).status, 429)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{}"#).status, 400)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{"ttl":"1m","mode":"double"}"#).status, 400)
        // The largest duration, added to an expiry: refused, not an arithmetic overflow.
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(sandbox.id)/extend", json: #"{"ttl":"2562047h","mode":"add"}"#).status, 429)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(sandbox.id)").status, 200, "the server is still up")
    }

    func testPruneDestroysExpiredOnly() throws {
        let short = try spawn(#"{"ttl":"1ms"}"#)
        let long = try spawn(#"{"ttl":"10m"}"#)
        usleep(20_000)
        XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes").text, #"{"pruned":1}"#)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(short.id)").status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(long.id)").status, 200)
    }

    func testStatsLogsAndPool() throws {
        let sandbox = try spawn()
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(sandbox.id)/stats").text, #"{"supported":false}"#)
        _ = try exec(sandbox.id, #"{"command":"true"}"#)
        let logs = try decode([String].self, call("GET", "/api/v1/sandboxes/\(sandbox.id)/logs?lines=10"))
        XCTAssertEqual(logs.first, "[INFO] mock sandbox \(sandbox.id) started")
        XCTAssertEqual(logs.last, "[EXEC] /bin/sh exit=0")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(sandbox.id)/logs?lines=0").status, 400)
        XCTAssertEqual(try call("GET", "/api/v1/pool/status").text, #"{"enabled":false}"#)
    }

    // MARK: exec

    func testSyncExecResultHasExactlyTheFourKeys() throws {
        let sandbox = try spawn()
        let response = try exec(sandbox.id, #"{"command":"echo hello; echo oops >&2; exit 3"}"#)
        XCTAssertEqual(response.status, 200)
        guard case .object(let members) = try decode(JSONValue.self, response) else { return XCTFail(response.text) }
        XCTAssertEqual(members.map(\.key), ["exit_code", "stdout", "stderr", "duration"])
        let result = try decode(ExecResponse.self, response)
        XCTAssertEqual(result.exitCode, 3)
        XCTAssertEqual(result.stdout, "hello\n")
        XCTAssertEqual(result.stderr, "oops\n")
    }

    func testExecModesQuotingEnvWorkdirAndStdin() throws {
        let id = try spawn().id
        let quoted = try decode(ExecResponse.self, exec(id, #"{"command":"printf %s","args":["$HOME && echo injected 'x'"]}"#))
        XCTAssertEqual(quoted.stdout, "$HOME && echo injected 'x'")
        let argv = try decode(ExecResponse.self, exec(id, #"{"command":"printf","args":["%s-%s","a b","c"],"mode":"argv"}"#))
        XCTAssertEqual(argv.stdout, "a b-c")
        let env = try decode(ExecResponse.self, exec(id, #"{"command":"echo $GREETING $STACYVM_SANDBOX_ID","env":{"GREETING":"hi"}}"#))
        XCTAssertEqual(env.stdout, "hi \(id)\n")
        _ = try exec(id, #"{"command":"mkdir -p sub/dir"}"#)
        let workdir = try decode(ExecResponse.self, exec(id, #"{"command":"pwd","workdir":"sub/dir"}"#))
        XCTAssertTrue(workdir.stdout.hasSuffix("/workspace/sub/dir\n"), workdir.stdout)
        XCTAssertEqual(try exec(id, #"{"command":"pwd","workdir":"/nope"}"#).status, 400)
        let stdin = try decode(ExecResponse.self, exec(id, #"{"command":"cat","stdin":"from stdin"}"#))
        XCTAssertEqual(stdin.stdout, "from stdin")
        let base64 = try decode(ExecResponse.self, exec(id, #"{"command":"printf '\\377\\000'","output_encoding":"base64"}"#))
        XCTAssertEqual(base64.stdout, "/wA=")
    }

    func testExecValidation() throws {
        let id = try spawn().id
        let cases: [(String, Int)] = [
            (#"{}"#, 400), (#"{"command":""}"#, 400), (#"{"command":"ls","mode":"python"}"#, 400),
            (#"{"command":"ls","timeout":"-1s"}"#, 400), (#"{"command":"ls","timeout":"soon"}"#, 400),
            (#"{"command":"ls","timeout":"1h"}"#, 429), (#"{"command":"ls","env":{"1BAD":"x"}}"#, 400),
            (#"{"command":"ls","output_encoding":"hex"}"#, 400), (#"{"command":"ls","args":"notalist"}"#, 400),
        ]
        for (body, status) in cases {
            XCTAssertEqual(try exec(id, body).status, status, body)
        }
    }

    func testExecTimeoutIs408AndKillsTheCommand() throws {
        let id = try spawn().id
        let started = Date()
        let response = try exec(id, #"{"command":"sleep 30","timeout":"500ms"}"#)
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(code(response), "TIMEOUT")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testOutputIsCappedAndFlagged() throws {
        let id = try spawn().id
        let response = try exec(id, #"{"command":"head -c 10000 /dev/zero | tr '\\0' a"}"#)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try decode(ExecResponse.self, response).stdout.count, 4096)
        XCTAssertEqual(response.header("X-Stacyvm-Stdout-Truncated"), "true")
    }

    func testBackgroundProcessDoesNotHoldTheExec() throws {
        let id = try spawn().id
        let started = Date()
        let response = try exec(id, #"{"command":"sleep 30 & echo started"}"#)
        XCTAssertEqual(try decode(ExecResponse.self, response).stdout, "started\n")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testStreamFramesEndWithExit() throws {
        let id = try spawn().id
        let connection = try RawConnection(port: port)
        let body = #"{"command":"printf one; sleep 0.2; printf two >&2; exit 4","stream":true}"#
        connection.send("POST /api/v1/sandboxes/\(id)/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let (status, headers) = try connection.readHead()
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers.first { $0.0.lowercased() == "content-type" }?.1, "application/x-ndjson")
        var text = ""
        while let chunk = try connection.readChunk() { text += String(decoding: chunk, as: UTF8.self) }
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, #"{"stream":"stdout","data":"one"}"#)
        XCTAssertTrue(lines.contains(#"{"stream":"stderr","data":"two"}"#), text)
        let exit = try JanssonDecoder().decode(ExecExitFrame.self, from: Array(lines.last!.utf8))
        XCTAssertEqual(exit.stream, "exit")
        XCTAssertEqual(exit.exitCode, 4)
    }

    /// api.md §6.3: what is wrong before the first byte gets a plain status, streams included.
    func testStreamRefusedBeforeItStartsIsAPlain400() throws {
        let id = try spawn().id
        for body in [#"{"command":"true","stream":true,"workdir":"/nope"}"#,
                     #"{"command":"no-such-command-xyz","mode":"argv","stream":true}"#] {
            let response = try exec(id, body)
            XCTAssertEqual(response.status, 400, body)
            XCTAssertEqual(code(response), "BAD_REQUEST", body)
        }
    }

    func testStreamTimeoutEndsWithTimedOutExitFrame() throws {
        let id = try spawn().id
        let response = try exec(id, #"{"command":"sleep 30","stream":true,"timeout":"300ms"}"#)
        let last = try XCTUnwrap(response.text.split(separator: "\n").last)
        let exit = try JanssonDecoder().decode(ExecExitFrame.self, from: Array(last.utf8))
        XCTAssertEqual(exit.exitCode, -1)
        XCTAssertEqual(exit.timedOut, true)
        XCTAssertEqual(exit.error?.code, "TIMEOUT")
    }

    func testStreamFramingKeepsUTF8Whole() {
        let text = Array(String(repeating: "é", count: 40_000).utf8)  // 80,000 bytes of 2-byte characters
        let (frames, rest) = ExecRoutes.frame(text, base64: false, final: false)
        XCTAssertEqual(rest, [])
        XCTAssertTrue(frames.allSatisfy { $0.utf8.count <= ExecRoutes.maxFrameBytes })
        XCTAssertEqual(frames.joined(), String(repeating: "é", count: 40_000))
        let split = Array("aé".utf8).dropLast()
        let held = ExecRoutes.frame(Array(split), base64: false, final: false)
        XCTAssertEqual(held.frames, ["a"])
        XCTAssertEqual(held.rest, [0xC3])
    }

    // MARK: files

    func testFileRoundTripsJSONRawAndBase64() throws {
        let id = try spawn().id
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/files", json: #"{"path":"notes/ünï.txt","content":"héllo"}"#).text,
                       #"{"status":"written"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(id)/files?path=%2Fworkspace%2Fnotes%2F%C3%BCn%C3%AF.txt").text, "héllo")
        var random = SystemRandomNumberGenerator()
        let blob = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let upload = try call("PUT", "/api/v1/sandboxes/\(id)/files?path=blob.bin&mode=0600",
                              headers: [("Content-Type", "application/octet-stream")], body: blob)
        XCTAssertEqual(upload.text, #"{"status":"written","size":3145728}"#)
        let download = try call("GET", "/api/v1/sandboxes/\(id)/files?path=blob.bin")
        XCTAssertEqual(download.header("Content-Type"), "application/octet-stream")
        XCTAssertTrue(download.body == blob, "3 MiB binary round trip is byte-exact")
        let viaExec = try decode(ExecResponse.self, exec(id, #"{"command":"wc -c < blob.bin"}"#))
        XCTAssertEqual(viaExec.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "3145728", "exec sees API writes")
        let base64 = try call("POST", "/api/v1/sandboxes/\(id)/files", json: #"{"path":"b.bin","content":"/wAB","encoding":"base64"}"#)
        XCTAssertEqual(base64.status, 200)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(id)/files?path=b.bin&encoding=base64").text,
                       #"{"path":"/workspace/b.bin","size":3,"encoding":"base64","content":"/wAB"}"#)
        let stat = try decode(FileInfoWire.self, call("GET", "/api/v1/sandboxes/\(id)/files/stat?path=blob.bin"))
        XCTAssertEqual(stat.mode, "0600")
        XCTAssertEqual(stat.size, 3 << 20)
        XCTAssertEqual(stat.path, "/workspace/blob.bin")
    }

    func testListGlobMoveChmodDelete() throws {
        let id = try spawn().id
        for name in ["contract1.txt", "contract2.txt", "other.log"] {
            _ = try call("POST", "/api/v1/sandboxes/\(id)/files", json: #"{"path":"\#(name)","content":"x"}"#)
        }
        let listed = try decode([FileInfoWire].self, call("GET", "/api/v1/sandboxes/\(id)/files/list?path=/workspace"))
        XCTAssertEqual(listed.map(\.name), ["contract1.txt", "contract2.txt", "other.log"])
        XCTAssertEqual(try decode([String].self, call("GET", "/api/v1/sandboxes/\(id)/files/glob?pattern=/workspace/contract*.txt")),
                       ["/workspace/contract1.txt", "/workspace/contract2.txt"])
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/files/move", json: #"{"old_path":"other.log","new_path":"logs/a.log"}"#).text,
                       #"{"status":"moved"}"#)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/files/chmod", json: #"{"path":"logs/a.log","mode":"755"}"#).text,
                       #"{"status":"chmod applied"}"#)
        XCTAssertEqual(try decode(FileInfoWire.self, call("GET", "/api/v1/sandboxes/\(id)/files/stat?path=logs/a.log")).mode, "0755")
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/files/chmod", json: #"{"path":"logs/a.log","mode":"u+x"}"#).status, 400)
        XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes/\(id)/files?path=logs").status, 409, "non-empty directory")
        XCTAssertEqual(try call("DELETE", "/api/v1/sandboxes/\(id)/files?path=logs&recursive=true").text, #"{"status":"deleted"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(id)/files/stat?path=logs").status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(id)/files?path=missing.txt").status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(id)/files").status, 400, "path is required")
    }

    func testPathsCannotEscapeTheSandbox() throws {
        let id = try spawn().id
        // `..` is resolved lexically and can never climb above the sandbox root.
        let dotdot = try call("GET", "/api/v1/sandboxes/\(id)/files?path=../../../../etc/hostname")
        XCTAssertEqual(dotdot.status, 404, dotdot.text)
        // Mock commands see host paths; the working directory is the sandbox's /workspace.
        XCTAssertEqual(try decode(ExecResponse.self, exec(id, #"{"command":"ln -s /etc evil"}"#)).exitCode, 0)
        let viaLink = try call("GET", "/api/v1/sandboxes/\(id)/files?path=evil/hostname")
        XCTAssertTrue([400, 404].contains(viaLink.status), "symlink escape refused: \(viaLink.status) \(viaLink.text)")
        let write = try call("POST", "/api/v1/sandboxes/\(id)/files", json: #"{"path":"evil/stacyvm-escape","content":"x"}"#)
        XCTAssertTrue([400, 404].contains(write.status), "write through a symlink refused: \(write.status)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/stacyvm-escape"))
    }
}

extension SandboxAPITests {
    func testCursorPagingWalksEverySandboxOnce() throws {
        var spawned: [String] = []
        for _ in 0..<5 { spawned.append(try spawn().id) }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let path = "/api/v1/sandboxes?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try JanssonDecoder().decode(JSONValue.self, from: try rawRequest(port: port, path: path).body)
            guard case .array(let items)? = page["items"] else { return XCTFail("no items") }
            seen += items.compactMap { if case .string(let id)? = $0["id"] { return id } else { return nil } }
            if case .string(let next)? = page["next_cursor"] { cursor = next } else {
                XCTAssertEqual(page["next_cursor"], .null, "the last page says null")
                cursor = nil
            }
            pages += 1
        } while cursor != nil && pages < 10
        // Ordered by (created_at, id): sandboxes created in the same millisecond sort by ID.
        XCTAssertEqual(seen.count, spawned.count, "no sandbox twice")
        XCTAssertEqual(Set(seen), Set(spawned), "every sandbox once")
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(try rawRequest(port: port, path: "/api/v1/sandboxes?cursor=%%%").status, 400)
        XCTAssertEqual(try rawRequest(port: port, path: "/api/v1/sandboxes?cursor=bm9wZQ").status, 400)
        XCTAssertEqual(try rawRequest(port: port, path: "/api/v1/sandboxes?limit=0").status, 400)
    }
}

extension SandboxAPITests {
    func testIdempotencyKeyReplaysAndRejectsAnotherBody() throws {
        let first = try call("POST", "/api/v1/sandboxes", json: #"{"ttl":"10m"}"#, headers: [("Idempotency-Key", "spawn-1")])
        XCTAssertEqual(first.status, 201)
        let again = try call("POST", "/api/v1/sandboxes", json: #"{"ttl":"10m"}"#, headers: [("Idempotency-Key", "spawn-1")])
        XCTAssertEqual(again.status, 201)
        XCTAssertEqual(again.body, first.body, "the stored body is replayed")
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(try decode([Sandbox].self, call("GET", "/api/v1/sandboxes")).count, 1, "only one sandbox exists")
        let other = try call("POST", "/api/v1/sandboxes", json: #"{"ttl":"20m"}"#, headers: [("Idempotency-Key", "spawn-1")])
        XCTAssertEqual(other.status, 409)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}", user: "alice", headers: [("Idempotency-Key", "spawn-1")]).status,
                       201, "keys are per principal")
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}",
                                headers: [("Idempotency-Key", String(repeating: "k", count: 129))]).status, 400)
        let failed = try call("POST", "/api/v1/sandboxes", json: #"{"ttl":"0s"}"#, headers: [("Idempotency-Key", "spawn-2")])
        XCTAssertEqual(failed.status, 400)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: #"{"ttl":"0s"}"#, headers: [("Idempotency-Key", "spawn-2")]).status,
                       400, "4xx results are stored and replayed too")
    }
}
