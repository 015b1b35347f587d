#if canImport(Glibc)
import Glibc
#endif
import CAgentSys
import StacyAgentWire
import StacySandboxFS

/// Write end of the SIGCHLD self-pipe: the signal handler can only touch globals.
nonisolated(unsafe) var childSignalPipe: Int32 = -1

/// One connection, in its own forked process: read the request, run it, stream the answer.
enum Handler {
    /// Completion rule (runtime.md §4): done when the main process exited and its output reached
    /// EOF, or this long after the main process exited.
    static let exitGraceNanos: Int64 = 250_000_000

    static func serve(_ connection: Int32) {
        guard let (kind, payload) = AgentSocket.readFrame(connection) else { return }
        switch kind {
        case .ping:
            AgentSocket.writeFrame(connection, .pong, [])
        case .exec:
            guard let request = AgentExecRequest.decode(payload) else {
                reply(connection, AgentExecReply(exitCode: -1, timedOut: false, durationNanos: 0, failure: "invalid",
                                                 message: "malformed exec request"))
                return
            }
            Exec(request: request, connection: connection).run()
        case .file:
            guard let request = AgentFileRequest.decode(payload) else {
                AgentSocket.writeFrame(connection, .result, AgentFileResult.failed(.invalidInput("malformed file request")).encoded())
                return
            }
            FileHandler.serve(request, connection)
        default:
            return
        }
    }

    static func reply(_ connection: Int32, _ reply: AgentExecReply) {
        AgentSocket.writeFrame(connection, .exit, reply.encoded())
    }
}

func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// One exec: the command in its own process group, its output framed onto the connection as it
/// arrives, its exit reported once. Never polls on a timer: poll(2) wakes on output, on SIGCHLD
/// (self-pipe), on the client hanging up, or at the next deadline.
struct Exec {
    let request: AgentExecRequest
    let connection: Int32

    func run() {
        let started = monotonicNanos()
        var st = stat()
        guard stat(request.workdir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            return Handler.reply(connection, failure("workdir", "workdir does not exist: \(request.workdir)"))
        }
        let path = request.environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
        guard let executable = Processes.resolveExecutable(request.argv[0], path: path, cwd: request.workdir) else {
            return Handler.reply(connection, failure("not_found", "command not found: \(request.argv[0])"))
        }

        var signalPair: [Int32] = [-1, -1]
        var inPair: [Int32] = [-1, -1], outPair: [Int32] = [-1, -1], errPair: [Int32] = [-1, -1]
        guard makePipe(&signalPair), makePipe(&inPair), makePipe(&outPair), makePipe(&errPair) else {
            return Handler.reply(connection, failure("resources", "pipe: errno \(errno)"))
        }
        _ = fcntl(signalPair[0], F_SETFL, O_NONBLOCK)
        _ = fcntl(signalPair[1], F_SETFL, O_NONBLOCK)
        childSignalPipe = signalPair[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 0
            let saved = errno
            _ = write(childSignalPipe, &byte, 1)
            errno = saved
        }
        action.sa_flags = SA_RESTART | SA_NOCLDSTOP
        sigaction(SIGCHLD, &action, nil)

        let argv = request.argv.map { strdup($0) } + [nil]
        let envp = request.environment.map { strdup($0) } + [nil]
        // Orphans of the exec (a `setsid` daemon whose parent exited) become this handler's
        // children instead of init's, so a timeout or a hang-up can still find and kill them.
        _ = stacy_set_child_subreaper()
        let pid = fork()
        if pid == 0 {
            setpgid(0, 0)
            // The workload, not the agent, is what the OOM killer should pick (runtime.md §2.6).
            let adjust = open("/proc/self/oom_score_adj", O_WRONLY)
            if adjust >= 0 { _ = "500".withCString { write(adjust, $0, 3) }; close(adjust) }
            dup2(inPair[0], 0); dup2(outPair[1], 1); dup2(errPair[1], 2)
            signal(SIGCHLD, SIG_DFL)
            signal(SIGPIPE, SIG_DFL)
            var empty = sigset_t()
            sigemptyset(&empty)
            sigprocmask(SIG_SETMASK, &empty, nil)
            if chdir(request.workdir) != 0 { _exit(126) }
            execve(executable, argv, envp)
            _exit(errno == ENOENT ? 127 : 126)
        }
        close(inPair[0]); close(outPair[1]); close(errPair[1])
        if pid < 0 {
            return Handler.reply(connection, failure("resources", "fork: errno \(errno)"))
        }
        // The group exists from the child's setpgid; set it here too so a kill never misses it.
        setpgid(pid, pid)
        let pump = Pump(pid: pid, connection: connection, stdin: request.stdin, stdinFd: inPair[1],
                        outFd: outPair[0], errFd: errPair[0], signalFd: signalPair[0], started: started,
                        deadline: request.timeoutNanos > Int64.max - started ? Int64.max : started + request.timeoutNanos)
        pump.run()
    }

