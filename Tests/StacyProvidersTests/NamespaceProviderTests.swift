import Foundation
import Glibc
@testable import StacyProviders
import XCTest

/// A namespace provider on a fresh data directory, or the reason this host cannot run one (the
/// tests then skip, loudly). With STACYVM_REQUIRE_NAMESPACE=1 a missing prerequisite fails instead.
/// A uid range per test process (test classes run in parallel with a server or another suite on
/// the same host), never overlapping another's: bases 10,000 apart, slots below 10,000.
let testSubuidBase = 1_000_000 + Int(getpid() % 1000) * 10_000

enum NamespaceHost {
    static func makeProvider(file: StaticString = #filePath, line: UInt = #line) throws -> (NamespaceProvider, String) {
        let dir = NSTemporaryDirectory() + "stacyvm-ns-\(UUID().uuidString.prefix(8))"
        mkdir(dir, 0o711)
        var settings = NamespaceSettings(dataDirectory: dir, readyTimeoutNanos: 20_000_000_000)
        settings.subuidBase = testSubuidBase
        let provider = NamespaceProvider(settings: settings)
        // Everything a spawn needs here: bubblewrap, user namespaces, cgroup limits, the uid range.
        if let problem = provider.problem() {
            try? FileManager.default.removeItem(atPath: dir)
            if ProcessInfo.processInfo.environment["STACYVM_REQUIRE_NAMESPACE"] == "1" {
                XCTFail("namespace provider required but unavailable: \(problem)", file: file, line: line)
            }
            throw XCTSkip("namespace provider unavailable: \(problem)")
        }
        return (provider, dir)
    }
}

final class NamespaceProviderConformanceTests: ProviderConformanceTests {
    private var dataDirectory: String?

    override func makeProvider() -> (any Provider)? {
        guard let (provider, dir) = try? NamespaceHost.makeProvider() else { return nil }
        dataDirectory = dir
        return provider
    }

