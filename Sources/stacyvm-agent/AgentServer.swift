#if canImport(Glibc)
import Glibc
#endif
import StacyAgentWire

/// Serves the sandbox's unix socket from inside it. Each connection is handled by a forked child
/// (this process is single-threaded), so a long exec never delays another and a crash in one
/// handler cannot take the agent down.
enum AgentServer {
    static func run(socketPath: String) -> Never {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGCHLD, SIG_IGN)  // handlers are reaped by the kernel
        unlink(socketPath)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { fail("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { fail("socket path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        // Bound under a temporary name and renamed, so the provider never connects to a socket that
        // is not listening yet.
        let temporary = socketPath + ".new"
        unlink(temporary)
        var temporaryAddress = address
        let temporaryBytes = Array(temporary.utf8)
        guard temporaryBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { fail("socket path too long") }
        withUnsafeMutableBytes(of: &temporaryAddress.sun_path) { raw in
            raw.copyBytes(from: temporaryBytes)
            raw[temporaryBytes.count] = 0
        }
        let bound = withUnsafePointer(to: &temporaryAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 128) == 0 else { fail("bind/listen \(socketPath): errno \(errno)") }
        chmod(temporary, 0o600)
        guard rename(temporary, socketPath) == 0 else { fail("rename \(temporary): errno \(errno)") }
        Shim.logLine("[stacyvm] agent ready")

        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(10_000); continue }
                fail("accept: errno \(errno)")
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)  // one thread: nothing can exec in between
            let child = fork()
            if child == 0 {
                close(listener)
                signal(SIGCHLD, SIG_DFL)
                Handler.serve(connection)
                _exit(0)
            }
            if child < 0 {
                // Out of processes (pids limit): say so instead of dropping the request silently.
                let reply = AgentExecReply(exitCode: -1, timedOut: false, durationNanos: 0, failure: "resources",
                                           message: "cannot fork a handler (errno \(errno))")
                AgentSocket.writeFrame(connection, .exit, reply.encoded())
            }
            close(connection)
        }
    }
}
