import Foundation
import StacyProviders
import XCTest

/// runtime.md §2.4, written once against the public `Provider` API. Subclass and override
/// `makeProvider()`; the base class returns nil, so its own copies of the tests skip.
class ProviderConformanceTests: XCTestCase {
    /// The provider under test, or nil to skip (e.g. the host cannot run it).
    func makeProvider() -> (any Provider)? { nil }

    var provider: (any Provider)!
    var runtimeID: String?

    override func setUp() async throws {
        guard let made = makeProvider() else { throw XCTSkip("no provider for \(type(of: self))") }
        provider = made
        runtimeID = try await made.spawn(SpawnSpec(sandboxID: "conf-" + UUID().uuidString.prefix(8).lowercased()))
    }

    override func tearDown() async throws {
        if let provider, let runtimeID { _ = try? await provider.destroy(runtimeID) }
        provider = nil
        runtimeID = nil
    }

    var id: String { runtimeID! }

    func sh(_ command: String, timeout: Double = 20, maxOutput: Int = 8 << 20) async throws -> ExecResult {
        try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", command], timeoutNanos: Int64(timeout * 1e9),
                                             maxOutputBytes: maxOutput))
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func assertThrows<T>(_ expected: (ProviderError) -> Bool, _ body: () async throws -> T,
                         file: StaticString = #filePath, line: UInt = #line) async {
        do {
            let value = try await body()
            XCTFail("expected an error, got \(value)", file: file, line: line)
        } catch let error as ProviderError {
            XCTAssertTrue(expected(error), "unexpected error \(error)", file: file, line: line)
        } catch {
            XCTFail("not a ProviderError: \(error)", file: file, line: line)
        }
    }

    /// Registered console followers of the runtime, or nil when the provider cannot tell (the
    /// release check then only asserts that the consumer ends promptly).
    func followerCount(_ runtimeID: String) -> Int? { nil }

    // MARK: lifecycle

    func testSpawnStatusDestroyTwiceThenExecFails() async throws {
        let sandboxID = id
        let status = await provider.status(sandboxID)
        XCTAssertEqual(status, .running)
        let again = try await provider.spawn(SpawnSpec(sandboxID: sandboxID))
        XCTAssertEqual(again, sandboxID, "spawn is idempotent by sandbox ID")
        let existed = try await provider.destroy(sandboxID)
        XCTAssertTrue(existed)
        let secondExisted = try await provider.destroy(sandboxID)
        XCTAssertFalse(secondExisted)
        let after = await provider.status(sandboxID)
        XCTAssertEqual(after, .missing)
        await assertThrows({ $0 == .sandboxNotFound || $0 == .sandboxDestroyed }) { try await self.sh("echo hi") }
        runtimeID = nil
    }

    // MARK: exec

    func testEchoExitCodeAndLiteralArgv() async throws {
        let echo = try await sh("echo conformance-ok")
        XCTAssertEqual(echo.exitCode, 0)
        XCTAssertEqual(text(echo.stdout), "conformance-ok\n")
        let exit7 = try await sh("exit 7")
        XCTAssertEqual(exit7.exitCode, 7)
        let literal = try await provider.exec(id, ExecSpec(argv: ["printf", "%s", "$HOME && echo injected"]))
        XCTAssertEqual(literal.exitCode, 0)
        XCTAssertEqual(text(literal.stdout), "$HOME && echo injected")
    }

    func testStreamEndsWithOneExit() async throws {
        var output: [UInt8] = []
        var exits: [ExecExit] = []
        for await event in provider.execStream(id, ExecSpec(argv: ["/bin/sh", "-c", "printf stream-ok"])) {
            switch event {
            case .output(_, let bytes):
                XCTAssertTrue(exits.isEmpty, "output after exit")
                output += bytes
            case .exit(let exit): exits.append(exit)
            }
        }
        XCTAssertTrue(text(output).contains("stream-ok"))
        XCTAssertEqual(exits.count, 1)
        XCTAssertEqual(exits.first?.exitCode, 0)
        XCTAssertEqual(exits.first?.timedOut, false)
    }

    func testTimeoutKillsSleep() async throws {
        let start = Date()
        await assertThrows({ $0 == .execTimeout }) { try await self.sh("sleep 30", timeout: 1) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0, "killed within timeout + 1 s")

        let streamStart = Date()
        var exit: ExecExit?
        let spec = ExecSpec(argv: ["/bin/sh", "-c", "sleep 30"], timeoutNanos: 1_000_000_000)
        for await event in provider.execStream(id, spec) { if case .exit(let e) = event { exit = e } }
        XCTAssertLessThan(Date().timeIntervalSince(streamStart), 2.0)
        XCTAssertEqual(exit?.exitCode, -1)
        XCTAssertEqual(exit?.timedOut, true)
    }

    func testOutputCaps() async throws {
        let result = try await sh("head -c 100000 /dev/zero; printf err >&2", maxOutput: 1000)
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(result.stdout.count, 1000)
        XCTAssertTrue(result.stdoutTruncated)
        XCTAssertEqual(text(result.stderr), "err")
        XCTAssertFalse(result.stderrTruncated)
    }

    func testBackgroundProcessDoesNotHoldExecAndSurvivesUntilDestroy() async throws {
        let start = Date()
        let result = try await sh("sleep 30 & echo started $!")
        let elapsed = Date().timeIntervalSince(start)
        // 250 ms completion rule plus generous slack for a loaded 2-core CI machine.
        XCTAssertLessThan(elapsed, 1.0)
        let words = text(result.stdout).split(whereSeparator: { $0 == " " || $0 == "\n" })
        XCTAssertEqual(words.first, "started")
        let pid = try XCTUnwrap(words.last.flatMap { Int($0) })
        let alive = try await sh("kill -0 \(pid)")
        XCTAssertEqual(alive.exitCode, 0, "the background sleep keeps running after the exec completed")
    }

    // MARK: files

    func testBinaryRoundTrip3MiB() async throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let written = try await provider.writeFile(id, path: "/workspace/blob.bin", bytes: bytes, mode: nil)
        XCTAssertEqual(written, bytes.count)
        let read = try await provider.readFile(id, path: "/workspace/blob.bin", maxBytes: nil)
        XCTAssertEqual(read.count, bytes.count)
        XCTAssertTrue(read == bytes, "byte-exact")
    }

    func testStat() async throws {
        _ = try await provider.writeFile(id, path: "/workspace/stat.txt", bytes: Array("hello".utf8), mode: nil)
        let info = try await provider.stat(id, path: "/workspace/stat.txt")
        XCTAssertEqual(info.path, "/workspace/stat.txt")
        XCTAssertEqual(info.name, "stat.txt")
        XCTAssertEqual(info.size, 5)
        XCTAssertEqual(info.mode, 0o644)
        XCTAssertFalse(info.isDir)
        XCTAssertGreaterThan(info.modTimeSeconds, 0)
        let dir = try await provider.stat(id, path: "/workspace")
        XCTAssertTrue(dir.isDir)
        await assertThrows({ $0 == .fileNotFound("/workspace/nope") }) {
            try await self.provider.stat(self.id, path: "/workspace/nope")
        }
    }

    func testGlob() async throws {
        for name in ["contract1.txt", "contract2.txt", "other.txt", "contract3.log"] {
            _ = try await provider.writeFile(id, path: "/workspace/" + name, bytes: [1], mode: nil)
        }
        let matches = try await provider.glob(id, pattern: "/workspace/contract*.txt")
        XCTAssertEqual(matches, ["/workspace/contract1.txt", "/workspace/contract2.txt"])
    }

    func testMove() async throws {
        _ = try await provider.writeFile(id, path: "/workspace/a.txt", bytes: Array("moved".utf8), mode: nil)
        try await provider.move(id, from: "/workspace/a.txt", to: "/workspace/sub/dir/b.txt")
        let moved = try await provider.readFile(id, path: "/workspace/sub/dir/b.txt", maxBytes: nil)
        XCTAssertEqual(text(moved), "moved")
        await assertThrows({ $0 == .fileNotFound("/workspace/a.txt") }) {
            try await self.provider.stat(self.id, path: "/workspace/a.txt")
        }
        await assertThrows({ if case .fileNotFound = $0 { true } else { false } }) {
            try await self.provider.move(self.id, from: "/workspace/missing", to: "/workspace/x")
        }
        _ = try await provider.writeFile(id, path: "/workspace/c.txt", bytes: [1], mode: nil)
        await assertThrows({ if case .directoryNotEmpty = $0 { true } else { false } }) {
            try await self.provider.move(self.id, from: "/workspace/c.txt", to: "/workspace/sub")
        }
    }

    func testChmod0755() async throws {
        _ = try await provider.writeFile(id, path: "/workspace/run.sh", bytes: Array("#!/bin/sh\necho ran\n".utf8), mode: nil)
        try await provider.chmod(id, path: "/workspace/run.sh", mode: 0o755)
        let info = try await provider.stat(id, path: "/workspace/run.sh")
        XCTAssertEqual(info.mode, 0o755)
        await assertThrows({ if case .fileNotFound = $0 { true } else { false } }) {
            try await self.provider.chmod(self.id, path: "/workspace/missing", mode: 0o755)
        }
    }

    func testDelete() async throws {
        _ = try await provider.writeFile(id, path: "/workspace/d/inner/file.txt", bytes: [1], mode: nil)
        _ = try await provider.writeFile(id, path: "/workspace/single.txt", bytes: [1], mode: nil)
        try await provider.delete(id, path: "/workspace/single.txt", recursive: false)
        await assertThrows({ $0 == .directoryNotEmpty("/workspace/d") }) {
            try await self.provider.delete(self.id, path: "/workspace/d", recursive: false)
        }
        try await provider.delete(id, path: "/workspace/d", recursive: true)
        await assertThrows({ $0 == .fileNotFound("/workspace/d") }) {
            try await self.provider.stat(self.id, path: "/workspace/d")
        }
        await assertThrows({ $0 == .fileNotFound("/workspace/single.txt") }) {
            try await self.provider.delete(self.id, path: "/workspace/single.txt", recursive: false)
        }
    }

    func testDotDotCannotEscapeRoot() async throws {
        let name = "stacyvm-escape-\(UUID().uuidString)"
        _ = try await provider.writeFile(id, path: "../../../../../../" + name, bytes: [42], mode: nil)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/" + name), "wrote outside the sandbox")
        let info = try await provider.stat(id, path: "/" + name)
        XCTAssertEqual(info.path, "/" + name, "`..` stops at the sandbox root")
        try await provider.delete(id, path: "/workspace/../../../" + name, recursive: false)
    }

    func testSymlinkEscapeRefused() async throws {
        // A host directory holding a secret; a symlink made by a command points at it.
        let hostDir = NSTemporaryDirectory() + "stacyvm-secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        try "top-secret".write(toFile: hostDir + "/secret", atomically: true, encoding: .utf8)

        let relative = String(repeating: "../", count: 30) + hostDir.drop(while: { $0 == "/" })
        let made = try await sh("ln -s '\(hostDir)' evil && ln -s '\(relative)' evil-rel && ln -s '\(hostDir)/secret' evil-file")
        XCTAssertEqual(made.exitCode, 0, text(made.stderr))
        for path in ["/workspace/evil/secret", "/workspace/evil-rel/secret", "/workspace/evil-file"] {
            do {
                let bytes = try await provider.readFile(id, path: path, maxBytes: nil)
                XCTAssertNotEqual(text(bytes), "top-secret", "read through symlink \(path)")
            } catch {}
            do {
                _ = try await provider.writeFile(id, path: path + "-new", bytes: [1], mode: nil)
            } catch {}
        }
        _ = try? await provider.writeFile(id, path: "/workspace/evil/planted", bytes: [1], mode: nil)
        XCTAssertFalse(FileManager.default.fileExists(atPath: hostDir + "/planted"), "wrote through a symlink")
        _ = try? await provider.delete(id, path: "/workspace/evil/secret", recursive: false)
        _ = try? await provider.chmod(id, path: "/workspace/evil-file", mode: 0o777)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hostDir + "/secret"), "deleted through a symlink")
        let mode = try FileManager.default.attributesOfItem(atPath: hostDir + "/secret")[.posixPermissions] as? Int
        XCTAssertNotEqual(mode, 0o777, "chmod through a symlink")
    }

    // MARK: console and inventory

    func testConsoleReturnsLines() async throws {
        _ = try await sh("true")
        let lines = try await provider.console(id, lines: 100)
        XCTAssertFalse(lines.isEmpty)
    }

    func testListRuntimesContainsSandbox() async throws {
        let runtimes = await provider.listRuntimes()
        XCTAssertTrue(runtimes.contains { $0.runtimeID == id })
    }

    // MARK: console follow

    func testFollowConsoleBacklogThenLiveLinesInOrder() async throws {
        let before = try await provider.console(id, lines: 1000)
        XCTAssertGreaterThanOrEqual(before.count, 2)
        let events = ConsoleEvents()
        let stream = provider.followConsole(id, lines: 2)
        let consumer = Task { await events.consume(stream) }
        defer { consumer.cancel() }
        let backlog = await events.waitFor(2)
        XCTAssertEqual(backlog, before.suffix(2).map { .line($0) }, "backlog: the last 2 lines, oldest first")
        // Each exec appends at least its summary line, and it arrives while the stream stays open.
        for code in 1...3 {
            let seen = events.count
            _ = try await sh("exit \(code)")
            let now = await events.waitFor(seen + 1)
            XCTAssertGreaterThan(now.count, seen, "no live line after exec \(code)")
        }
        let after = try await provider.console(id, lines: 1000)
        XCTAssertEqual(Array(after.prefix(before.count)), before, "console trimmed during the test")
        let expected = (before.suffix(2) + after.dropFirst(before.count)).map { ConsoleEvent.line($0) }
        let received = await events.waitFor(expected.count)
        XCTAssertEqual(received, expected, "backlog then every new line, in buffer order")
        XCTAssertFalse(events.finished)
    }

    func testFollowConsoleEndsOnDestroy() async throws {
        let events = ConsoleEvents()
        let stream = provider.followConsole(id, lines: 1)
        let consumer = Task { await events.consume(stream) }
        _ = await events.waitFor(1)
        let destroyed = id
        let existed = try await provider.destroy(destroyed)
        XCTAssertTrue(existed)
        runtimeID = nil
        let ended = await events.waitUntilFinished()
        XCTAssertTrue(ended, "the stream did not finish after destroy")
        if ended { await consumer.value } else { consumer.cancel() }
        XCTAssertEqual(events.snapshot.last, .ended)
        XCTAssertEqual(events.snapshot.filter { $0 == .ended }.count, 1)
        // A destroyed or unknown runtime yields only `.ended`.
        for missing in [destroyed, "conf-never-existed"] {
            var only: [ConsoleEvent] = []
            for await event in provider.followConsole(missing, lines: 10) { only.append(event) }
            XCTAssertEqual(only, [.ended], missing)
        }
    }

    func testFollowConsoleCancellingConsumerReleasesFollower() async throws {
        let events = ConsoleEvents()
        let stream = provider.followConsole(id, lines: 1)
        let consumer = Task { await events.consume(stream) }
        _ = await events.waitFor(1)
        if let count = followerCount(id) { XCTAssertEqual(count, 1) }
        consumer.cancel()
        let ended = await events.waitUntilFinished(seconds: 2)
        XCTAssertTrue(ended, "the consumer did not end on cancellation")
        if ended { await consumer.value }
        XCTAssertFalse(events.snapshot.contains(.ended), "cancellation is not a destroy")
        if followerCount(id) != nil {
            var count = followerCount(id)
            for _ in 0..<100 where count != 0 {
                try await Task.sleep(nanoseconds: 10_000_000)
                count = followerCount(id)
            }
            XCTAssertEqual(count, 0, "the follower leaked after its consumer was cancelled")
        }
        // Appending after the follower left still works, and nothing is re-registered.
        _ = try await sh("true")
        if let count = followerCount(id) { XCTAssertEqual(count, 0) }
    }
}