    override func tearDown() async throws {
        try await super.tearDown()
        if let dataDirectory { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }

    // swift-corelibs-xctest discovers only methods declared in the class itself.
    override func testSpawnStatusDestroyTwiceThenExecFails() async throws { try await super.testSpawnStatusDestroyTwiceThenExecFails() }
    override func testEchoExitCodeAndLiteralArgv() async throws { try await super.testEchoExitCodeAndLiteralArgv() }
    override func testStreamEndsWithOneExit() async throws { try await super.testStreamEndsWithOneExit() }
    override func testTimeoutKillsSleep() async throws { try await super.testTimeoutKillsSleep() }
    override func testOutputCaps() async throws { try await super.testOutputCaps() }
    override func testBackgroundProcessDoesNotHoldExecAndSurvivesUntilDestroy() async throws { try await super.testBackgroundProcessDoesNotHoldExecAndSurvivesUntilDestroy() }
    override func testConsoleReturnsLines() async throws { try await super.testConsoleReturnsLines() }
    override func testListRuntimesContainsSandbox() async throws { try await super.testListRuntimesContainsSandbox() }
    override func testFollowConsoleBacklogThenLiveLinesInOrder() async throws { try await super.testFollowConsoleBacklogThenLiveLinesInOrder() }
    override func testFollowConsoleEndsOnDestroy() async throws { try await super.testFollowConsoleEndsOnDestroy() }
    override func testFollowConsoleCancellingConsumerReleasesFollower() async throws { try await super.testFollowConsoleCancellingConsumerReleasesFollower() }
    override func testBinaryRoundTrip3MiB() async throws { try await super.testBinaryRoundTrip3MiB() }
    override func testStat() async throws { try await super.testStat() }
    override func testGlob() async throws { try await super.testGlob() }
    override func testMove() async throws { try await super.testMove() }
    override func testChmod0755() async throws { try await super.testChmod0755() }
    override func testDelete() async throws { try await super.testDelete() }
    override func testSymlinkEscapeRefused() async throws { try await super.testSymlinkEscapeRefused() }

    /// The namespace root is the read-only image: a `..` path lands on "/" inside the sandbox,
    /// where a write is refused (`readOnlyPath`), and nothing appears on the host.
    override func testDotDotCannotEscapeRoot() async throws {
        let name = "stacyvm-escape-\(UUID().uuidString)"
        await assertThrows({ if case .readOnlyPath = $0 { true } else { false } }) {
            try await self.provider.writeFile(self.id, path: "../../../../../../" + name, bytes: [42], mode: nil)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/" + name), "wrote outside the sandbox")
        _ = try await provider.writeFile(id, path: "../../../../../../workspace/inside", bytes: [42], mode: nil)
        let info = try await provider.stat(id, path: "/workspace/../../workspace/inside")
        XCTAssertEqual(info.path, "/workspace/inside", "`..` stops at the sandbox root")
    }
}

/// What a process inside a namespace sandbox can see and do (runtime.md §2.6; the escape suite of
/// issue 4 grows from these).
final class NamespaceIsolationTests: XCTestCase {
    private var provider: NamespaceProvider!
    private var dataDirectory = ""
    private var spawned: [String] = []

    override func setUp() async throws {
        (provider, dataDirectory) = try NamespaceHost.makeProvider()
    }

    override func tearDown() async throws {
        for id in spawned { _ = try? await provider?.destroy(id) }
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    private func spawn(_ id: String = "ns-" + UUID().uuidString.prefix(8).lowercased()) async throws -> String {
        let runtime = try await provider.spawn(SpawnSpec(sandboxID: id, image: "alpine:latest"))
        spawned.append(runtime)
        return runtime
    }

    private func sh(_ id: String, _ command: String, timeout: Double = 20) async throws -> ExecResult {
        try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", command], timeoutNanos: Int64(timeout * 1e9)))
    }

    private func failure<T>(_ body: () async throws -> T) async -> ProviderError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? ProviderError ?? .internal("\(error)")
        }
    }

    private static func isInvalidInput(_ error: ProviderError?) -> Bool {
        if case .invalidInput? = error { return true }
        return false
    }

    private func out(_ result: ExecResult) -> String {
        String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testRootInsideWithoutCapabilitiesOrNewPrivileges() async throws {
        let id = try await spawn()
        let uid = try await sh(id, "id -u")
        XCTAssertEqual(out(uid), "0")
        let status = out(try await sh(id, "grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status"))
        XCTAssertTrue(status.contains("CapEff:\t0000000000000000"), status)
        XCTAssertTrue(status.contains("CapPrm:\t0000000000000000"), status)
        XCTAssertTrue(status.contains("NoNewPrivs:\t1"), status)
        let hostname = try await sh(id, "hostname")
        XCTAssertEqual(out(hostname), id, "hostname is the sandbox ID")
    }

    func testOwnPidNamespaceHidesHostProcesses() async throws {
        let id = try await spawn()
        let pids = out(try await sh(id, "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '"))
        let numbers = pids.split(separator: " ").compactMap { Int($0) }
        XCTAssertTrue(numbers.contains(1), pids)
        XCTAssertLessThan(numbers.count, 10, "only the sandbox's own processes: \(pids)")
        XCTAssertFalse(numbers.contains(Int(getpid())) && numbers.count > 10)
        // The test process itself is invisible: signalling its PID fails inside.
        let probe = try await sh(id, "kill -0 \(getpid()) 2>/dev/null && echo visible || echo hidden")
        XCTAssertEqual(out(probe), "hidden")
    }

    func testImageIsReadOnlyAndSecretsAreMasked() async throws {
        let id = try await spawn()
        let usr = try await sh(id, "touch /usr/stacyvm-escape")
        XCTAssertNotEqual(usr.exitCode, 0)
        XCTAssertTrue(String(decoding: usr.stderr, as: UTF8.self).contains("Read-only"), String(decoding: usr.stderr, as: UTF8.self))
        let etc = try await sh(id, "touch /etc/stacyvm-escape")
        XCTAssertNotEqual(etc.exitCode, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/usr/stacyvm-escape"))
        if FileManager.default.fileExists(atPath: "/etc/shadow") {
            let shadow = try await sh(id, "wc -c < /etc/shadow")
            XCTAssertEqual(out(shadow), "0", "/etc/shadow is masked")
        }
        for path in ["/workspace", "/tmp", "/root", "/home", "/app"] {
            let write = try await sh(id, "echo ok > \(path)/probe && cat \(path)/probe")
            XCTAssertEqual(out(write), "ok", "\(path) is writable")
        }
    }

    func testLoopbackOnlyNetworkCannotReachHostServices() async throws {
        // A listener on the host's loopback; the sandbox has its own network namespace.
        let listener = LoopbackListener()
        let port = listener.port

        let id = try await spawn()
        let interfaces = out(try await sh(id, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"))
        XCTAssertEqual(interfaces, "lo", "only loopback inside")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        let connect = try await sh(id, "/usr/bin/python3 -c \"import socket; socket.create_connection(('127.0.0.1', \(port)), 2); print('reached')\"")
        XCTAssertNotEqual(connect.exitCode, 0, "the host's loopback service must be unreachable")
        XCTAssertFalse(out(connect).contains("reached"))
    }

    func testEachSandboxHasItsOwnUidAndFilesBelongToIt() async throws {
        try XCTSkipUnless(getuid() == 0, "per-sandbox host uids need root")
        let first = try await spawn()
        let second = try await spawn()
        _ = try await sh(first, "echo a > /workspace/owned")
        _ = try await sh(second, "echo b > /workspace/owned")
        let a = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/\(first)/workspace/owned")
        let b = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/\(second)/workspace/owned")
        let uidA = try XCTUnwrap(a[.ownerAccountID] as? NSNumber).intValue
        let uidB = try XCTUnwrap(b[.ownerAccountID] as? NSNumber).intValue
        XCTAssertGreaterThanOrEqual(uidA, provider.settings.subuidBase)
        XCTAssertGreaterThanOrEqual(uidB, provider.settings.subuidBase)
        XCTAssertNotEqual(uidA, uidB, "one unprivileged host uid per sandbox")
        // Neither sandbox sees the other's files.
        let look = try await sh(first, "ls \(dataDirectory)/\(second) 2>&1; cat /workspace/owned")
        XCTAssertEqual(out(look).split(separator: "\n").last, "a")
    }

    func testDestroyKillsEveryProcessAndRemovesTheSandbox() async throws {
        let id = try await spawn()
        let started = try await sh(id, "sleep 1000 > /dev/null 2>&1 & setsid sleep 1001 > /dev/null 2>&1 & echo ok")
        XCTAssertEqual(out(started), "ok")
        let state = try XCTUnwrap(NamespaceSandbox.load(dataDirectory + "/" + id))
        XCTAssertTrue(state.shim.isAlive)
        let existed = try await provider.destroy(id)
        XCTAssertTrue(existed)
        spawned.removeAll { $0 == id }
        XCTAssertFalse(state.shim.isAlive)
        if getuid() == 0 { XCTAssertFalse(NamespaceProvider.processesRunning(as: state.uid), "a process of the sandbox survived") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/" + id))
        XCTAssertFalse(SlotLock.isHeld(directory: dataDirectory + "/.slots", slot: state.slot), "the uid slot is free again")
        let again = try await provider.destroy(id)
        XCTAssertFalse(again)
    }

    func testDeadSandboxesAreCleanedUpAfterARestart() async throws {
        let dead = try await spawn()
        let alive = try await spawn()
        let state = try XCTUnwrap(NamespaceSandbox.load(dataDirectory + "/" + dead))
        kill(state.shim.pid, SIGKILL)  // the sandbox dies while its owner is down
        for _ in 0..<200 where state.shim.isAlive { try await Task.sleep(nanoseconds: 5_000_000) }
        let restarted = NamespaceProvider(settings: provider.settings)
        let removed = await restarted.cleanUpDeadSandboxes()
        XCTAssertEqual(removed, [dead])
        spawned.removeAll { $0 == dead }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/" + dead))
        for directory in restarted.cgroups(of: dead)?.directories ?? [] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "cgroup \(directory) left behind")
        }
        XCTAssertFalse(SlotLock.isHeld(directory: dataDirectory + "/.slots", slot: state.slot))
        let status = await restarted.status(alive)
        XCTAssertEqual(status, .running, "live sandboxes are kept")
    }

    func testASubuidBaseHeldByAnotherProcessIsRefused() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("no flock(1)") }
        let base = testSubuidBase + 5_000_000
        let directory = access("/run", W_OK) == 0 ? "/run/stacyvm" : NSTemporaryDirectory() + "stacyvm-locks"
        mkdir(directory, 0o755)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-n", directory + "/subuid-\(base).lock", "sleep", "10"]
        try holder.run()
        defer { holder.terminate() }
        try await Task.sleep(nanoseconds: 200_000_000)
        var settings = provider.settings
        settings.subuidBase = base
        let contender = NamespaceProvider(settings: settings)
        let health = await contender.health()
        XCTAssertFalse(health.healthy)
        XCTAssertTrue(health.error?.contains("subuid_base \(base) is in use") == true, health.error ?? "")
        let refused = await failure { try await contender.spawn(SpawnSpec(sandboxID: "ns-contender")) }
        guard case .providerUnavailable? = refused else { return XCTFail("\(String(describing: refused))") }
    }

    func testSandboxesOutliveTheProviderThatStartedThem() async throws {
        let id = try await spawn()
        _ = try await sh(id, "echo kept > /workspace/kept")
        // A new provider on the same data directory stands for a restarted server or worker.
        let restarted = NamespaceProvider(settings: provider.settings)
        let status = await restarted.status(id)
        XCTAssertEqual(status, .running)
        let runtimes = await restarted.listRuntimes()
        XCTAssertEqual(runtimes.map(\.runtimeID), [id])
        let again = try await restarted.spawn(SpawnSpec(sandboxID: id))
        XCTAssertEqual(again, id, "spawn is idempotent across a restart")
        let kept = try await restarted.exec(id, ExecSpec(argv: ["cat", "/workspace/kept"]))
        XCTAssertEqual(out(kept), "kept", "and leaves the running sandbox alone")
        let existed = try await restarted.destroy(id)
        XCTAssertTrue(existed)
        spawned.removeAll { $0 == id }
        let after = await provider.status(id)
        XCTAssertEqual(after, .missing)
    }

    func testAgentInAPrivateDirectoryIsCopiedWhereSandboxUidsReachIt() async throws {
        try XCTSkipUnless(getuid() == 0, "only root switches to sandbox uids")
        let hidden = NSTemporaryDirectory() + "stacyvm-private-\(UUID().uuidString.prefix(8))"
        mkdir(hidden, 0o700)
        defer { try? FileManager.default.removeItem(atPath: hidden) }
        try FileManager.default.copyItem(atPath: provider.settings.agentPath, toPath: hidden + "/stacyvm-agent")
        var settings = provider.settings
        settings.agentPath = hidden + "/stacyvm-agent"
        provider = NamespaceProvider(settings: settings)
        let id = try await spawn()
        let result = try await sh(id, "echo reached")
        XCTAssertEqual(out(result), "reached")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: dataDirectory + "/.agent/stacyvm-agent"))
    }

