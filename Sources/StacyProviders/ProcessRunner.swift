import Foundation
import Glibc
import Synchronization

// The only file that spawns processes or touches pipes. Processes are started with posix_spawn,
// never fork(): the server is multi-threaded and a forked child of a threaded process may deadlock
// on a lock some other thread held at fork time.

func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

struct ProcessLaunch: Sendable {
    var executable: String
    var argv: [String]
    /// "KEY=value" entries; nothing is inherited from this process.
    var environment: [String]
    var workingDirectory: String
    var stdin: [UInt8]
}

struct ProcessOutcome: Sendable {
    enum Stop: Sendable { case cancelled, destroyed }
    /// Main process status: exit code, 128+N for a signal we did not send, -1 when we killed it.
    var exitCode: Int
    var timedOut: Bool
    var stoppedBy: Stop?
    var durationNanos: Int64
}

/// Handle to one started process group. The runner thread owns every fd; other threads only set
/// flags and poke the wake pipe, under `state`'s lock so a closed wake fd is never written.
final class RunningProcess: Sendable {
    let pid: pid_t
    private struct State {
        var stop: ProcessOutcome.Stop?
        var wakeWrite: Int32
        var finished = false
    }
    private let state: Mutex<State>

    fileprivate init(pid: pid_t, wakeWrite: Int32) {
        self.pid = pid
        self.state = Mutex(State(wakeWrite: wakeWrite))
    }

    /// Kills the whole process group (background children included) and ends draining.
    /// Used for consumer cancellation and for sandbox destroy.
    func stop(_ reason: ProcessOutcome.Stop) {
        state.withLock { s in
            guard !s.finished else { return }
            if s.stop == nil { s.stop = reason }
            // The group id equals the pid (POSIX_SPAWN_SETPGROUP with 0). The group stays valid
            // while the drainer runs, because the drainer ends when every pipe writer is gone.
            kill(-pid, SIGKILL)
            var byte: UInt8 = 1
            _ = write(s.wakeWrite, &byte, 1)
        }
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    fileprivate var stopReason: ProcessOutcome.Stop? { state.withLock { $0.stop } }

    fileprivate func markFinished() -> Int32 {
        state.withLock { s in
            s.finished = true
            let fd = s.wakeWrite
            s.wakeWrite = -1
            return fd
        }
    }
}

enum ProcessRunner {
    /// Time the exec may still take after the main process exited while background processes hold
    /// its stdout/stderr open (runtime.md §4).
    static let exitGraceNanos: Int64 = 250_000_000
    private static let chunkSize = 64 * 1024

    /// Writing stdin to a child that exited raises SIGPIPE, whose default action kills the whole
    /// server; ignore it process-wide (children get the default back via POSIX_SPAWN_SETSIGDEF).
    private static let sigpipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Starts the process in its own process group and a dedicated thread that writes stdin, reads
    /// stdout/stderr with poll(2) and waits for the exit, so no cooperative-pool thread ever
    /// blocks. `output` is called on that thread, in order, until `completion` (called once).
    /// After completion the thread keeps reading and discarding output of processes left behind
    /// until they close it or the handle is stopped, so they never get SIGPIPE.
    static func start(_ launch: ProcessLaunch, timeoutNanos: Int64,
                      output: @escaping @Sendable (OutputStream, [UInt8]) -> Void,
                      completion: @escaping @Sendable (ProcessOutcome) -> Void) throws(ProviderError) -> RunningProcess {
        _ = sigpipeIgnored
        var fds: [Int32] = []
        func closeAll() { for fd in fds where fd >= 0 { close(fd) } }
        for _ in 0..<4 {
            var pair: [Int32] = [-1, -1]
            if LinuxCalls.pipe2(&pair, O_CLOEXEC) != 0 {
                let err = errno
                closeAll()
                throw err == EMFILE || err == ENFILE ? .resourceLimit("too many open files") : .internal("pipe2: errno \(err)")
            }
            fds += pair
        }
        let (stdinRead, stdinWrite) = (fds[0], fds[1])
        let (outRead, outWrite) = (fds[2], fds[3])
        let (errRead, errWrite) = (fds[4], fds[5])
        let (wakeRead, wakeWrite) = (fds[6], fds[7])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears FD_CLOEXEC on the target, so only 0/1/2 reach the child.
        posix_spawn_file_actions_adddup2(&actions, stdinRead, 0)
        posix_spawn_file_actions_adddup2(&actions, outWrite, 1)
        posix_spawn_file_actions_adddup2(&actions, errWrite, 2)
        _ = LinuxCalls.addChdir(&actions, launch.workingDirectory)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attr, 0)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attr, &emptyMask)

