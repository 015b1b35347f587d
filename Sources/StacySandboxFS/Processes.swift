import Glibc

/// Process rules shared by the mock provider (host processes) and `stacyvm-agent` (processes
/// inside a namespace sandbox), so both report and find commands the same way (runtime.md §4).
public enum Processes {
    /// Decodes a wait status: exited → its code; killed by signal N → 128 + N; unknown (< 0) → -1.
    public static func exitCode(_ status: Int32) -> Int {
        if status < 0 { return -1 }
        let signal = status & 0x7f
        if signal == 0 { return Int((status >> 8) & 0xff) }
        return 128 + Int(signal)
    }

    /// execvp's lookup, but in the command's own PATH (not this process's); empty and relative
    /// PATH entries resolve against `cwd`.
    public static func resolveExecutable(_ command: String, path: String, cwd: String) -> String? {
        func isExecutableFile(_ candidate: String) -> Bool {
            var st = stat()
            return fstatat(AT_FDCWD, candidate, &st, 0) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0
        }
        if command.contains("/") {
            let full = command.hasPrefix("/") ? command : cwd + "/" + command
            return isExecutableFile(full) ? full : nil
        }
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? cwd : String(dir)) + "/" + command
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }
}