    func testFilesThroughTheAPIAreTheSandboxsOwn() async throws {
        let id = try await spawn()
        _ = try await provider.writeFile(id, path: "notes/a.txt", bytes: Array("from the API".utf8), mode: 0o600)
        let seen = try await sh(id, "cat /workspace/notes/a.txt; stat -c '%u %a' /workspace/notes/a.txt")
        XCTAssertEqual(out(seen), "from the API0 600", "exec sees the file, owned by the sandbox's root")
        _ = try await sh(id, "printf 'from exec' > /tmp/b.txt")
        let back = try await provider.readFile(id, path: "/tmp/b.txt", maxBytes: nil)
        XCTAssertEqual(String(decoding: back, as: UTF8.self), "from exec")
        if getuid() == 0 {
            let host = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/\(id)/workspace/notes/a.txt")
            let state = try XCTUnwrap(NamespaceSandbox.load(dataDirectory + "/" + id))
            XCTAssertEqual((host[.ownerAccountID] as? NSNumber)?.intValue, state.uid, "owned by the sandbox's host uid")
        }
        let write = await failure { try await self.provider.writeFile(id, path: "/usr/planted", bytes: [1], mode: nil) }
        XCTAssertEqual(write, .readOnlyPath("/usr/planted"))
        let listing = try await provider.list(id, path: "/workspace/notes")
        XCTAssertEqual(listing.map(\.name), ["a.txt"])
    }

