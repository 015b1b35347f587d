import CSeccomp
import Glibc

/// The default seccomp filter of namespace sandboxes (runtime.md §2.6, `seccomp: default`), built
/// in-process with libseccomp and handed to bubblewrap as a compiled BPF program. A deny-list:
/// everything else stays allowed, so ordinary programs (compilers, package managers, servers) run.
enum SeccompFilter {
    /// Denied with EPERM: kernel modules, kexec, reboot, swap, mounts, new namespaces, bpf,
    /// perf_event_open, keys, ptrace, userfaultfd, handle-based opens, root changes.
    static let denied = [
        "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
        "swapon", "swapoff", "mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
        "open_tree", "mount_setattr", "pivot_root", "chroot", "unshare", "setns", "bpf", "perf_event_open",
        "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv", "process_vm_writev", "userfaultfd",
        "open_by_handle_at", "name_to_handle_at", "acct", "quotactl", "lookup_dcookie", "syslog",
        "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "vhangup",
        "nfsservctl", "uselib", "_sysctl",
    ]

    /// clone(2) flags that create namespaces; clone with any of them is EPERM.
    static let namespaceFlags: [UInt64] = [
        0x1000_0000,  // CLONE_NEWUSER
        0x0002_0000,  // CLONE_NEWNS
        0x2000_0000,  // CLONE_NEWPID
        0x4000_0000,  // CLONE_NEWNET
        0x0400_0000,  // CLONE_NEWUTS
        0x0800_0000,  // CLONE_NEWIPC
        0x0200_0000,  // CLONE_NEWCGROUP
        0x0000_0080,  // CLONE_NEWTIME
    ]

    static func errno(_ code: Int32) -> UInt32 { 0x0005_0000 | (UInt32(code) & 0xFFFF) }

    /// The compiled BPF program for this architecture.
    static func compile() throws(ProviderError) -> [UInt8] {
        guard let context = seccomp_init(0x7FFF_0000 /* SCMP_ACT_ALLOW */) else {
            throw .internal("seccomp_init failed")
        }
        defer { seccomp_release(context) }
        for name in denied {
            let number = seccomp_syscall_resolve_name(name)
            // Names this architecture does not have (or libseccomp does not know) need no rule.
            guard number >= 0 else { continue }
            guard seccomp_rule_add_array(context, errno(EPERM), number, 0, nil) == 0 else {
                throw .internal("seccomp rule for \(name) failed")
            }
        }
        let clone = seccomp_syscall_resolve_name("clone")
        for flag in namespaceFlags {
            var comparison = scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: flag, datum_b: flag)
            guard seccomp_rule_add_array(context, errno(EPERM), clone, 1, &comparison) == 0 else {
                throw .internal("seccomp clone rule failed")
            }
        }
        // clone3 passes its flags in memory, out of a filter's reach: report it missing so libc
        // falls back to clone(2), whose flags the rules above can see.
        let clone3 = seccomp_syscall_resolve_name("clone3")
        if clone3 >= 0, seccomp_rule_add_array(context, errno(ENOSYS), clone3, 0, nil) != 0 {
            throw .internal("seccomp clone3 rule failed")
        }
        return try export(context)
    }

    private static func export(_ context: scmp_filter_ctx) throws(ProviderError) -> [UInt8] {
        var pair: [Int32] = [-1, -1]
        guard LinuxCalls.pipe2(&pair, O_CLOEXEC) == 0 else { throw .internal("pipe: errno \(Glibc.errno)") }
        // A filter is a few KiB; a pipe holds 64 KiB, so exporting before reading cannot block.
        let rc = seccomp_export_bpf(context, pair[1])
        close(pair[1])
        defer { close(pair[0]) }
        guard rc == 0 else { throw .internal("seccomp_export_bpf failed (\(rc))") }
        var program: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pair[0], &chunk, chunk.count)
            if n < 0 && Glibc.errno == EINTR { continue }
            if n <= 0 { break }
            program += chunk[0..<n]
        }
        return program
    }
}
