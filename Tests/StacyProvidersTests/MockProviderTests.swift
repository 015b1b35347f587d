import Foundation
import Glibc
@testable import StacyProviders
import XCTest

/// Behaviour specific to the mock provider (runtime.md §2.5) beyond the conformance suite.
final class MockProviderTests: XCTestCase {
    var root = ""
    var provider: MockProvider!
    var id = ""
    var dir: String { root + "/stacyvm-" + id }

    /// runtime.md §2.5: the mock's openPort is the host's own loopback port.
    func testOpenPortConnectsToTheHostLoopback() async throws {
        let listener = LoopbackListener()
        let port = listener.port
        let fd = try await provider.openPort(id, port: port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        var missing: ProviderError?
        do { close(try await provider.openPort("mock-missing", port: port)) } catch { missing = error as? ProviderError }
        XCTAssertEqual(missing, .sandboxNotFound)
    }

    override func setUp() async throws {
        root = NSTemporaryDirectory() + "stacyvm-mock-\(UUID().uuidString)"
        provider = MockProvider(rootDirectory: root)
        id = "mock-" + UUID().uuidString.prefix(8).lowercased()
        _ = try await provider.spawn(SpawnSpec(sandboxID: id))
    }

    override func tearDown() async throws {
        _ = try? await provider.destroy(id)
        try? FileManager.default.removeItem(atPath: root)
    }

    func sh(_ command: String, env: [String: String] = [:], workdir: String = "/workspace", stdin: [UInt8] = [],
            timeout: Double = 20) async throws -> ExecResult {
        try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", command], env: env, workdir: workdir, stdin: stdin,
                                             timeoutNanos: Int64(timeout * 1e9)))
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func expectError<T>(_ expected: ProviderError, _ body: () async throws -> T, file: StaticString = #filePath,
                        line: UInt = #line) async {
        do {
            _ = try await body()
            XCTFail("expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error as? ProviderError, expected, file: file, line: line)
        }
    }

    /// Alive and not a zombie (orphans in containers may wait for a reaper that never comes).
    func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    func waitUntilGone(_ pid: Int32, seconds: Double = 3) async -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if !isRunning(pid) { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return !isRunning(pid)
    }

    // MARK: layout, lifecycle

    func testLayoutAndIdempotentSpawn() async throws {
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/workspace", isDirectory: &isDir) && isDir.boolValue)
        let again = try await provider.spawn(SpawnSpec(sandboxID: id))
        XCTAssertEqual(again, id)
        await expectError(.invalidInput("invalid sandbox id")) { try await self.provider.spawn(SpawnSpec(sandboxID: "../x")) }
        await expectError(.invalidInput("invalid sandbox id")) { try await self.provider.spawn(SpawnSpec(sandboxID: "")) }
        let health = await provider.health()
        XCTAssertTrue(health.healthy)
        let stats = await provider.stats(id)
        XCTAssertNil(stats)
        let existed = try await provider.destroy(id)
        XCTAssertTrue(existed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
        let runtimes = await provider.listRuntimes()
        XCTAssertTrue(runtimes.isEmpty)
    }

    func testUnknownRuntime() async throws {
        await expectError(.sandboxNotFound) { try await self.provider.exec("nope", ExecSpec(argv: ["true"])) }
        await expectError(.sandboxNotFound) { try await self.provider.readFile("nope", path: "/x", maxBytes: nil) }
        await expectError(.sandboxNotFound) { try await self.provider.console("nope", lines: 5) }
        var events: [ExecEvent] = []
        for await event in provider.execStream("nope", ExecSpec(argv: ["true"])) { events.append(event) }
        XCTAssertEqual(events.count, 1)
        guard case .exit(let exit) = events.first else { return XCTFail("expected exit") }
        XCTAssertEqual(exit.error, .sandboxNotFound)
    }

    // MARK: console

    func testConsoleExactLines() async throws {
        _ = try await sh("exit 3")
        _ = try await provider.exec(id, ExecSpec(argv: ["true"]))
        let lines = try await provider.console(id, lines: 100)
        XCTAssertEqual(lines, [
            "[INFO] mock sandbox \(id) started",
            "[INFO] workspace initialized at /workspace",
            "[INFO] sandbox ready",
            "[EXEC] /bin/sh exit=3",
            "[EXEC] true exit=0",
        ])
        let lastTwo = try await provider.console(id, lines: 2)
        XCTAssertEqual(lastTwo, ["[EXEC] /bin/sh exit=3", "[EXEC] true exit=0"])
    }

    func testConsoleLimitKeepsNewest() async throws {
        let small = MockProvider(rootDirectory: root, consoleLimit: 4)
        _ = try await small.spawn(SpawnSpec(sandboxID: "small"))
        for code in 1...6 { _ = try await small.exec("small", ExecSpec(argv: ["/bin/sh", "-c", "exit \(code)"])) }
        let lines = try await small.console("small", lines: 100)
        XCTAssertEqual(lines, (3...6).map { "[EXEC] /bin/sh exit=\($0)" })
        _ = try await small.destroy("small")
    }

    func testFollowConsoleExactLinesAndSeveralFollowers() async throws {
        let first = ConsoleEvents(), second = ConsoleEvents()
        let a = provider.followConsole(id, lines: 2), b = provider.followConsole(id, lines: 0)
        let consumers = [Task { await first.consume(a) }, Task { await second.consume(b) }]
        defer { for consumer in consumers { consumer.cancel() } }
        XCTAssertEqual(provider.followerCount(id), 2)
        _ = try await sh("exit 3")
        let firstSeen = await first.waitFor(3)
        XCTAssertEqual(firstSeen, [.line("[INFO] workspace initialized at /workspace"), .line("[INFO] sandbox ready"),
                                   .line("[EXEC] /bin/sh exit=3")])
        let secondSeen = await second.waitFor(1)
        XCTAssertEqual(secondSeen, [.line("[EXEC] /bin/sh exit=3")], "lines: 0 means live lines only")
        // More than the buffer holds is clamped like console(); negative is treated as 0.
        var iterator = provider.followConsole(id, lines: 5000).makeAsyncIterator()
        for expected in ["[INFO] mock sandbox \(id) started", "[INFO] workspace initialized at /workspace"] {
            let event = await iterator.next()
            XCTAssertEqual(event, .line(expected))
        }
        let negative = ConsoleEvents()
        let negativeStream = provider.followConsole(id, lines: -5)
        let negativeConsumer = Task { await negative.consume(negativeStream) }
        _ = try await sh("exit 4")
        let negativeSeen = await negative.waitFor(1)
        XCTAssertEqual(negativeSeen, [.line("[EXEC] /bin/sh exit=4")])
        negativeConsumer.cancel()
    }

    func testFollowConsoleDroppingStreamReleasesFollower() async throws {
        let provider = self.provider!, id = self.id
        let first = await Task { () -> ConsoleEvent? in
            // Leaving the loop drops the stream, which terminates it as cancelled.
            for await event in provider.followConsole(id, lines: 1) { return event }
            return nil
        }.value
        XCTAssertEqual(first, .line("[INFO] sandbox ready"))
        var count = provider.followerCount(id)
        for _ in 0..<100 where count != 0 {
            try await Task.sleep(nanoseconds: 10_000_000)
            count = provider.followerCount(id)
        }
        XCTAssertEqual(count, 0)
    }

    func testFollowConsoleLaggingFollowerIsEnded() async throws {
        let small = MockProvider(rootDirectory: root, followerLagLimit: 5)
        XCTAssertEqual(MockProvider.defaultFollowerLagLimit, 10_000)
        _ = try await small.spawn(SpawnSpec(sandboxID: "lag"))
        // Registered but never read: the 3 backlog lines plus exec lines pile up.
        let stream = small.followConsole("lag", lines: 3)
        _ = try await small.exec("lag", ExecSpec(argv: ["true"]))
        _ = try await small.exec("lag", ExecSpec(argv: ["true"]))
        XCTAssertEqual(small.followerCount("lag"), 1, "5 lines behind is within the bound")
        _ = try await small.exec("lag", ExecSpec(argv: ["/bin/sh", "-c", "exit 6"]))
        XCTAssertEqual(small.followerCount("lag"), 0, "6 lines behind drops the follower")
        var events: [ConsoleEvent] = []
        for await event in stream { events.append(event) }
        XCTAssertEqual(events.count, 7)
        XCTAssertEqual(events.suffix(2), [.line("[EXEC] /bin/sh exit=6"), .ended])
        // Following again resumes from the buffer.
        var iterator = small.followConsole("lag", lines: 1).makeAsyncIterator()
        let last = await iterator.next()
        XCTAssertEqual(last, .line("[EXEC] /bin/sh exit=6"))
        _ = try await small.destroy("lag")
        let afterDestroy = await iterator.next()
        XCTAssertEqual(afterDestroy, .ended)
        // A backlog past the bound ends at once too.
        let big = MockProvider(rootDirectory: root, consoleLimit: 10, followerLagLimit: 2)
        _ = try await big.spawn(SpawnSpec(sandboxID: "big"))
        var bigEvents: [ConsoleEvent] = []
        for await event in big.followConsole("big", lines: 3) { bigEvents.append(event) }
        XCTAssertEqual(bigEvents.count, 4)
        XCTAssertEqual(bigEvents.last, .ended)
        XCTAssertEqual(big.followerCount("big"), 0)
        _ = try await big.destroy("big")
    }

    // MARK: environment

    func testHostEnvironmentNotInherited() async throws {
        setenv("STACYVM_TEST_CANARY", "leaked", 1)
        defer { unsetenv("STACYVM_TEST_CANARY") }
        let result = try await sh("env")
        let env = Dictionary(text(result.stdout).split(separator: "\n").compactMap { line -> (String, String)? in
            guard let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertNil(env["STACYVM_TEST_CANARY"])
        XCTAssertEqual(env["HOME"], dir)
        XCTAssertEqual(env["WORKSPACE"], dir + "/workspace")
        XCTAssertEqual(env["SANDBOX_ROOT"], dir)
        XCTAssertEqual(env["STACYVM_SANDBOX_ID"], id)
        XCTAssertEqual(env["LANG"], "C.UTF-8")
        XCTAssertEqual(env["TERM"], "xterm-256color")
        XCTAssertEqual(env["PATH"], ProcessInfo.processInfo.environment["PATH"])
    }

    func testEnvLayering() async throws {
        let result = try await sh("printf '%s|%s|%s' \"$HOME\" \"$FOO\" \"$LANG\"", env: ["HOME": "/custom", "FOO": "bar"])
        XCTAssertEqual(text(result.stdout), "/custom|bar|C.UTF-8")
        await expectError(.invalidInput("invalid environment variable name or value: A=B")) {
            try await self.sh("true", env: ["A=B": "x"])
        }
    }

    // MARK: exec details

    func testSignalExitIs128PlusN() async throws {
        let term = try await sh("kill -TERM $$")
        XCTAssertEqual(term.exitCode, 143)
        let kill9 = try await sh("kill -KILL $$")
        XCTAssertEqual(kill9.exitCode, 137)
    }

    func testStdinDelivered() async throws {
        let small = try await provider.exec(id, ExecSpec(argv: ["cat"], stdin: Array("hello stdin".utf8)))
        XCTAssertEqual(text(small.stdout), "hello stdin")
        // Larger than a pipe buffer, so writing stdin must interleave with reading stdout.
        let big = [UInt8](repeating: 65, count: 1 << 20)
        let echoed = try await provider.exec(id, ExecSpec(argv: ["cat"], stdin: big))
        XCTAssertTrue(echoed.stdout == big)
        // A command that ignores its stdin must not hurt us (EPIPE, not SIGPIPE).
        let ignored = try await provider.exec(id, ExecSpec(argv: ["true"], stdin: big))
        XCTAssertEqual(ignored.exitCode, 0)
    }

    func testWorkdirRelativeAbsoluteAndMissing() async throws {
        _ = try await provider.writeFile(id, path: "sub/x.txt", bytes: [1], mode: nil)
        let relative = try await sh("pwd", workdir: "sub")
        XCTAssertEqual(text(relative.stdout), dir + "/workspace/sub\n")
        let rootDir = try await sh("pwd", workdir: "/")
        XCTAssertEqual(text(rootDir.stdout), dir + "\n")
        await expectError(.invalidInput("workdir does not exist: /workspace/missing")) {
            try await self.sh("pwd", workdir: "missing")
        }
        await expectError(.invalidInput("workdir is not a directory: /workspace/sub/x.txt")) {
            try await self.sh("pwd", workdir: "sub/x.txt")
        }
    }

    func testCommandNotFoundAndEmptyArgv() async throws {
        await expectError(.invalidInput("command not found: no-such-command-xyz")) {
            try await self.provider.exec(self.id, ExecSpec(argv: ["no-such-command-xyz"]))
        }
        await expectError(.invalidInput("argv is empty")) { try await self.provider.exec(self.id, ExecSpec(argv: [])) }
    }

    func testCompletionWithinGraceOfShellExit() async throws {
        let result = try await sh("sleep 30 & echo started")
        XCTAssertEqual(text(result.stdout), "started\n")
        XCTAssertLessThan(result.durationNanos, 450_000_000, "250 ms rule plus scheduling slack")
    }

    func testDestroyKillsBackgroundProcesses() async throws {
        // One background child keeps the pipes, the other closes them: both must die on destroy.
        let result = try await sh("sleep 30 & echo $!; sleep 31 >/dev/null 2>&1 </dev/null & echo $!")
        let pids = text(result.stdout).split(separator: "\n").compactMap { Int32($0) }
        XCTAssertEqual(pids.count, 2)
        for pid in pids { XCTAssertTrue(isRunning(pid)) }
        _ = try await provider.destroy(id)
        for pid in pids {
            let gone = await waitUntilGone(pid)
            XCTAssertTrue(gone, "pid \(pid) survived destroy")
        }
    }

    func testTimeoutKillsWholeGroup() async throws {
        _ = try? await sh("sleep 30 & echo $! > bg.pid; sleep 30", timeout: 0.5)
        let pidFile = try await provider.readFile(id, path: "bg.pid", maxBytes: nil)
        let pid = try XCTUnwrap(Int32(text(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)))
        let gone = await waitUntilGone(pid)
        XCTAssertTrue(gone)
        let lines = try await provider.console(id, lines: 1)
        XCTAssertEqual(lines, ["[EXEC] /bin/sh exit=-1"])
    }

    func testTaskCancellationKillsExec() async throws {
        let provider = self.provider!, id = self.id
        let task = Task {
            try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", "echo $$ > main.pid; exec sleep 30"]))
        }
        var pid: Int32?
        for _ in 0..<100 where pid == nil {
            try await Task.sleep(nanoseconds: 20_000_000)
            pid = (try? await provider.readFile(id, path: "main.pid", maxBytes: nil))
                .flatMap { Int32(text($0).trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let started = Date()
        task.cancel()
        let outcome = await task.result
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertThrowsError(try outcome.get())
        let gone = await waitUntilGone(try XCTUnwrap(pid))
        XCTAssertTrue(gone)
    }

    func testStreamConsumerDroppingStreamKillsProcess() async throws {
        let provider = self.provider!, id = self.id
        let task = Task { () -> Int32? in
            // The stream lives only inside this task: leaving the loop drops it, which
            // terminates it as cancelled.
            for await event in provider.execStream(id, ExecSpec(argv: ["/bin/sh", "-c", "echo $$; exec sleep 30"])) {
                if case .output(.stdout, let bytes) = event {
                    return Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            return nil
        }
        let printed = await task.value
        let pid = try XCTUnwrap(printed)
        let gone = await waitUntilGone(pid)
        XCTAssertTrue(gone)
    }

    func testStreamConsumerTaskCancellationKillsProcess() async throws {
        let provider = self.provider!, id = self.id
        let pidBox = PidBox()
        let task = Task {
            var exits = 0
            for await event in provider.execStream(id, ExecSpec(argv: ["/bin/sh", "-c", "echo $$; exec sleep 30"])) {
                switch event {
                case .output(_, let bytes):
                    pidBox.set(Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
                case .exit: exits += 1
                }
            }
            return exits
        }
        for _ in 0..<200 where pidBox.get() == nil { try await Task.sleep(nanoseconds: 10_000_000) }
        let pid = try XCTUnwrap(pidBox.get())
        task.cancel()
        _ = await task.value
        let gone = await waitUntilGone(pid)
        XCTAssertTrue(gone)
    }

    func testDestroyDuringExec() async throws {
        let provider = self.provider!, id = self.id
        let task = Task { try await provider.exec(id, ExecSpec(argv: ["sleep", "30"])) }
        try await Task.sleep(nanoseconds: 300_000_000)
        _ = try await provider.destroy(id)
        do {
            _ = try await task.value
            XCTFail("exec survived destroy")
        } catch {
            XCTAssertEqual(error as? ProviderError, .sandboxDestroyed)
        }
    }

    func testStreamOrderAndBinaryOutput() async throws {
        var out: [UInt8] = []
        var err: [UInt8] = []
        var exit: ExecExit?
        let spec = ExecSpec(argv: ["/bin/sh", "-c", "head -c 300000 /dev/zero; printf 'e' >&2; exit 4"])
        for await event in provider.execStream(id, spec) {
            switch event {
            case .output(.stdout, let bytes): XCTAssertLessThanOrEqual(bytes.count, 64 * 1024); out += bytes
            case .output(.stderr, let bytes): err += bytes
            case .exit(let e): exit = e
            }
        }
        XCTAssertEqual(out.count, 300_000, "streams are uncapped")
        XCTAssertEqual(err, [UInt8(ascii: "e")])
        XCTAssertEqual(exit, ExecExit(exitCode: 4, durationNanos: exit?.durationNanos ?? 0))
    }

    func testHugeTimeoutDoesNotOverflow() async throws {
        let result = try await provider.exec(id, ExecSpec(argv: ["echo", "ok"], timeoutNanos: .max))
        XCTAssertEqual(text(result.stdout), "ok\n")
    }

    func testNoFileDescriptorLeaks() async throws {
        func openFds() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0 }
        _ = try await sh("true")  // warm up lazily opened descriptors
        let before = openFds()
        for _ in 0..<10 { _ = try await sh("echo x; echo y >&2", stdin: [1, 2, 3]) }
        _ = try? await sh("sleep 30", timeout: 0.2)
        _ = try await sh("sleep 30 & echo bg")
        for await _ in provider.execStream(id, ExecSpec(argv: ["echo", "s"])) {}
        _ = try await provider.writeFile(id, path: "f", bytes: [1], mode: nil)
        _ = try await provider.glob(id, pattern: "**")
        _ = try await provider.destroy(id)
        var after = openFds()
        for _ in 0..<100 where after > before {  // drainer threads close their pipes asynchronously
            try await Task.sleep(nanoseconds: 20_000_000)
            after = openFds()
        }
        XCTAssertLessThanOrEqual(after, before)
    }

    // MARK: files

    func testWriteModesAndReadErrors() async throws {
        _ = try await provider.writeFile(id, path: "m/default.txt", bytes: [1], mode: nil)
        _ = try await provider.writeFile(id, path: "m/exec.sh", bytes: [1], mode: 0o700)
        let defaultInfo = try await provider.stat(id, path: "m/default.txt")
        XCTAssertEqual(defaultInfo.mode, 0o644)
        let execInfo = try await provider.stat(id, path: "/workspace/m/exec.sh")
        XCTAssertEqual(execInfo.mode, 0o700)
        let parent = try await provider.stat(id, path: "/workspace/m")
        XCTAssertEqual(parent.mode, 0o755)
        await expectError(.isADirectory("/workspace/m")) { try await self.provider.writeFile(self.id, path: "m", bytes: [], mode: nil) }
        await expectError(.isADirectory("/workspace/m")) { try await self.provider.readFile(self.id, path: "m", maxBytes: nil) }
        await expectError(.fileNotFound("/workspace/none")) { try await self.provider.readFile(self.id, path: "none", maxBytes: nil) }
        _ = try await provider.writeFile(id, path: "big", bytes: [UInt8](repeating: 0, count: 100), mode: nil)
        await expectError(.tooLarge("/workspace/big is 100 bytes, limit 10")) {
            try await self.provider.readFile(self.id, path: "big", maxBytes: 10)
        }
        await expectError(.notADirectory("/workspace/big")) {
            try await self.provider.writeFile(self.id, path: "big/child", bytes: [], mode: nil)
        }
        await expectError(.invalidPath("path is empty")) { try await self.provider.stat(self.id, path: "") }
        // Replacing a file leaves no temp files behind.
        _ = try await provider.writeFile(id, path: "big", bytes: [2], mode: nil)
        let names = try await provider.list(id, path: "/workspace").map(\.name)
        XCTAssertEqual(names, ["big", "m"])
    }

    func testListSortedWithSymlinksAsThemselves() async throws {
        _ = try await provider.writeFile(id, path: "b.txt", bytes: [1, 2, 3], mode: nil)
        _ = try await provider.writeFile(id, path: "a/inner", bytes: [], mode: nil)
        _ = try await sh("ln -s /etc link")
        let entries = try await provider.list(id, path: "/workspace")
        XCTAssertEqual(entries.map(\.name), ["a", "b.txt", "link"])
        XCTAssertEqual(entries.map(\.path), ["/workspace/a", "/workspace/b.txt", "/workspace/link"])
        XCTAssertEqual(entries.map(\.isDir), [true, false, false])
        XCTAssertEqual(entries[1].size, 3)
        XCTAssertEqual(entries[2].size, 4, "a symlink's size is its target's length")
        await expectError(.notADirectory("/workspace/b.txt")) { try await self.provider.list(self.id, path: "b.txt") }
        await expectError(.fileNotFound("/workspace/zzz")) { try await self.provider.list(self.id, path: "zzz") }
        await expectError(.invalidPath("/workspace/link is a symlink; symlinks are not followed")) {
            try await self.provider.list(self.id, path: "link")
        }
        let rootEntries = try await provider.list(id, path: "/")
        XCTAssertEqual(rootEntries.map(\.path), ["/workspace"])
    }

    func testSymlinkPolicy() async throws {
        _ = try await provider.writeFile(id, path: "real/file.txt", bytes: Array("inside".utf8), mode: nil)
        _ = try await sh("ln -s real dirlink && ln -s real/file.txt filelink && ln -s /etc etc")
        // Intermediate symlinks are refused even when they stay inside the root.
        await expectError(.invalidPath("/workspace/dirlink is a symlink; symlinks are not followed")) {
            try await self.provider.readFile(self.id, path: "dirlink/file.txt", maxBytes: nil)
        }
        await expectError(.invalidPath("/workspace/etc is a symlink; symlinks are not followed")) {
            try await self.provider.writeFile(self.id, path: "etc/planted", bytes: [1], mode: nil)
        }
        await expectError(.invalidPath("/workspace/filelink is a symlink; symlinks are not followed")) {
            try await self.provider.readFile(self.id, path: "filelink", maxBytes: nil)
        }
        await expectError(.invalidPath("/workspace/filelink is a symlink")) {
            try await self.provider.chmod(self.id, path: "filelink", mode: 0o777)
        }
        // The final component is the link itself for stat, move and delete.
        let linkInfo = try await provider.stat(id, path: "filelink")
        XCTAssertFalse(linkInfo.isDir)
        try await provider.move(id, from: "filelink", to: "moved-link")
        try await provider.delete(id, path: "moved-link", recursive: false)
        let target = try await provider.readFile(id, path: "real/file.txt", maxBytes: nil)
        XCTAssertEqual(text(target), "inside")
        // Writing onto a final symlink replaces the link, not its target.
        _ = try await provider.writeFile(id, path: "etc", bytes: Array("replaced".utf8), mode: nil)
        let replaced = try await provider.readFile(id, path: "etc", maxBytes: nil)
        XCTAssertEqual(text(replaced), "replaced")
    }

    func testRecursiveDeleteDoesNotFollowSymlinks() async throws {
        let hostDir = root + "-outside"
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        XCTAssertTrue(FileManager.default.createFile(atPath: hostDir + "/keep", contents: Data([1])))
        _ = try await provider.writeFile(id, path: "tree/a/b.txt", bytes: [1], mode: nil)
        _ = try await provider.writeFile(id, path: "tree/locked/f", bytes: [1], mode: nil)
        _ = try await sh("ln -s '\(hostDir)' tree/a/out && chmod 0555 tree/a && chmod 0000 tree/locked")
        try await provider.delete(id, path: "tree", recursive: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hostDir + "/keep"))
        await expectError(.fileNotFound("/workspace/tree")) { try await self.provider.stat(self.id, path: "tree") }
        await expectError(.invalidPath("cannot delete the root")) {
            try await self.provider.delete(self.id, path: "/", recursive: true)
        }
    }

    func testGlobPatterns() async throws {
        for path in ["a.txt", "b.txt", ".hidden.txt", "src/x.swift", "src/deep/y.swift", "src/.git/z.swift", "c1.md", "c2.md", "cx.md"] {
            _ = try await provider.writeFile(id, path: path, bytes: [], mode: nil)
        }
        _ = try await sh("ln -s src srclink")
        func glob(_ pattern: String) async throws -> [String] { try await provider.glob(id, pattern: pattern) }
        let stars = try await glob("*.txt")
        XCTAssertEqual(stars, ["/workspace/a.txt", "/workspace/b.txt"])
        let hidden = try await glob(".*.txt")
        XCTAssertEqual(hidden, ["/workspace/.hidden.txt"])
        let recursive = try await glob("/workspace/**/*.swift")
        XCTAssertEqual(recursive, ["/workspace/src/deep/y.swift", "/workspace/src/x.swift"])
        let classes = try await glob("c[0-9].md")
        XCTAssertEqual(classes, ["/workspace/c1.md", "/workspace/c2.md"])
        let negated = try await glob("c[!0-9].md")
        XCTAssertEqual(negated, ["/workspace/cx.md"])
        let question = try await glob("?.txt")
        XCTAssertEqual(question, ["/workspace/a.txt", "/workspace/b.txt"])
        let none = try await glob("/nothing/*")
        XCTAssertEqual(none, [])
        let everything = try await glob("src/**")
        XCTAssertEqual(everything, ["/workspace/src/deep", "/workspace/src/deep/y.swift", "/workspace/src/x.swift"])
    }

    func testMoveDetails() async throws {
        _ = try await provider.writeFile(id, path: "one", bytes: [1], mode: nil)
        _ = try await provider.writeFile(id, path: "two", bytes: [2], mode: nil)
        try await provider.move(id, from: "one", to: "two")
        let replaced = try await provider.readFile(id, path: "two", maxBytes: nil)
        XCTAssertEqual(replaced, [1])
        _ = try await provider.writeFile(id, path: "dir/inner", bytes: [], mode: nil)
        await expectError(.invalidInput("cannot move /workspace/dir into itself")) {
            try await self.provider.move(self.id, from: "dir", to: "dir/sub")
        }
        await expectError(.invalidPath("cannot move the root")) { try await self.provider.move(self.id, from: "/", to: "x") }
        try await provider.move(id, from: "dir", to: "/elsewhere/dir2")
        let moved = try await provider.list(id, path: "/elsewhere/dir2")
        XCTAssertEqual(moved.map(\.name), ["inner"])
    }
}

final class PidBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pid: Int32?
    func set(_ value: Int32?) { lock.lock(); pid = value; lock.unlock() }
    func get() -> Int32? { lock.lock(); defer { lock.unlock() }; return pid }
}