    /// Links planted inside point at host paths, at /etc/shadow, at /proc/1/root and up `..`
    /// chains: the agent resolves them in the sandbox's mount namespace, so none reaches the host.
    func testPlantedSymlinksNeverReachHostFiles() async throws {
        let hostDir = NSTemporaryDirectory() + "stacyvm-host-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        Glibc.chmod(hostDir, 0o777)
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        try "host-secret".write(toFile: hostDir + "/secret", atomically: true, encoding: .utf8)
        Glibc.chmod(hostDir + "/secret", 0o666)

        let id = try await spawn()
        let up = String(repeating: "../", count: 20) + hostDir.drop { $0 == "/" }
        let made = try await sh(id, "cd /workspace && ln -s \(hostDir) host && ln -s \(up) up && ln -s /etc/shadow shadow && "
            + "ln -s /proc/1/root root1 && ln -s /proc/1/root\(hostDir) viaproc")
        XCTAssertEqual(made.exitCode, 0, String(decoding: made.stderr, as: UTF8.self))
        for link in ["host", "up", "viaproc"] {
            let read = try? await provider.readFile(id, path: "/workspace/\(link)/secret", maxBytes: nil)
            XCTAssertNotEqual(read.map { String(decoding: $0, as: UTF8.self) }, "host-secret", link)
            _ = try? await provider.writeFile(id, path: "/workspace/\(link)/planted", bytes: [1], mode: nil)
            _ = try? await provider.writeFile(id, path: "/workspace/\(link)/secret", bytes: Array("overwritten".utf8), mode: nil)
            _ = try? await provider.chmod(id, path: "/workspace/\(link)/secret", mode: 0o777)
            _ = try? await provider.delete(id, path: "/workspace/\(link)/secret", recursive: false)
        }
        let shadow = try? await provider.readFile(id, path: "/workspace/shadow", maxBytes: nil)
        XCTAssertTrue(shadow?.isEmpty ?? true, "/etc/shadow reads empty or not at all")
        let rootListing = (try? await provider.list(id, path: "/workspace/root1")) ?? []
        XCTAssertFalse(rootListing.contains { $0.name == "work" || $0.name == "boot" }, "/proc/1/root is the sandbox's root")
        // Commands get no further than the API.
        let fromExec = try await sh(id, "cat /workspace/host/secret /workspace/viaproc/secret 2>/dev/null; echo done")
        XCTAssertEqual(out(fromExec), "done")

        XCTAssertEqual(try String(contentsOfFile: hostDir + "/secret", encoding: .utf8), "host-secret")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hostDir), ["secret"])
        let mode = try FileManager.default.attributesOfItem(atPath: hostDir + "/secret")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o666)
    }

    /// A command swaps a directory for a link (to a host path and to /proc/1/root) as fast as it
    /// can while the API writes through that name: every write lands inside the sandbox or fails.
    func testDirectorySwappedForALinkDuringWritesStaysInside() async throws {
        let hostDir = NSTemporaryDirectory() + "stacyvm-race-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        Glibc.chmod(hostDir, 0o777)
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let id = try await spawn()
        let loop = "cd /workspace; i=0; while [ $i -lt 20000 ]; do mkdir -p race; rm -rf race; ln -s \(hostDir) race; rm -f race; "
            + "ln -s /proc/1/root\(hostDir) race; rm -f race; i=$((i+1)); done"
        _ = try await sh(id, "(\(loop)) > /dev/null 2>&1 & echo started")
        var landed = 0
        for n in 0..<200 {
            if (try? await provider.writeFile(id, path: "/workspace/race/f\(n)", bytes: [1], mode: nil)) != nil { landed += 1 }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hostDir), [], "a write escaped to the host")
        _ = landed  // some writes land in the sandbox's own race/ directory; which ones is timing
    }

    /// The default filter is what stops these: the same commands succeed with `seccomp: off`.
    func testSeccompBlocksNewNamespacesAndKernelInterfaces() async throws {
        let probes = "grep '^Seccomp:' /proc/self/status; unshare -U true && echo userns-created; "
            + "/usr/bin/python3 -c 'import os; os.unshare(os.CLONE_NEWUSER); print(\"python-unshare\")' 2>/dev/null; "
            + "/usr/bin/python3 -c 'import ctypes; l=ctypes.CDLL(None); print(\"keyctl\", l.syscall(250, 0, 0, 0, 0, 0), ctypes.get_errno())' 2>/dev/null; true"
        let id = try await spawn()
        let filtered = out(try await sh(id, probes))
        XCTAssertTrue(filtered.hasPrefix("Seccomp:\t2"), filtered)
        XCTAssertFalse(filtered.contains("userns-created"), filtered)
        XCTAssertFalse(filtered.contains("python-unshare"), filtered)

        var open = provider.settings
        open.seccomp = false
        let unfiltered = NamespaceProvider(settings: open)
        let other = try await unfiltered.spawn(SpawnSpec(sandboxID: "ns-open-" + UUID().uuidString.prefix(6).lowercased()))
        spawned.append(other)
        let result = try await unfiltered.exec(other, ExecSpec(argv: ["/bin/sh", "-c", probes]))
        let text = out(result)
        XCTAssertTrue(text.hasPrefix("Seccomp:\t0"), text)
        XCTAssertTrue(text.contains("userns-created"), "without the filter a new user namespace is allowed: \(text)")
    }

    /// Escape suite probes: ptrace, kernel modules, mounts and raw clone flags all fail inside.
    func testKernelInterfacesAreRefusedInside() async throws {
        let id = try await spawn()
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("no python3") }
        let probe = """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            def call(name, *args):
                r = libc.syscall(*args)
                print(name, r, ctypes.get_errno())
            call("ptrace_attach", 101, 16, 1, 0, 0)          # PTRACE_ATTACH to the sandbox's init
            call("finit_module", 313, 0, b"", 0)
            call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, 0)
            call("clone_newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
            call("reboot", 169, 0xfee1dead, 672274793, 0x1234567, 0)
            call("bpf", 321, 0, 0, 0)
            """
        _ = try await provider.writeFile(id, path: "/tmp/probe.py", bytes: Array(probe.utf8), mode: nil)
        let result = out(try await sh(id, "\(python) /tmp/probe.py"))
        let lines = result.split(separator: "\n")
        XCTAssertEqual(lines.count, 6, result)
        for line in lines {
            let parts = line.split(separator: " ")
            XCTAssertEqual(parts.count, 3, String(line))
            XCTAssertEqual(parts[1], "-1", "\(line): the call must fail")
        }
    }

    func testTwoSandboxesCannotSeeEachOthersProcessesOrPorts() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3") }
        let a = try await spawn()
        let b = try await spawn()
        _ = try await sh(a, "sleep 1234 > /dev/null 2>&1 & /usr/bin/python3 -m http.server 8765 --bind 127.0.0.1 > /dev/null 2>&1 & echo ok")
        let connect = "/usr/bin/python3 -c \"import socket,time\nfor i in range(50):\n  try:\n    socket.create_connection(('127.0.0.1', 8765), 1); print('open'); break\n  except OSError: time.sleep(0.1)\nelse: print('closed')\""
        let fromA = try await sh(a, connect)
        XCTAssertEqual(out(fromA), "open", "the server runs in A")
        let fromB = try await sh(b, connect.replacingOccurrences(of: "range(50)", with: "range(3)"))
        XCTAssertEqual(out(fromB), "closed", "B cannot reach A's port")
        let count = "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'sleep 123[4]' || true"
        let inA = try await sh(a, count)
        XCTAssertEqual(out(inA), "1", "A sees its own sleep")
        let seen = try await sh(b, count)
        XCTAssertEqual(out(seen), "0", "B cannot see A's processes")
    }

    /// Previews: openPort reaches a server on the sandbox's own loopback, which the host's
    /// loopback cannot; a closed port is portUnreachable.
    func testOpenPortReachesTheSandboxsLoopback() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3") }
        let id = try await spawn()
        _ = try await sh(id, "cd /workspace && echo preview-ok > index.html && "
            + "/usr/bin/python3 -m http.server 8089 --bind 127.0.0.1 > /dev/null 2>&1 & echo started")
        var fd: Int32 = -1
        for _ in 0..<100 {
            if let opened = try? await provider.openPort(id, port: 8089) { fd = opened; break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertGreaterThanOrEqual(fd, 0, "could not reach the sandbox's server")
        guard fd >= 0 else { return }
        defer { close(fd) }
        let request = Array("GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.0 200"), text)
        XCTAssertTrue(text.hasSuffix("preview-ok\n"), text)
        // The host's own loopback has no such server: the port lives only inside.
        let hostSide = await failure { try connectLoopback(port: 8089) }
        XCTAssertEqual(hostSide, .portUnreachable)
        let closed = await failure { try await self.provider.openPort(id, port: 8090) }
        XCTAssertEqual(closed, .portUnreachable)
    }

    // MARK: limits (cgroups)

    private func limitedSpawn(memoryMB: Int = 512, vcpus: Int = 1, pidsMax: Int? = nil) async throws -> String {
        try XCTSkipUnless(provider.limitsProblem() == nil || ProcessInfo.processInfo.environment["STACYVM_REQUIRE_NAMESPACE"] == "1",
                          "cgroup limits unavailable: \(provider.limitsProblem() ?? "")")
        if let pidsMax {
            var settings = provider.settings
            settings.pidsMax = pidsMax
            provider = NamespaceProvider(settings: settings)
        }
        let id = "ns-" + UUID().uuidString.prefix(8).lowercased()
        let runtime = try await provider.spawn(SpawnSpec(sandboxID: id, memoryMB: memoryMB, vcpus: vcpus))
        spawned.append(runtime)
        return runtime
    }

    func testLimitsAreWrittenToRealCgroups() async throws {
        let id = try await limitedSpawn(memoryMB: 96, vcpus: 2, pidsMax: 77)
        let cgroups = try XCTUnwrap(provider.cgroups(of: id))
        for directory in cgroups.directories {
            XCTAssertTrue(CgroupLayout.isCgroupFilesystem(directory), "\(directory) is on a cgroup filesystem")
        }
        let memory = try XCTUnwrap(cgroups.directory(for: "memory"))
        let pids = try XCTUnwrap(cgroups.directory(for: "pids"))
        let v2 = provider.cgroupLayout.version(of: "memory") == "v2"
        let limit = try String(contentsOfFile: memory + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), encoding: .utf8)
        XCTAssertEqual(limit.trimmingCharacters(in: .whitespacesAndNewlines), String(96 << 20))
        XCTAssertEqual(try String(contentsOfFile: pids + "/pids.max", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "77")
        // The sandbox's processes are in it: the agent and a command it runs.
        let inside = try await sh(id, "sleep 5 & echo $!")
        XCTAssertFalse(cgroups.pids(in: memory).isEmpty)
        XCTAssertEqual(inside.exitCode, 0)
        let stats = await provider.stats(id)
        XCTAssertEqual(stats?.memLimitBytes, 96 << 20)
        XCTAssertGreaterThan(stats?.memBytes ?? 0, 0)
        _ = try await provider.destroy(id)
        spawned.removeAll { $0 == id }
        for directory in cgroups.directories {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "cgroup \(directory) left behind")
        }
    }

    func testMemoryHogIsKilledWhileTheAgentLivesOn() async throws {
        let id = try await limitedSpawn(memoryMB: 64)
        let before = out(try await sh(id, "cut -d' ' -f22 /proc/2/stat; cat /proc/2/cmdline | tr '\\0' ' '"))
        XCTAssertTrue(before.contains("agent"), before)
        let hog = try await sh(id, "/usr/bin/python3 -c 'a = []\nwhile True: a.append(bytearray(8 << 20))'", timeout: 30)
        XCTAssertEqual(hog.exitCode, 137, "an OOM kill is exit 137: \(String(decoding: hog.stderr, as: UTF8.self))")
        XCTAssertTrue(hog.oomKilled, "reported as an OOM kill (the manager publishes sandbox.oom)")
        let killed = try await sh(id, "kill -9 $$")
        XCTAssertEqual(killed.exitCode, 137)
        XCTAssertFalse(killed.oomKilled, "a plain SIGKILL is not an OOM kill")
        let after = out(try await sh(id, "cut -d' ' -f22 /proc/2/stat; cat /proc/2/cmdline | tr '\\0' ' '"))
        XCTAssertEqual(after, before, "the agent survived the OOM kill")
        XCTAssertGreaterThan(try XCTUnwrap(provider.cgroups(of: id)).oomKills, 0)
    }

    func testForkBombIsHeldAtPidsMaxWhileOthersStayResponsive() async throws {
        let bomb = try await limitedSpawn(pidsMax: 40)
        let neighbour = try await limitedSpawn()
        _ = try await sh(bomb, "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null; true", timeout: 30)
        // Counted from the host: inside, nothing can fork any more.
        let pids = try XCTUnwrap(provider.cgroups(of: bomb)?.directory(for: "pids"))
        let current = try String(contentsOfFile: pids + "/pids.current", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let count = Int(current) ?? -1
        XCTAssertGreaterThan(count, 30, "the bomb filled the sandbox: \(current)")
        XCTAssertLessThanOrEqual(count, 40, "processes beyond pids_max")
        let started = Date()
        let other = try await sh(neighbour, "echo alive")
        XCTAssertEqual(out(other), "alive")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the neighbour stays responsive")
        let destroyStarted = Date()
        _ = try await provider.destroy(bomb)
        spawned.removeAll { $0 == bomb }
        XCTAssertLessThan(Date().timeIntervalSince(destroyStarted), 3, "destroy of a full sandbox is prompt")
    }

    /// `setsid` (a new session and process group) does not let a process outlive its exec's
    /// timeout; a plain background process of a completed exec does live on (runtime.md §4).
    func testTimeoutKillsProcessesThatLeftTheProcessGroup() async throws {
        let id = try await spawn()
        let count = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 100[12] ' || true"
        let timedOut = await failure {
            try await self.provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", "setsid sleep 1001 & (setsid sh -c 'sleep 1002 & wait' &) ; sleep 30"],
                                                      timeoutNanos: 1_000_000_000))
        }
        XCTAssertEqual(timedOut, .execTimeout)
        let left = try await sh(id, count)
        XCTAssertEqual(out(left), "0", "a setsid process survived the timeout")

        _ = try await sh(id, "setsid sleep 1001 > /dev/null 2>&1 & echo started")
        let kept = try await sh(id, count)
        XCTAssertEqual(out(kept), "1", "a completed exec's background process keeps running")
    }

    // MARK: images

    /// A real root filesystem (busybox, from Debian's busybox-static) imported and used: the
    /// sandbox sees that image, not the host's /usr and /etc.
    func testImportedImageIsTheSandboxRoot() async throws {
        let busybox = "/bin/busybox"
        guard FileManager.default.isExecutableFile(atPath: busybox) else {
            throw XCTSkip("no \(busybox) (Debian's busybox-static, installed by scripts/install-deps.sh)")
        }
        let source = NSTemporaryDirectory() + "stacyvm-rootfs-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: source) }
        try FileManager.default.createDirectory(atPath: source + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: source + "/etc", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: busybox, toPath: source + "/bin/busybox")
        for applet in ["sh", "cat", "ls", "echo", "id"] {
            try FileManager.default.createSymbolicLink(atPath: source + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "NAME=stacyvm-test-image\n".write(toFile: source + "/etc/os-release", atomically: true, encoding: .utf8)
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: source + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:secret-hash:1::::::\n".write(toFile: source + "/etc/shadow", atomically: true, encoding: .utf8)
        _ = try provider.images.importImage(name: "tiny:1", from: source)
        XCTAssertTrue(provider.images.available().contains("tiny_1"))

        let id = "ns-" + UUID().uuidString.prefix(8).lowercased()
        spawned.append(try await provider.spawn(SpawnSpec(sandboxID: id, image: "tiny:1")))
        let result = try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", "cat /etc/os-release; ls /; ls /usr 2>&1 | head -1; cat /etc/shadow | wc -c"]))
        let text = out(result)
        XCTAssertTrue(text.hasPrefix("NAME=stacyvm-test-image"), text)
        XCTAssertTrue(text.contains("/usr: No such file"), "the host's /usr is not mounted: \(text)")
        XCTAssertTrue(text.hasSuffix("0"), "the image's /etc/shadow is masked: \(text)")
        _ = try await provider.writeFile(id, path: "/workspace/x", bytes: [1], mode: nil)  // files work in any image

        // Unknown names use the fallback; with no fallback they are a 400 naming the images.
        var strict = provider.settings
        strict.imageFallback = ""
        let strictProvider = NamespaceProvider(settings: strict)
        let refused = await failure { try await strictProvider.spawn(SpawnSpec(sandboxID: "ns-nope", image: "python:3.12")) }
        guard case .imageNotFound(let message)? = refused else { return XCTFail("\(String(describing: refused))") }
        XCTAssertTrue(message.contains("tiny_1") && message.contains("host"), message)
    }

    func testConsoleIsABoundedRingOfTheLastLines() async throws {
        var settings = provider.settings
        settings.consoleLines = 20
        provider = NamespaceProvider(settings: settings)
        let id = try await spawn()
        for n in 0..<420 { _ = try await sh(id, "exit \(n % 100)") }  // about 11 KB of lines
        let lines = try await provider.console(id, lines: 1000)
        XCTAssertEqual(lines.count, 20, "\(lines)")
        XCTAssertEqual(lines.last, "[EXEC] /bin/sh exit=19")
        let size = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/\(id)/console.log")[.size] as? Int ?? 0
        XCTAssertLessThanOrEqual(size, 20 * 256 + 64, "the file is bounded too")
    }

    /// `upper: tmpfs`: writable paths are tmpfs mounts of disk_mb, a hard cap.
    func testTmpfsUpperIsAHardDiskCap() async throws {
        var settings = provider.settings
        settings.upper = "tmpfs"
        settings.diskMB = 8
        provider = NamespaceProvider(settings: settings)
        let id = try await spawn()
        let fill = try await sh(id, "head -c 12000000 /dev/zero > /workspace/big; echo rc=$?; stat -c %s /workspace/big")
        let text = out(fill)
        XCTAssertTrue(text.contains("No space left") || text.contains("rc=1"), text)
        let size = Int(text.split(separator: "\n").last ?? "") ?? Int.max
        XCTAssertLessThanOrEqual(size, 8 << 20, "the write stopped at disk_mb")
        let write = await failure { try await self.provider.writeFile(id, path: "/workspace/more", bytes: [UInt8](repeating: 1, count: 1 << 20), mode: nil) }
        guard case .resourceLimit? = write else { return XCTFail("\(String(describing: write))") }
        let tmp = try await sh(id, "stat -c %a /tmp")
        XCTAssertEqual(out(tmp), "1777")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/\(id)/workspace/big"), "nothing on the host disk")
    }

    /// `upper: disk`: disk_mb is a soft cap that API writes respect (413 past it).
    func testDiskUpperRefusesAPIWritesPastDiskMB() async throws {
        var settings = provider.settings
        settings.diskMB = 4
        provider = NamespaceProvider(settings: settings)
        let id = try await spawn()
        _ = try await provider.writeFile(id, path: "/workspace/a", bytes: [UInt8](repeating: 7, count: 3 << 20), mode: nil)
        let second = await failure { try await self.provider.writeFile(id, path: "/workspace/b", bytes: [UInt8](repeating: 7, count: 2 << 20), mode: nil) }
        guard case .tooLarge? = second else { return XCTFail("\(String(describing: second))") }
        XCTAssertEqual(ProviderError.tooLarge("").status, 413)
        _ = try await provider.writeFile(id, path: "/workspace/small", bytes: [1], mode: nil)
    }

    func testMissingWorkdirAndCommandAreInvalidInput() async throws {
        let id = try await spawn()
        let badWorkdir = await failure { try await self.provider.exec(id, ExecSpec(argv: ["true"], workdir: "/nope")) }
        XCTAssertTrue(Self.isInvalidInput(badWorkdir), "\(String(describing: badWorkdir))")
        let badCommand = await failure { try await self.provider.exec(id, ExecSpec(argv: ["no-such-command-xyz"])) }
        XCTAssertTrue(Self.isInvalidInput(badCommand), "\(String(describing: badCommand))")
        // The same refusal before anything runs (what a stream answers with a plain 400).
        let checked = await failure { () async throws -> Int in
            try await self.provider.checkExec(id, ExecSpec(argv: ["true"], workdir: "/nope"))
            return 0
        }
        XCTAssertTrue(Self.isInvalidInput(checked), "\(String(describing: checked))")
        try await provider.checkExec(id, ExecSpec(argv: ["true"], workdir: "/tmp"))
        let env = try await provider.exec(id, ExecSpec(argv: ["/bin/sh", "-c", "echo $STACYVM_SANDBOX_ID $HOME $GREETING; pwd"],
                                                      env: ["GREETING": "hi"], workdir: "/tmp"))
        XCTAssertEqual(out(env), "\(id) /root hi\n/tmp")
        let stdin = try await provider.exec(id, ExecSpec(argv: ["cat"], stdin: Array("from stdin".utf8)))
        XCTAssertEqual(out(stdin), "from stdin")
    }
}