    /// A close-on-exec pipe (only the dup2'ed ends reach the command).
    func makePipe(_ pair: inout [Int32]) -> Bool {
        guard pipe(&pair) == 0 else { return false }
        _ = fcntl(pair[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pair[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    func failure(_ kind: String, _ message: String) -> AgentExecReply {
        AgentExecReply(exitCode: -1, timedOut: false, durationNanos: 0, failure: kind, message: message)
    }
}

/// The I/O loop of one exec.
final class Pump {
    let pid: pid_t
    let connection: Int32
    let stdin: [UInt8]
    var stdinOffset = 0
    var stdinFd: Int32, outFd: Int32, errFd: Int32
    let signalFd: Int32
    let started: Int64, deadline: Int64
    var status: Int32?
    var exitedAt: Int64 = 0
    var clientGone = false
    var replied = false
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: agentChunkSize, alignment: 16)

    init(pid: pid_t, connection: Int32, stdin: [UInt8], stdinFd: Int32, outFd: Int32, errFd: Int32, signalFd: Int32,
         started: Int64, deadline: Int64) {
        self.pid = pid
        self.connection = connection
        self.stdin = stdin
        self.stdinFd = stdinFd
        self.outFd = outFd
        self.errFd = errFd
        self.signalFd = signalFd
        self.started = started
        self.deadline = deadline
        if stdin.isEmpty { close(stdinFd); self.stdinFd = -1 } else { _ = fcntl(stdinFd, F_SETFL, O_NONBLOCK) }
    }

    func run() {
        reap()
        while true {
            let now = monotonicNanos()
            if !replied {
                if status != nil && ((outFd < 0 && errFd < 0) || now >= exitedAt + Handler.exitGraceNanos) {
                    finish()
                } else if status == nil && now >= deadline {
                    killTree()
                    while status == nil { waitBlocking() }
                    respond(AgentExecReply(exitCode: -1, timedOut: true, durationNanos: monotonicNanos() - started))
                    return
                }
            }
            // After the reply: keep reading and discarding what background processes write, so they
            // never get SIGPIPE, until they close their output (or the sandbox ends).
            if replied && outFd < 0 && errFd < 0 { return }
            if clientGone {
                killTree()
                return
            }

            var fds: [pollfd] = []
            fds.append(pollfd(fd: signalFd, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: outFd, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: errFd, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: stdinFd, events: Int16(POLLOUT), revents: 0))
            fds.append(pollfd(fd: replied ? -1 : connection, events: Int16(POLLIN), revents: 0))
            var timeout: Int32 = -1
            if !replied {
                let next = status != nil ? exitedAt + Handler.exitGraceNanos : deadline
                let wait = max(0, next - now)
                timeout = Int32(min(wait / 1_000_000 + 1, Int64(Int32.max)))
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 { if errno == EINTR { continue }; return }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(signalFd, &drain, drain.count) > 0 {}
                reap()
            }
            if fds[1].revents != 0 { pumpOutput(.stdout) }
            if fds[2].revents != 0 { pumpOutput(.stderr) }
            if fds[3].revents != 0 { writeStdin() }
            if fds[4].revents != 0 {
                // The provider sends nothing after the request: readable means it hung up.
                var byte: UInt8 = 0
                let n = recv(connection, &byte, 1, Int32(MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { clientGone = true }
            }
        }
    }

    func pumpOutput(_ kind: AgentFrame) {
        let fd = kind == .stdout ? outFd : errFd
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
        if n <= 0 {
            close(fd)
            if kind == .stdout { outFd = -1 } else { errFd = -1 }
            return
        }
        if replied { return }
        if !AgentSocket.writeFrame(connection, kind, UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)) {
            clientGone = true
        }
    }

    func writeStdin() {
        let remaining = stdin.count - stdinOffset
        let n = stdin.withUnsafeBytes { write(stdinFd, $0.baseAddress! + stdinOffset, min(remaining, 64 << 10)) }
        if n > 0 { stdinOffset += n }
        // EPIPE: the command does not read its stdin; that is its business.
        if stdinOffset >= stdin.count || (n < 0 && errno != EAGAIN && errno != EINTR) {
            close(stdinFd)
            stdinFd = -1
        }
    }

    /// Reaps every child that exited: the main process (its status is the exec's) and orphans
    /// re-parented here, which must not stay zombies.
    func reap() {
        while true {
            var raw: Int32 = 0
            let r = waitpid(-1, &raw, WNOHANG)
            if r <= 0 { return }
            if r == pid && status == nil { status = raw; exitedAt = monotonicNanos() }
        }
    }

    /// SIGKILL to the exec's process group and to every descendant of this handler, however it
    /// left the group (`setsid`, double fork). A few rounds catch processes forked meanwhile.
    func killTree() {
        kill(-pid, SIGKILL)
        let me = getpid()
        for _ in 0..<5 {
            let victims = descendants(of: me)
            if victims.isEmpty { return }
            for victim in victims { kill(victim, SIGKILL) }
        }
    }

    /// Live descendants, from the parent links in /proc (this pid namespace only).
    func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        guard let dir = opendir("/proc") else { return [] }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let child = pid_t(name), let (parent, state) = Self.parentAndState(child), state != "Z" else { continue }
            children[parent, default: []].append(child)
        }
        closedir(dir)
        var found: [pid_t] = []
        var queue = children[root] ?? []
        while let next = queue.popLast() {
            found.append(next)
            queue += children[next] ?? []
        }
        return found
    }

    static func parentAndState(_ pid: pid_t) -> (pid_t, Character)? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0, let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 2)..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let parent = pid_t(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return (parent, Character(UnicodeScalar(fields[0].first ?? 0)))
    }

    func waitBlocking() {
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, 0)
        if r == pid { status = raw; exitedAt = monotonicNanos() } else if r < 0 && errno != EINTR { status = -1 }
    }

    func finish() {
        respond(AgentExecReply(exitCode: Processes.exitCode(status ?? -1), timedOut: false, durationNanos: exitedAt - started))
    }

    func respond(_ reply: AgentExecReply) {
        if stdinFd >= 0 { close(stdinFd); stdinFd = -1 }
        Handler.reply(connection, reply)
        shutdown(connection, Int32(SHUT_RDWR))
        replied = true
    }
}
