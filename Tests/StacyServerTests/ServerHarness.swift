import XCTest
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// A real control plane for one test: its own temp directory, SQLite database, mock provider
/// root and a kernel-chosen port. `stop()` destroys every sandbox left (no process outlives the
/// test) and removes the directory.
final class ServerHarness {
    let directory: String
    let store: SQLiteStore
    let controlPlane: ControlPlane
    var port: UInt16 { controlPlane.port }
    /// Sent with the cleanup calls when the server requires a key.
    let adminKey: String?

    init(environment extra: [String: String] = [:], adminKey: String? = nil, testing: Bool = true) throws {
        var template = Array("/tmp/stacyvm-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        var env = ["STACYVM_SERVER_DATA_DIR": directory, "STACYVM_SERVER_PORT": "0",
                   "STACYVM_PROVIDERS_MOCK_ROOT_DIR": directory, "STACYVM_PROVIDERS_DEFAULT": "mock"]
        env.merge(extra) { $1 }
        let loaded = try Config.load(LoadOptions(environment: env, workingDirectory: directory, homeDirectory: directory))
        XCTAssertEqual(loaded.problems, [])
        store = try SQLiteStore(path: loaded.config.database.path)
        _ = try store.migrate(to: nil)
        controlPlane = try ControlPlane(config: loaded.config, store: store, log: .disabled, instanceID: "cp-test",
                                        environment: testing ? ["STACYVM_TESTING": "1"] : [:])
        self.adminKey = adminKey
        try controlPlane.start()
    }

    func stop() {
        let headers = adminKey.map { [("X-API-Key", $0)] } ?? []
        if let sandboxes = try? JanssonDecoder().decode([Sandbox].self,
                                                        from: rawRequest(port: port, path: "/api/v1/sandboxes", headers: headers).body) {
            for sandbox in sandboxes {
                _ = try? rawRequest(port: port, method: "DELETE", path: "/api/v1/sandboxes/\(sandbox.id)", headers: headers)
            }
        }
        controlPlane.stop()
        store.close()
        _ = try? FileManager.default.removeItem(atPath: directory)
    }
}