/// Collects a console follow stream for assertions; waits poll the collected events, not the provider.
final class ConsoleEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ConsoleEvent] = []
    private var done = false

    var snapshot: [ConsoleEvent] { lock.withLock { events } }
    var count: Int { snapshot.count }
    var finished: Bool { lock.withLock { done } }

    func consume(_ stream: AsyncStream<ConsoleEvent>) async {
        for await event in stream { lock.withLock { events.append(event) } }
        lock.withLock { done = true }
    }

    /// The events once at least `count` arrived, or what arrived within `seconds`.
    func waitFor(_ count: Int, seconds: Double = 5) async -> [ConsoleEvent] {
        let until = Date().addingTimeInterval(seconds)
        while self.count < count, Date() < until { try? await Task.sleep(nanoseconds: 5_000_000) }
        return snapshot
    }

    func waitUntilFinished(seconds: Double = 5) async -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while !finished, Date() < until { try? await Task.sleep(nanoseconds: 5_000_000) }
        return finished
    }
}

final class MockProviderConformanceTests: ProviderConformanceTests {
    private var root: String?

    override func makeProvider() -> (any Provider)? {
        let dir = NSTemporaryDirectory() + "stacyvm-conf-\(UUID().uuidString)"
        root = dir
        return MockProvider(rootDirectory: dir)
    }