        let argv = launch.argv.map { strdup($0) } + [nil]
        let envp = launch.environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let started = monotonicNanos()
        let rc = posix_spawn(&pid, launch.executable, &actions, &attr, argv, envp)
        close(stdinRead); close(outWrite); close(errWrite)
        if rc != 0 {
            for fd in [stdinWrite, outRead, errRead, wakeRead, wakeWrite] { close(fd) }
            switch rc {
            case ENOENT: throw .invalidInput("executable or working directory not found")
            case EACCES, ENOEXEC: throw .invalidInput("cannot execute \(launch.argv.first ?? "")")
            case EAGAIN, ENOMEM: throw .resourceLimit("cannot start process")
            default: throw .internal("posix_spawn: errno \(rc)")
            }
        }
        for fd in [stdinWrite, outRead, errRead, wakeRead, wakeWrite] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        let handle = RunningProcess(pid: pid, wakeWrite: wakeWrite)
        let loop = PumpLoop(handle: handle, stdin: launch.stdin, stdinFd: stdinWrite, outFd: outRead, errFd: errRead,
                            wakeFd: wakeRead, started: started,
                            deadline: timeoutNanos > Int64.max - started ? Int64.max : started + timeoutNanos,
                            output: output, completion: completion)
        let thread = Thread { loop.run() }
        thread.name = "stacyvm-exec-\(pid)"
        thread.start()
        return handle
    }
}

/// State of one exec's I/O loop; lives on, and is only touched by, its dedicated thread.
private final class PumpLoop: @unchecked Sendable {
    let handle: RunningProcess
    let stdin: [UInt8]
    var stdinOffset = 0
    var stdinFd: Int32, outFd: Int32, errFd: Int32
    let wakeFd: Int32
    let started: Int64, deadline: Int64
    let output: @Sendable (OutputStream, [UInt8]) -> Void
    let completion: @Sendable (ProcessOutcome) -> Void
    var mainStatus: Int32?
    var exitedAt: Int64 = 0
    var completed = false
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(handle: RunningProcess, stdin: [UInt8], stdinFd: Int32, outFd: Int32, errFd: Int32, wakeFd: Int32,
         started: Int64, deadline: Int64, output: @escaping @Sendable (OutputStream, [UInt8]) -> Void,
         completion: @escaping @Sendable (ProcessOutcome) -> Void) {
        self.handle = handle
        self.stdin = stdin
        self.stdinFd = stdinFd
        self.outFd = outFd
        self.errFd = errFd
        self.wakeFd = wakeFd
        self.started = started
        self.deadline = deadline
        self.output = output
        self.completion = completion
        if stdin.isEmpty { closeFd(&self.stdinFd) }
    }

    func run() {
        while true {
            if !completed { checkCompletion() }
            if completed && ((outFd < 0 && errFd < 0) || handle.stopReason != nil) { break }
            pollOnce()
        }
        closeFd(&stdinFd); closeFd(&outFd); closeFd(&errFd)
        let wakeWrite = handle.markFinished()
        close(wakeFd)
        if wakeWrite >= 0 { close(wakeWrite) }
        buffer.deallocate()
    }

    private func checkCompletion() {
        if mainStatus == nil { reap(blockingUpToNanos: 0) }
        let now = monotonicNanos()
        if let reason = handle.stopReason {
            killGroupAndReap()
            finish(exitCode: -1, timedOut: false, stoppedBy: reason)
        } else if now >= deadline {
            killGroupAndReap()
            finish(exitCode: -1, timedOut: true, stoppedBy: nil)
        } else if let status = mainStatus, (outFd < 0 && errFd < 0) || now >= exitedAt + ProcessRunner.exitGraceNanos {
            // Pick up whatever the exec wrote before exiting that is already in the pipes.
            readAvailable(&outFd, .stdout)
            readAvailable(&errFd, .stderr)
            finish(exitCode: Processes.exitCode(status), timedOut: false, stoppedBy: nil)
        }
    }

