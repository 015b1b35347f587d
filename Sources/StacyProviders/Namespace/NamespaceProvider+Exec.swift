import Foundation
import Glibc
import StacyAgentWire
import Synchronization

/// Exec, streams and the console of namespace sandboxes: through the agent inside each one.
extension NamespaceProvider {
    // MARK: exec

    public func exec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) -> ExecResult {
        let collector = OutputCollector(limit: max(0, spec.maxOutputBytes))
        var exit: ExecExit?
        for await event in execStream(runtimeID, spec) {
            switch event {
            case .output(let stream, let bytes): collector.append(stream, bytes)
            case .exit(let e): exit = e
            }
        }
        guard let exit else { throw .internal("exec ended without an exit") }
        if let error = exit.error { throw error }
        let (stdout, stderr, outTruncated, errTruncated) = collector.take()
        var result = ExecResult(exitCode: exit.exitCode, stdout: stdout, stderr: stderr, durationNanos: exit.durationNanos,
                                stdoutTruncated: outTruncated, stderrTruncated: errTruncated)
        result.oomKilled = exit.oomKilled
        return result
    }

    public func execStream(_ runtimeID: String, _ spec: ExecSpec) -> AsyncStream<ExecEvent> {
        AsyncStream { continuation in
            do throws(ProviderError) {
                let sandbox = try lookup(runtimeID)
                let request = try makeRequest(sandbox, spec)
                let command = spec.argv[0]
                // An exit 137 with a new OOM kill in the sandbox's memory cgroup is the limit's doing.
                let cgroups = self.cgroups(of: sandbox.id)
                let oomBefore = cgroups?.oomKills ?? 0
                let connection = AgentClient.exec(socketPath: sandbox.socketPath, request: request) { event in
                    var event = event
                    if case .exit(var exit) = event, exit.exitCode == 137, let cgroups, cgroups.oomKills > oomBefore {
                        exit.oomKilled = true
                        event = .exit(exit)
                    }
                    continuation.yield(event)
                    if case .exit(let exit) = event {
                        sandbox.appendConsole("[EXEC] \(command) exit=\(exit.exitCode)", keep: self.settings.consoleLines)
                        continuation.finish()
                    }
                }
                // Only a consumer that went away (not our own finish) cancels: the agent then kills
                // the exec's processes.
                continuation.onTermination = { reason in
                    if case .cancelled = reason { connection?.cancel() }
                }
            } catch {
                continuation.yield(.exit(ExecExit(exitCode: -1, durationNanos: 0, error: error)))
                continuation.finish()
            }
        }
    }

    /// The argv/env/workdir checks, and the workdir's existence asked of the agent. (A missing
    /// command still surfaces in the exit frame: resolving it needs the sandbox's PATH lookup.)
    public func checkExec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) {
        let request = try makeRequest(try lookup(runtimeID), spec)
        let info: FileInfo
        do {
            info = try await stat(runtimeID, path: request.workdir)
        } catch .fileNotFound {
            throw .invalidInput("workdir does not exist: \(request.workdir)")
        }
        guard info.isDir else { throw .invalidInput("workdir is not a directory: \(request.workdir)") }
    }

    private func makeRequest(_ sandbox: NamespaceSandbox, _ spec: ExecSpec) throws(ProviderError) -> AgentExecRequest {
        let workdir = try spec.validated()
        let env = try spec.environment(over: ["PATH": Self.basePath, "HOME": "/root", "LANG": "C.UTF-8",
                                              "TERM": "xterm-256color", "STACYVM_SANDBOX_ID": sandbox.id])
        return AgentExecRequest(argv: spec.argv, environment: env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
                                workdir: workdir, stdin: spec.stdin, timeoutNanos: spec.timeoutNanos)
    }

    // MARK: console

    public func console(_ runtimeID: String, lines: Int) async throws(ProviderError) -> [String] {
        let sandbox = try lookup(runtimeID)
        return sandbox.consoleLines(last: min(max(0, lines), settings.consoleLines))
    }

    public func followConsole(_ runtimeID: String, lines: Int) -> AsyncStream<ConsoleEvent> {
        AsyncStream { continuation in
            guard let sandbox = try? lookup(runtimeID) else {
                continuation.yield(.ended)
                continuation.finish()
                return
            }
            let task = Task {
                var seen = sandbox.consoleLineCount()
                for line in sandbox.consoleLines(last: max(0, lines)) { continuation.yield(.line(line)) }
                while !Task.isCancelled && sandbox.shim.isAlive {
                    try? await Task.sleep(nanoseconds: 200_000_000)
                    let all = sandbox.consoleLines(last: Int.max)
                    if all.count > seen {
                        for line in all[seen...] { continuation.yield(.line(line)) }
                        seen = all.count
                    }
                }
                // A consumer that went away is not a destroy: no `.ended` for it.
                if !Task.isCancelled { continuation.yield(.ended) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func stats(_ runtimeID: String) async -> SandboxStats? {
        guard let cgroups = cgroups(of: runtimeID), let usage = cgroups.memoryUsageBytes,
              let memory = cgroups.directory(for: "memory") else { return nil }
        let file = cgroupLayout.version(of: "memory") == "v2" ? "/memory.max" : "/memory.limit_in_bytes"
        let limit = (try? String(contentsOfFile: memory + file, encoding: .utf8))
            .flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        return SandboxStats(cpuPct: 0, memBytes: usage, memLimitBytes: limit)
    }
}