    override func tearDown() async throws {
        try await super.tearDown()
        if let root { try? FileManager.default.removeItem(atPath: root) }
    }

    // swift-corelibs-xctest discovers only methods declared in the class itself, so every
    // inherited conformance test is re-declared here; the logic stays in the base class.
    override func testSpawnStatusDestroyTwiceThenExecFails() async throws { try await super.testSpawnStatusDestroyTwiceThenExecFails() }
    override func testEchoExitCodeAndLiteralArgv() async throws { try await super.testEchoExitCodeAndLiteralArgv() }
    override func testStreamEndsWithOneExit() async throws { try await super.testStreamEndsWithOneExit() }
    override func testTimeoutKillsSleep() async throws { try await super.testTimeoutKillsSleep() }
    override func testOutputCaps() async throws { try await super.testOutputCaps() }
    override func testBackgroundProcessDoesNotHoldExecAndSurvivesUntilDestroy() async throws { try await super.testBackgroundProcessDoesNotHoldExecAndSurvivesUntilDestroy() }
    override func testBinaryRoundTrip3MiB() async throws { try await super.testBinaryRoundTrip3MiB() }
    override func testStat() async throws { try await super.testStat() }
    override func testGlob() async throws { try await super.testGlob() }
    override func testMove() async throws { try await super.testMove() }
    override func testChmod0755() async throws { try await super.testChmod0755() }
    override func testDelete() async throws { try await super.testDelete() }
    override func testDotDotCannotEscapeRoot() async throws { try await super.testDotDotCannotEscapeRoot() }
    override func testSymlinkEscapeRefused() async throws { try await super.testSymlinkEscapeRefused() }
    override func testConsoleReturnsLines() async throws { try await super.testConsoleReturnsLines() }
    override func testListRuntimesContainsSandbox() async throws { try await super.testListRuntimesContainsSandbox() }
    override func testFollowConsoleBacklogThenLiveLinesInOrder() async throws { try await super.testFollowConsoleBacklogThenLiveLinesInOrder() }
    override func testFollowConsoleEndsOnDestroy() async throws { try await super.testFollowConsoleEndsOnDestroy() }
    override func testFollowConsoleCancellingConsumerReleasesFollower() async throws { try await super.testFollowConsoleCancellingConsumerReleasesFollower() }

    override func followerCount(_ runtimeID: String) -> Int? { (provider as? MockProvider)?.followerCount(runtimeID) }
}
