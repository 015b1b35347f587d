#if canImport(Glibc)
import Glibc
#endif
import StacySandboxFS

/// The per-sandbox parent of bubblewrap. Single-threaded, so fork() is safe here (never in the
/// server). Its stdout/stderr are the sandbox's console file; it exits when bwrap exits, and
/// killing it ends the sandbox (bwrap's --die-with-parent, then the pid namespace's init dies).
enum Shim {
    static let seccompDescriptor: Int32 = 10

    static func run(_ args: [String]) -> Never {
        var dir = "", uid: uid_t = 0, gid: gid_t = 0, keep: Int32 = -1, seccomp = ""
        var index = 0
        var command: [String] = []
        var cgroups: [String] = []
        while index < args.count {
            let arg = args[index]
            if arg == "--" { command = Array(args[(index + 1)...]); break }
            guard index + 1 < args.count else { fail("shim: \(arg) needs a value") }
            let value = args[index + 1]
            switch arg {
            case "--dir": dir = value
            case "--uid": uid = uid_t(value) ?? 0
            case "--gid": gid = gid_t(value) ?? 0
            case "--keep-fd": keep = Int32(value) ?? -1
            case "--seccomp-file": seccomp = value
            case "--cgroup": cgroups.append(value)
            default: fail("shim: unknown option \(arg)")
            }
            index += 2
        }
        guard !dir.isEmpty, !command.isEmpty else { fail("shim: --dir and a command are required") }
        closeInheritedDescriptors(keeping: keep)

        // Detach: the launcher waits for this first process only, which reports the shim's PID.
        let child = fork()
        if child < 0 { fail("shim: fork failed (errno \(errno))") }
        if child > 0 {
            print(child)
            exit(0)
        }
        _ = setsid()
        let console = open(dir + "/console.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if console >= 0 { dup2(console, 1); dup2(console, 2) }
        if null >= 0 { dup2(null, 0) }
        if console > 2 { close(console) }
        if null > 2 { close(null) }
        logLine("[stacyvm] sandbox started")

        let argv = command.map { strdup($0) } + [nil]
        let sandbox = fork()
        if sandbox < 0 { logLine("[stacyvm] cannot start bwrap (errno \(errno))"); exit(1) }
        if sandbox == 0 {
            // Into the sandbox's cgroups before bwrap starts, so every process inside is limited
            // and accounted. Fail closed: a sandbox never runs without its limits.
            let me = String(getpid())
            for procs in cgroups {
                let fd = open(procs, O_WRONLY)
                let wrote = fd >= 0 && me.withCString { write(fd, $0, strlen($0)) } == me.utf8.count
                if fd >= 0 { close(fd) }
                if !wrote {
                    logLine("[stacyvm] cannot join cgroup \(procs) (errno \(errno))")
                    _exit(126)
                }
            }
            // The compiled filter reaches bwrap as descriptor 10 (its `--seccomp 10`).
            if !seccomp.isEmpty {
                let filter = open(seccomp, O_RDONLY)
                if filter < 0 || (filter != seccompDescriptor && dup2(filter, seccompDescriptor) < 0) {
                    logLine("[stacyvm] cannot open the seccomp filter (errno \(errno))")
                    _exit(126)
                }
                if filter != seccompDescriptor { close(filter) }
            }
            // The sandbox's one unprivileged host uid; bwrap maps it to 0 inside its user namespace.
            if getuid() == 0 && uid != 0 {
                if setgroups(0, nil) != 0 || setgid(gid) != 0 || setuid(uid) != 0 {
                    logLine("[stacyvm] cannot switch to uid \(uid) (errno \(errno))")
                    _exit(126)
                }
            }
            if keep >= 0 { close(keep) }
            execv(command[0], argv)
            logLine("[stacyvm] cannot execute \(command[0]) (errno \(errno))")
            _exit(127)
        }
        signal(SIGTERM, SIG_IGN)  // the provider ends a sandbox with SIGKILL; nothing to clean up here
        var status: Int32 = 0
        while waitpid(sandbox, &status, 0) < 0 && errno == EINTR {}
        let code = Processes.exitCode(status)
        logLine("[stacyvm] sandbox exited (status \(code))")
        exit(Int32(code & 0xff))
    }

    static func logLine(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }

    /// The server's descriptors (sockets, database files) must not live on in the sandbox's parent.
    static func closeInheritedDescriptors(keeping keep: Int32) {
        guard let dir = opendir("/proc/self/fd") else { return }
        var open: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = Int32(name), fd > 2, fd != keep { open.append(fd) }
        }
        let own = dirfd(dir)
        closedir(dir)
        for fd in open where fd != own { close(fd) }
    }
}
