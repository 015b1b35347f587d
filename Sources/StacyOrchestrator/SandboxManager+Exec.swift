import Foundation
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyProviders
import StacyStore

/// A validated exec: what the provider runs and how the answer is encoded.
public struct PreparedExec: Sendable {
    public let record: SandboxRecord
    public let command: String
    public let sandbox: String
    public let runtimeID: String
    public let provider: any Provider
    public let spec: ExecSpec
    public let base64Output: Bool
    public let timeout: GoDuration
}

extension SandboxManager {
    /// Validates an exec request (api.md §6.1, runtime.md §4) and resolves its sandbox.
    public func prepareExec(_ id: String, _ request: ExecRequest, principal: Principal) async throws(APIError) -> PreparedExec {
        guard let command = request.command, !command.isEmpty else { throw .badRequest("command is required") }
        guard command.utf8.count <= 64 << 10 else { throw .badRequest("command exceeds 64 KiB") }
        let args = request.args ?? []
        guard args.count <= 1024 else { throw .badRequest("args has more than 1024 items") }
        let mode = request.mode ?? ""
        guard ["", "shell", "argv"].contains(mode) else { throw .badRequest("mode must be shell or argv") }
        let env = request.env ?? [:]
        try Validate.environment(env)
        let workdir: String
        do { workdir = try SandboxPath.normalize(request.workdir ?? "/workspace") } catch { throw error.apiError }
        let stdin = Array((request.stdin ?? "").utf8)
        guard stdin.count <= 1 << 20 else { throw .badRequest("stdin exceeds 1 MiB") }
        let encoding = request.outputEncoding ?? "utf8"
        guard encoding == "utf8" || encoding == "base64" || encoding == "" else {
            throw .badRequest("output_encoding must be utf8 or base64")
        }
        let (record, provider) = try await runtime(id, principal: principal)
        // The owner's quota may lower the exec timeout cap (runtime.md §10).
        let timeout = try execTimeout(request.timeout, max: try effectiveLimits(owner: record.ownerID ?? "").maxExecTimeout)
        let argv = mode == "argv" ? [command] + args : ExecCommand.shell(command, args)
        // The template's env applies to every exec; the request's wins (runtime.md §4).
        var mergedEnv = (try? JanssonDecoder().decode([String: String].self, from: Array(record.envJSON.utf8))) ?? [:]
        mergedEnv.merge(env) { $1 }
        return PreparedExec(record: record, command: command, sandbox: record.id, runtimeID: record.vmID ?? record.id, provider: provider,
                            spec: ExecSpec(argv: argv, env: mergedEnv, workdir: workdir, stdin: stdin,
                                           timeoutNanos: timeout.nanoseconds, maxOutputBytes: settings.maxExecOutputBytes),
                            base64Output: encoding == "base64", timeout: timeout)
    }

    /// runtime.md §4: the request's timeout, else the default, where 0 means the max; above the
    /// max is 429, negative or unparsable 400.
    func execTimeout(_ raw: String?, max: GoDuration) throws(APIError) -> GoDuration {
        var timeout = settings.defaultExecTimeout
        if let raw {
            do { timeout = try GoDuration.parse(raw) } catch { throw .badRequest("timeout: \(error.message)") }
            guard timeout.nanoseconds >= 0 else { throw .badRequest("timeout must not be negative") }
            if timeout.nanoseconds == 0 { timeout = settings.defaultExecTimeout }
        }
        if timeout.nanoseconds == 0 || timeout > max && raw == nil { timeout = max }
        if timeout > max {
            throw .resourceLimit("timeout \(timeout) exceeds the maximum \(max)")
        }
        return timeout
    }

    /// Counts a running exec against `limits.max_execs_per_sandbox`; the returned closure
    /// releases it.
    public func admitExec(_ sandbox: String) throws(APIError) -> @Sendable () -> Void {
        let limit = settings.maxExecsPerSandbox
        let admitted = execCounts.withLock { counts -> Bool in
            let running = counts[sandbox, default: 0]
            guard running < limit else { return false }
            counts[sandbox] = running + 1
            return true
        }
        guard admitted else { throw .resourceLimit("sandbox already runs \(limit) execs") }
        return { [self] in
            execCounts.withLock { counts in
                let left = counts[sandbox, default: 1] - 1
                counts[sandbox] = left > 0 ? left : nil
            }
        }
    }

    public struct SyncExecOutcome: Sendable {
        public let response: ExecResponse
        public let stdoutTruncated: Bool
        public let stderrTruncated: Bool
    }

