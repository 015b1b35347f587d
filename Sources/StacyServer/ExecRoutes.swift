import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyProviders
import Synchronization

enum NDJSON {
    /// One frame and its newline. Frames are small value types that always encode; the fallback
    /// still keeps the stream valid NDJSON.
    static func line<T: Encodable>(_ frame: T) -> [UInt8] {
        ((try? JanssonEncoder().encode(frame)) ?? Array(#"{"stream":"exit","exit_code":-1,"duration":"0s"}"#.utf8)) + [UInt8(ascii: "\n")]
    }
}

/// api.md §6: exec, buffered or as an NDJSON stream.
enum ExecRoutes {
    static let exec = RouteInfo(method: "POST", path: "/api/v1/sandboxes/{id}/exec", operationID: "execCommand", scope: "api:*")
    static let all = [exec]

    static func routes(_ manager: SandboxManager, auth: Authenticator) -> [Route] {
        [
            Route(exec, handler: .async { request in
                let caller = try auth.authorize(request, exec, sandboxIn: manager)
                let body = try request.decodeJSON(ExecRequest.self)
                let prepared = try await manager.prepareExec(request.pathParameter("id"), body, principal: caller)
                if body.stream == true {
                    try await manager.checkExec(prepared)
                    return try stream(prepared, manager)
                }
                let outcome = try await manager.exec(prepared)
                var response = HTTPResponse.json(outcome.response)
                if outcome.stdoutTruncated { response.headers.append(("X-Stacyvm-Stdout-Truncated", "true")) }
                if outcome.stderrTruncated { response.headers.append(("X-Stacyvm-Stderr-Truncated", "true")) }
                return response
            }),
        ]
    }

    /// Frames of §6.3: output frames of at most 64 KiB that never split a UTF-8 character, blank
    /// keep-alive lines when idle, and always one exit frame last.
    private static func stream(_ prepared: PreparedExec, _ manager: SandboxManager) throws(APIError) -> HTTPResponse {
        let release = try manager.admitExec(prepared.sandbox)
        let keepalive = manager.settings.streamKeepalive
        let trailer = line(ExecExitFrame(exitCode: -1, duration: "0s",
                                         error: ErrorEnvelope(code: "UNAVAILABLE", message: "server shutting down")))
        return .stream(contentType: "application/x-ndjson", shutdownTrailer: trailer) { writer in
            defer { release() }
            let started = manager.execStarted(prepared)
            var finished = false
            defer {
                // A client that went away before the exit frame still leaves a complete record.
                if !finished {
                    manager.execFinished(prepared, started: started, stream: true, exitCode: -1, timedOut: false,
                                         error: "CLIENT_DISCONNECTED")
                }
            }
            let lastWrite = Atomic<UInt64>(monotonicNanos())
            let pinger = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(keepalive.nanoseconds))
                    if monotonicNanos() - lastWrite.load(ordering: .relaxed) >= UInt64(keepalive.nanoseconds) {
                        guard await writer.write([UInt8(ascii: "\n")]) else { return }
                        lastWrite.store(monotonicNanos(), ordering: .relaxed)
                    }
                }
            }
            defer { pinger.cancel() }
            var pending: [OutputStream: [UInt8]] = [:]
            for await event in prepared.provider.execStream(prepared.runtimeID, prepared.spec) {
                switch event {
                case .output(let stream, let bytes):
                    let frames = frame(pending[stream, default: []] + bytes, base64: prepared.base64Output, final: false)
                    pending[stream] = frames.rest
                    for data in frames.frames {
                        guard await writer.write(line(ExecOutputFrame(stream: stream.rawValue, data: data))) else { return }
                        lastWrite.store(monotonicNanos(), ordering: .relaxed)
                    }
                case .exit(let exit):
                    finished = true
                    manager.execFinished(prepared, started: started, stream: true, exitCode: exit.timedOut ? -1 : exit.exitCode,
                                         timedOut: exit.timedOut, error: exit.error?.code, oomKilled: exit.oomKilled)
                    for (stream, rest) in pending where !rest.isEmpty {
                        for data in frame(rest, base64: prepared.base64Output, final: true).frames {
                            guard await writer.write(line(ExecOutputFrame(stream: stream.rawValue, data: data))) else { return }
                        }
                    }
                    await writer.write(line(exitFrame(exit)))
                    return
                }
            }
        }
    }

    private static func exitFrame(_ exit: ExecExit) -> ExecExitFrame {
        let duration = GoDuration(nanoseconds: exit.durationNanos).description
        if exit.timedOut {
            return ExecExitFrame(exitCode: -1, duration: duration, timedOut: true,
                                 error: ErrorEnvelope(code: "TIMEOUT", message: "exec timeout"))
        }
        if let error = exit.error {
            return ExecExitFrame(exitCode: -1, duration: duration, error: ErrorEnvelope(code: error.code, message: error.message))
        }
        return ExecExitFrame(exitCode: exit.exitCode, duration: duration)
    }

    private static func line<T: Encodable>(_ frame: T) -> [UInt8] { NDJSON.line(frame) }

    static let maxFrameBytes = 64 << 10

    /// Splits output into frame texts. In UTF-8 mode a trailing incomplete character is held
    /// back (`rest`) until more bytes arrive, unless this is the final flush.
    static func frame(_ bytes: [UInt8], base64: Bool, final: Bool) -> (frames: [String], rest: [UInt8]) {
        var frames: [String] = []
        var start = 0
        // Base64 of 48 KiB of input is 64 KiB of text.
        let chunk = base64 ? (maxFrameBytes / 4 * 3) : maxFrameBytes
        var end = bytes.count
        if !base64 && !final { end = completeUTF8Prefix(bytes) }
        while start < end {
            var stop = min(start + chunk, end)
            if !base64 && stop < end {
                while stop > start && (bytes[stop] & 0xC0) == 0x80 { stop -= 1 }
                if stop == start { stop = min(start + chunk, end) }
            }
            frames.append(ExecCommand.encode(Array(bytes[start..<stop]), base64: base64))
            start = stop
        }
        return (frames, Array(bytes[end...]))
    }

    /// Length of the longest prefix that does not end inside a multi-byte character.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        var back = 0
        while index > 0 && back < 4 {
            let byte = bytes[index - 1]
            if byte & 0x80 == 0 { return bytes.count }
            if byte & 0xC0 == 0xC0 {
                let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                return back + 1 >= needed ? bytes.count : index - 1
            }
            index -= 1
            back += 1
        }
        return bytes.count
    }
}
