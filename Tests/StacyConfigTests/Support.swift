import Foundation
import XCTest
@testable import StacyConfig

/// A throwaway directory tree: `home/`, `work/`, and files written on demand.
final class TempTree {
    let root: String
    var home: String { root + "/home" }
    var work: String { root + "/work" }

    init() {
        root = NSTemporaryDirectory().appending("stacyconfig-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(atPath: root + "/home", withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(atPath: root + "/work", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `contents` at `relative` (under root) and returns the absolute path.
    @discardableResult
    func write(_ relative: String, _ contents: String) -> String {
        let path = root + "/" + relative
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try! contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options(explicit: String? = nil, env: [String: String] = [:], flags: [String: String] = [:],
                 isRoot: Bool = false) -> LoadOptions {
        LoadOptions(explicitPath: explicit, environment: env, workingDirectory: work, homeDirectory: home,
                    flags: flags, isRoot: isRoot)
    }

    /// Loads with `yaml` as an explicit config file (`work/c.yaml`), or no file when nil.
    func load(_ yaml: String? = nil, env: [String: String] = [:], flags: [String: String] = [:],
              file: StaticString = #filePath, line: UInt = #line) -> LoadedConfig? {
        let path = yaml.map { write("work/c.yaml", $0) }
        do {
            return try Config.load(options(explicit: path, env: env, flags: flags))
        } catch {
            XCTFail("load failed: \(error)", file: file, line: line)
            return nil
        }
    }
}

extension LoadedConfig {
    func problem(_ key: String) -> ConfigProblem? { problems.first { $0.key == key } }
    func warning(_ key: String) -> ConfigProblem? { warnings.first { $0.key == key } }
}

/// Asserts that exactly the given keys have problems (order ignored).
func assertProblemKeys(_ loaded: LoadedConfig?, _ keys: [String], file: StaticString = #filePath, line: UInt = #line) {
    guard let loaded else { return }
    XCTAssertEqual(Set(loaded.problems.map(\.key)), Set(keys), "problems: \(loaded.problems)", file: file, line: line)
}
