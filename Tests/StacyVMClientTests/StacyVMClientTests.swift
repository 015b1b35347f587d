import XCTest
import Foundation
import StacyAPI
import StacyConfig
import StacyJSON
import StacyStore
import StacyServer
import StacyVMClient

/// A real control plane on a kernel-chosen port with the mock provider (as StacyServerTests'
/// ServerHarness), driven through the client.
final class ClientHarness {
    let directory: String
    let store: SQLiteStore
    let controlPlane: ControlPlane
    var port: UInt16 { controlPlane.port }

    init() throws {
        var template = Array("/tmp/stacyvm-client-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let env = ["STACYVM_SERVER_DATA_DIR": directory, "STACYVM_SERVER_PORT": "0",
                   "STACYVM_PROVIDERS_MOCK_ROOT_DIR": directory, "STACYVM_PROVIDERS_DEFAULT": "mock"]
        let loaded = try Config.load(LoadOptions(environment: env, workingDirectory: directory, homeDirectory: directory))
        XCTAssertEqual(loaded.problems, [])
        store = try SQLiteStore(path: loaded.config.database.path)
        _ = try store.migrate(to: nil)
        controlPlane = try ControlPlane(config: loaded.config, store: store, log: .disabled, instanceID: "cp-client-test",
                                        environment: ["STACYVM_TESTING": "1"])
        try controlPlane.start()
    }

    func stop() {
        controlPlane.stop()
        store.close()
        _ = try? FileManager.default.removeItem(atPath: directory)
    }
}

final class StacyVMClientTests: XCTestCase {
    func testSpawnExecStreamDestroy() async throws {
        let harness = try ClientHarness()
        defer { harness.stop() }
        let client = StacyVMClient(baseURL: "http://127.0.0.1:\(harness.port)", userID: "alice", timeout: 10)

        let health = try await client.getHealth()
        XCTAssertEqual(health.status, "ok")

        let sandbox = try await client.createSandbox(SpawnRequest(image: "alpine:latest", ttl: "10m"))
        XCTAssertEqual(sandbox.state, "running")
        let fetched = try await client.getSandbox(sandbox.id)
        XCTAssertEqual(fetched.id, sandbox.id)
        let listed = try await client.listSandboxes()
        XCTAssertTrue(listed.contains { $0.id == sandbox.id })

        let result = try await client.execCommand(sandbox.id, ExecRequest(command: "echo", args: ["hi"], mode: "argv"))
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(result.stdout, "hi\n")
        let failing = try await client.execCommand(sandbox.id, ExecRequest(command: "exit 7", mode: "shell"))
        XCTAssertEqual(failing.exitCode, 7)

        var events: [ExecStreamEvent] = []
        let script = "echo one; sleep 0.2; echo two >&2; exit 3"
        for try await event in client.execCommandStream(sandbox.id, ExecRequest(command: script, mode: "shell")) {
            events.append(event)
        }
        guard case .exit(let exit)? = events.last else { return XCTFail("no exit frame: \(events)") }
        XCTAssertEqual(exit.exitCode, 3)
        XCTAssertEqual(events.filter { if case .exit = $0 { return true } else { return false } }.count, 1)
        let stdout = events.compactMap { event -> String? in
            if case .output("stdout", let data) = event { return data } else { return nil }
        }.joined()
        let stderr = events.compactMap { event -> String? in
            if case .output("stderr", let data) = event { return data } else { return nil }
        }.joined()
        XCTAssertEqual(stdout, "one\n")
        XCTAssertEqual(stderr, "two\n")

        let destroyed = try await client.destroySandbox(sandbox.id)
        XCTAssertEqual(destroyed.status, "destroyed")
        do {
            _ = try await client.getSandbox(sandbox.id)
            XCTFail("expected NOT_FOUND")
        } catch {
            XCTAssertEqual(error.status, 404)
            XCTAssertEqual(error.code, "NOT_FOUND")
        }
        // A stream against a missing sandbox throws the envelope.
        do {
            for try await _ in client.execCommandStream(sandbox.id, ExecRequest(command: "true", mode: "shell")) {}
            XCTFail("expected NOT_FOUND")
        } catch let error as StacyVMError {
            XCTAssertEqual(error.status, 404)
            XCTAssertEqual(error.code, "NOT_FOUND")
        }
    }

    func testTemplates() async throws {
        let harness = try ClientHarness()
        defer { harness.stop() }
        let client = StacyVMClient(baseURL: "http://127.0.0.1:\(harness.port)/", timeout: 10)
        let created = try await client.createTemplate(TemplateRequest(name: "py", image: "python:3.12"))
        XCTAssertEqual(created.name, "py")
        let names = try await client.listTemplates().map(\.name)
        XCTAssertTrue(names.contains("py"))
        _ = try await client.deleteTemplate("py")
        let after = try await client.listTemplates().map(\.name)
        XCTAssertFalse(after.contains("py"))
    }

    func testConnectionErrorOnClosedPort() async throws {
        // Bind and close a socket to get a port nothing listens on.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)
        close(fd)

        let client = StacyVMClient(baseURL: "http://127.0.0.1:\(port)", timeout: 5)
        do {
            _ = try await client.getHealth()
            XCTFail("expected a connection error")
        } catch {
            XCTAssertEqual(error.status, 0)
            XCTAssertEqual(error.code, "CONNECTION_ERROR")
        }
        do {
            for try await _ in client.execCommandStream("sb-x", ExecRequest(command: "true")) {}
            XCTFail("expected a connection error")
        } catch let error as StacyVMError {
            XCTAssertEqual(error.status, 0)
            XCTAssertEqual(error.code, "CONNECTION_ERROR")
        }
    }
}