    /// What the provider would refuse before running anything, as the plain error a stream must
    /// answer with before its first byte (api.md §6.3).
    public func checkExec(_ prepared: PreparedExec) async throws(APIError) {
        do {
            try await prepared.provider.checkExec(prepared.runtimeID, prepared.spec)
        } catch {
            throw error.apiError
        }
    }

    /// Runs to completion; a timeout is 408 (api.md §6.2).
    public func exec(_ prepared: PreparedExec) async throws(APIError) -> SyncExecOutcome {
        let release = try admitExec(prepared.sandbox)
        defer { release() }
        let started = execStarted(prepared)
        let result: ExecResult
        do {
            result = try await prepared.provider.exec(prepared.runtimeID, prepared.spec)
        } catch .execTimeout {
            execFinished(prepared, started: started, stream: false, exitCode: -1, timedOut: true, error: "TIMEOUT")
            throw APIError(status: 408, code: "TIMEOUT", message: "exec timeout")
        } catch {
            execFinished(prepared, started: started, stream: false, exitCode: -1, timedOut: false, error: error.code)
            throw error.apiError
        }
        execFinished(prepared, started: started, stream: false, exitCode: result.exitCode, timedOut: false, error: nil,
                     stdout: result.stdout, stderr: result.stderr, oomKilled: result.oomKilled)
        let response = ExecResponse(exitCode: result.exitCode,
                                    stdout: ExecCommand.encode(result.stdout, base64: prepared.base64Output),
                                    stderr: ExecCommand.encode(result.stderr, base64: prepared.base64Output),
                                    duration: GoDuration(nanoseconds: result.durationNanos).description)
        return SyncExecOutcome(response: response, stdoutTruncated: result.stdoutTruncated, stderrTruncated: result.stderrTruncated)
    }
}

extension SandboxManager {
    /// `exec.started` (runtime.md §4 Bookkeeping); returns the start time for `execFinished`.
    public func execStarted(_ prepared: PreparedExec) -> UInt64 {
        publish("exec.started", prepared.record, data: ["command": String(prepared.command.prefix(256))])
        return monotonicNanos()
    }

    /// `exec.completed`, `exec.failed` or `exec.timeout`, the operation metric and the exec log
    /// row, all through the batched writer.
    public func execFinished(_ prepared: PreparedExec, started: UInt64, stream: Bool, exitCode: Int, timedOut: Bool,
                             error: String?, stdout: [UInt8] = [], stderr: [UInt8] = [], oomKilled: Bool = false) {
        let operation = stream ? "exec_stream" : "exec"
        operations.record(operation, provider: prepared.provider.name, startedNanos: started,
                          error: timedOut ? "TIMEOUT" : error)
        let type = timedOut ? "exec.timeout" : (error == nil ? "exec.completed" : "exec.failed")
        var data = ["exit_code": String(exitCode)]
        if let error { data["error"] = error }
        publish(type, prepared.record, data: data)
        if oomKilled {
            publish("sandbox.oom", prepared.record, data: ["exit_code": String(exitCode),
                                                           "command": String(prepared.command.prefix(256))])
        }
        let cap = settings.execLogMaxBytes
        let argv = (try? JanssonEncoder().encode(prepared.spec.argv)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        writer.submit(.execLog(ExecLogRecord(
            sandboxID: prepared.sandbox, command: String(prepared.command.prefix(4096)), argvJSON: argv, exitCode: exitCode,
            stdout: String(decoding: stdout.prefix(cap), as: UTF8.self), stderr: String(decoding: stderr.prefix(cap), as: UTF8.self),
            durationMs: Int64((monotonicNanos() - started) / 1_000_000))))
    }
}

/// Turning API exec requests into argv, and output into wire text.
public enum ExecCommand {
    /// Shell mode (runtime.md §4): `/bin/sh -c "command 'arg1' 'arg2'"`, each argument
    /// single-quoted with an embedded `'` written as `'"'"'`.
    public static func shell(_ command: String, _ args: [String]) -> [String] {
        var line = command
        for arg in args { line += " " + quote(arg) }
        return ["/bin/sh", "-c", line]
    }

    public static func quote(_ arg: String) -> String {
        "'" + arg.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\"'\"'") + "'"
    }

    /// utf8 mode replaces invalid bytes with U+FFFD; base64 mode is byte-exact.
    public static func encode(_ bytes: [UInt8], base64: Bool) -> String {
        base64 ? Data(bytes).base64EncodedString() : String(decoding: bytes, as: UTF8.self)
    }
}