    private func finish(exitCode: Int, timedOut: Bool, stoppedBy: ProcessOutcome.Stop?) {
        completed = true
        closeFd(&stdinFd)
        completion(ProcessOutcome(exitCode: exitCode, timedOut: timedOut, stoppedBy: stoppedBy,
                                  durationNanos: monotonicNanos() - started))
    }

    private func pollOnce() {
        var pfds: [pollfd] = [pollfd(fd: wakeFd, events: Int16(POLLIN), revents: 0)]
        if outFd >= 0 { pfds.append(pollfd(fd: outFd, events: Int16(POLLIN), revents: 0)) }
        if errFd >= 0 { pfds.append(pollfd(fd: errFd, events: Int16(POLLIN), revents: 0)) }
        if stdinFd >= 0 { pfds.append(pollfd(fd: stdinFd, events: Int16(POLLOUT), revents: 0)) }
        let now = monotonicNanos()
        var waitNanos: Int64
        if completed {
            waitNanos = 1_000_000_000  // draining leftovers: re-check the stop flag now and then
        } else if mainStatus == nil {
            // No pidfd in Swift's Glibc: a 10 ms tick notices the main process's exit promptly.
            waitNanos = min(10_000_000, deadline - now)
        } else {
            waitNanos = min(exitedAt + ProcessRunner.exitGraceNanos, deadline) - now
        }
        let timeoutMillis = Int32(max(0, (waitNanos + 999_999) / 1_000_000))
        let ready = poll(&pfds, nfds_t(pfds.count), timeoutMillis)
        if ready <= 0 { return }
        for pfd in pfds where pfd.revents != 0 {
            if pfd.fd == wakeFd {
                _ = read(wakeFd, buffer.baseAddress, buffer.count)
            } else if pfd.fd == outFd {
                readOnce(&outFd, .stdout)
            } else if pfd.fd == errFd {
                readOnce(&errFd, .stderr)
            } else if pfd.fd == stdinFd {
                writeStdin()
            }
        }
    }

    private func readOnce(_ fd: inout Int32, _ stream: OutputStream) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n > 0 {
            // Output after completion belongs to processes left behind: read and discard.
            if !completed { output(stream, Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))) }
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            closeFd(&fd)
        }
    }

    private func readAvailable(_ fd: inout Int32, _ stream: OutputStream) {
        // Bounded: a background writer could otherwise keep us here forever.
        for _ in 0..<64 where fd >= 0 {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                output(stream, Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
            } else {
                if n == 0 || (errno != EAGAIN && errno != EINTR) { closeFd(&fd) }
                return
            }
        }
    }

    private func writeStdin() {
        let n = stdin.withUnsafeBytes { raw in
            write(stdinFd, raw.baseAddress! + stdinOffset, min(raw.count - stdinOffset, 64 * 1024))
        }
        if n > 0 { stdinOffset += n }
        // EPIPE: the child does not read its stdin; that is its business, not an error.
        if stdinOffset >= stdin.count || (n < 0 && errno != EAGAIN && errno != EINTR) { closeFd(&stdinFd) }
    }

    private func reap(blockingUpToNanos limit: Int64) {
        let until = monotonicNanos() + limit
        while mainStatus == nil {
            var status: Int32 = 0
            let r = waitpid(handle.pid, &status, WNOHANG)
            if r == handle.pid {
                mainStatus = status
                exitedAt = monotonicNanos()
            } else if r < 0 && errno != EINTR {
                mainStatus = -1  // not our child any more (cannot happen unless someone else reaped it)
                exitedAt = monotonicNanos()
            } else if monotonicNanos() >= until {
                return
            } else {
                usleep(1000)
            }
        }
    }

    private func killGroupAndReap() {
        kill(-handle.pid, SIGKILL)
        // SIGKILL is not deferrable, but a process in uninterruptible sleep dies late: wait a bounded time.
        reap(blockingUpToNanos: 5_000_000_000)
    }

    private func closeFd(_ fd: inout Int32) {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
