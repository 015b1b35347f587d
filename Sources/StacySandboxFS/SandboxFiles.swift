import Glibc
import Synchronization

/// The sandbox file API rooted at one directory: the mock provider roots it at a sandbox's host
/// directory; `stacyvm-agent` roots it at "/" inside a namespace sandbox.
///
/// Symlink policy: paths are resolved component by component with `openat` + `O_NOFOLLOW`, so the
/// kernel never follows a symlink for us. A symlink as an *intermediate* component is refused with
/// `.invalidPath`; as the *final* component it is treated as itself: stat/list/glob report it,
/// delete and move act on the link, write replaces the link (rename never follows), and
/// read/chmod refuse it with `.invalidPath`. Nothing outside the root is ever reached, whatever
/// commands (which run unconfined on the host) do to the tree, and no check-then-use race exists
/// because every step works on fds, not path strings.
public struct SandboxFiles: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    private static let tempCounter = Atomic<UInt64>(0)

    // MARK: - Operations

    public func writeFile(_ raw: String, bytes: [UInt8], mode: UInt32) throws(ProviderError) -> Int {
        let path = try SandboxPath.normalize(raw)
        let (parent, name) = try openParent(path, create: true)
        defer { close(parent) }
        var st = Glibc.stat()
        if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0, isDir(st) { throw .isADirectory(path) }
        let counter = Self.tempCounter.add(1, ordering: .relaxed).newValue
        let temp = ".stacyvm-tmp-\(getpid())-\(counter)-\(name.prefix(32))"
        let fd = openat(parent, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { throw Self.failure(errno, path) }
        var written = 0
        var failed: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    return
                }
                written += n
            }
        }
        // fchmod, not the open mode, so the umask cannot change the requested bits.
        if failed == 0, fchmod(fd, mode_t(mode & 0o7777)) != 0 { failed = errno }
        close(fd)
        if failed == 0, renameat(parent, temp, parent, name) != 0 { failed = errno }
        if failed != 0 {
            unlinkat(parent, temp, 0)
            throw Self.failure(failed, path)
        }
        return written
    }

    public func readFile(_ raw: String, maxBytes: Int?) throws(ProviderError) -> [UInt8] {
        let path = try SandboxPath.normalize(raw)
        if path == "/" { throw .isADirectory(path) }
        let (parent, name) = try openParent(path, create: false)
        defer { close(parent) }
        // O_NONBLOCK: opening a FIFO someone left in the workspace must not hang the request.
        let fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 { throw Self.failure(errno, path) }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure(errno, path) }
        if isDir(st) { throw .isADirectory(path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .invalidInput("not a regular file: \(path)") }
        let limit = maxBytes ?? Int.max
        if Int(st.st_size) > limit { throw .tooLarge("\(path) is \(st.st_size) bytes, limit \(limit)") }
        var result: [UInt8] = []
        result.reserveCapacity(Int(st.st_size))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure(errno, path)
            }
            if n == 0 { break }
            result += chunk[0..<n]
            // The file may grow while we read; the limit still holds.
            if result.count > limit { throw .tooLarge("\(path) exceeds \(limit) bytes") }
        }
        return result
    }

    public func list(_ raw: String) throws(ProviderError) -> [FileInfo] {
        let path = try SandboxPath.normalize(raw)
        let dirFd = try openDirectory(path)
        return try Self.entries(of: dirFd, path: path).map { $0.info }
    }

    public func stat(_ raw: String) throws(ProviderError) -> FileInfo {
        let path = try SandboxPath.normalize(raw)
        if path == "/" {
            let fd = try openRoot(flags: LinuxCalls.oPath)
            defer { close(fd) }
            var st = Glibc.stat()
            guard fstat(fd, &st) == 0 else { throw Self.failure(errno, path) }
            return Self.info(st, path: "/", name: "/")
        }
        let (parent, name) = try openParent(path, create: false)
        defer { close(parent) }
        var st = Glibc.stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw Self.failure(errno, path) }
        return Self.info(st, path: path, name: name)
    }

    public func move(from rawFrom: String, to rawTo: String) throws(ProviderError) {
        let from = try SandboxPath.normalize(rawFrom), to = try SandboxPath.normalize(rawTo)
        if from == "/" || to == "/" { throw .invalidPath("cannot move the root") }
        if to.hasPrefix(from + "/") { throw .invalidInput("cannot move \(from) into itself") }
        let (sourceParent, sourceName) = try openParent(from, create: false)
        defer { close(sourceParent) }
        var st = Glibc.stat()
        guard fstatat(sourceParent, sourceName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw Self.failure(errno, from) }
        if from == to { return }
        let (targetParent, targetName) = try openParent(to, create: true)
        defer { close(targetParent) }
        guard renameat(sourceParent, sourceName, targetParent, targetName) == 0 else {
            let err = errno
            switch err {
            case ENOTEMPTY, EEXIST: throw .directoryNotEmpty(to)
            // A file onto a directory: the spec's answer for a non-empty target is 409.
            case EISDIR:
                throw Self.isNonEmptyDirectory(targetParent, targetName) ? .directoryNotEmpty(to) : .isADirectory(to)
            case ENOTDIR: throw .notADirectory(to)
            case EINVAL: throw .invalidInput("cannot move \(from) to \(to)")
            default: throw Self.failure(err, from)
            }
        }
    }

    public func chmod(_ raw: String, mode: UInt32) throws(ProviderError) {
        let path = try SandboxPath.normalize(raw)
        let fd: Int32
        if path == "/" {
            fd = try openRoot(flags: LinuxCalls.oPath)
        } else {
            let (parent, name) = try openParent(path, create: false)
            defer { close(parent) }
            fd = openat(parent, name, LinuxCalls.oPath | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 { throw Self.failure(errno, path) }
        }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure(errno, path) }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw .invalidPath("\(path) is a symlink") }
        // fchmod does not work on O_PATH fds; the /proc alias changes exactly the inode we hold,
        // even if the name was swapped for a symlink in the meantime.
        guard Glibc.chmod("/proc/self/fd/\(fd)", mode_t(mode & 0o7777)) == 0 else { throw Self.failure(errno, path) }
    }

    public func delete(_ raw: String, recursive: Bool) throws(ProviderError) {
        let path = try SandboxPath.normalize(raw)
        if path == "/" { throw .invalidPath("cannot delete the root") }
        let (parent, name) = try openParent(path, create: false)
        defer { close(parent) }
        var st = Glibc.stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw Self.failure(errno, path) }
        if !isDir(st) {
            guard unlinkat(parent, name, 0) == 0 else { throw Self.failure(errno, path) }
            return
        }
        if unlinkat(parent, name, AT_REMOVEDIR) == 0 { return }
        let err = errno
        guard err == ENOTEMPTY || err == EEXIST else { throw Self.failure(err, path) }
        guard recursive else { throw .directoryNotEmpty(path) }
        try Self.removeTree(parent: parent, name: name, path: path)
    }

    public func glob(_ rawPattern: String) throws(ProviderError) -> [String] {
        let pattern = try SandboxPath.normalize(rawPattern)
        let components = SandboxPath.components(pattern)
        let rootFd = try openRoot(flags: O_RDONLY | O_DIRECTORY)
        var found = Set<String>()
        try Self.expand(dirFd: rootFd, dirPath: "/", components[...], into: &found)
        close(rootFd)
        return Array(found.sorted().prefix(Glob.maxResults))
    }

    /// Removes the whole sandbox directory without following any symlink inside it.
    public static func removeSandboxDirectory(_ directory: String) throws(ProviderError) {
        let slash = directory.lastIndex(of: "/") ?? directory.startIndex
        let parentPath = slash == directory.startIndex ? "/" : String(directory[..<slash])
        let name = String(directory[directory.index(after: slash)...])
        let parent = open(parentPath, O_PATH_DIRECTORY)
        if parent < 0 { return }
        defer { close(parent) }
        var st = Glibc.stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        try removeTree(parent: parent, name: name, path: "/")
    }

    // MARK: - Resolution

    private static let O_PATH_DIRECTORY = LinuxCalls.oPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    private func openRoot(flags: Int32) throws(ProviderError) -> Int32 {
        let fd = open(root, flags | O_DIRECTORY | O_CLOEXEC)
        // The directory vanishing under us means the sandbox was destroyed concurrently.
        if fd < 0 { throw errno == ENOENT ? .sandboxDestroyed : .internal("open sandbox root: errno \(errno)") }
        return fd
    }

    /// Walks to the parent directory of `path` (normalised, not "/") and returns an O_PATH fd on it
    /// plus the final name. With `create`, missing parents are made with mode 0755.
    private func openParent(_ path: String, create: Bool) throws(ProviderError) -> (Int32, String) {
        var components = SandboxPath.components(path)
        guard let name = components.popLast() else { throw .invalidPath("the root has no parent") }
        let fd = try walk(components, create: create)
        return (fd, name)
    }

    /// Opens `path` itself as a readable directory fd (for listing).
    private func openDirectory(_ path: String) throws(ProviderError) -> Int32 {
        if path == "/" { return try openRoot(flags: O_RDONLY) }
        let (parent, name) = try openParent(path, create: false)
        defer { close(parent) }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw Self.classify(errno, parent: parent, name: name, path: path) }
        return fd
    }

    private func walk(_ components: [String], create: Bool) throws(ProviderError) -> Int32 {
        var current = try openRoot(flags: LinuxCalls.oPath)
        var walked = ""
        for component in components {
            walked += "/" + component
            var next = openat(current, component, Self.O_PATH_DIRECTORY)
            if next < 0, errno == ENOENT, create {
                if mkdirat(current, component, 0o755) == 0 {
                    // mkdirat honours the umask; make the documented 0755 exact.
                    let made = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    if made >= 0 { fchmod(made, 0o755); close(made) }
                }
                next = openat(current, component, Self.O_PATH_DIRECTORY)
            }
            if next < 0 {
                let error = Self.classify(errno, parent: current, name: component, path: walked)
                close(current)
                throw error
            }
            close(current)
            current = next
        }
        return current
    }

    /// Turns a failed directory open into the precise error: a symlink is refused as a path error,
    /// anything else that is not a directory is `notADirectory`.
    private static func classify(_ err: Int32, parent: Int32, name: String, path: String) -> ProviderError {
        guard err == ENOTDIR || err == ELOOP else { return failure(err, path) }
        var st = Glibc.stat()
        if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
            return .invalidPath("\(path) is a symlink; symlinks are not followed")
        }
        return .notADirectory(path)
    }

    public static func failure(_ err: Int32, _ path: String) -> ProviderError {
        switch err {
        case ENOENT: return .fileNotFound(path)
        case ENOTDIR: return .notADirectory(path)
        case EISDIR: return .isADirectory(path)
        case ELOOP: return .invalidPath("\(path) is a symlink; symlinks are not followed")
        case ENAMETOOLONG: return .invalidPath("name too long: \(path)")
        case ENOTEMPTY: return .directoryNotEmpty(path)
        case EEXIST: return .alreadyExists(path)
        case EROFS: return .readOnlyPath(path)
        case ENOSPC, EDQUOT: return .resourceLimit("no space left on device")
        case EMFILE, ENFILE: return .resourceLimit("too many open files")
        case EACCES, EPERM: return .invalidInput("permission denied: \(path)")
        default: return .internal("errno \(err) on \(path)")
        }
    }

    // MARK: - Directory helpers

    private struct Entry {
        var name: String
        var stat: Glibc.stat
        var info: FileInfo
    }

    /// Reads one directory level (sorted by name) and closes `dirFd`. Entries are lstat'ed.
    private static func entries(of dirFd: Int32, path: String) throws(ProviderError) -> [Entry] {
        guard let dir = fdopendir(dirFd) else {
            close(dirFd)
            throw failure(errno, path)
        }
        defer { closedir(dir) }
        var result: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            var st = Glibc.stat()
            guard fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }  // raced away
            let child = SandboxPath.join(path, name)
            result.append(Entry(name: name, stat: st, info: info(st, path: child, name: name)))
        }
        return result.sorted { $0.name < $1.name }
    }

    private static func isNonEmptyDirectory(_ parent: Int32, _ name: String) -> Bool {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let entries = try? entries(of: fd, path: "/") else { return false }
        return !entries.isEmpty
    }

    private static func info(_ st: Glibc.stat, path: String, name: String) -> FileInfo {
        FileInfo(path: path, name: name, size: Int64(st.st_size), mode: UInt32(st.st_mode) & 0o7777,
                 isDir: (st.st_mode & S_IFMT) == S_IFDIR, modTimeSeconds: Int64(st.st_mtim.tv_sec))
    }

    private static func removeTree(parent: Int32, name: String, path: String) throws(ProviderError) {
        var fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0, errno == EACCES {
            // A user `chmod 000` dir: make it readable through an O_PATH fd (never a path string,
            // so a swapped-in symlink cannot redirect the chmod), then retry.
            let pathFd = openat(parent, name, O_PATH_DIRECTORY)
            if pathFd >= 0 {
                Glibc.chmod("/proc/self/fd/\(pathFd)", 0o700)
                close(pathFd)
            }
            fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        if fd < 0 {
            // Replaced by a file or symlink meanwhile: remove that entry itself, never its target.
            if errno == ENOTDIR || errno == ELOOP, unlinkat(parent, name, 0) == 0 { return }
            throw failure(errno, path)
        }
        defer { close(fd) }
        // Owner-writable so entries can be unlinked even after a `chmod 0555` by the user.
        fchmod(fd, 0o700)
        for entry in try entries(of: dup(fd), path: path) {
            if (entry.stat.st_mode & S_IFMT) == S_IFDIR {
                try removeTree(parent: fd, name: entry.name, path: entry.info.path)
            } else if unlinkat(fd, entry.name, 0) != 0, errno != ENOENT {
                throw failure(errno, entry.info.path)
            }
        }
        if unlinkat(parent, name, AT_REMOVEDIR) != 0, errno != ENOENT { throw failure(errno, path) }
    }

    /// Glob walk over fds: literal components are looked up directly, patterns list the directory,
    /// `**` matches zero or more non-hidden real directories (symlinks are never descended).
    private static func expand(dirFd: Int32, dirPath: String, _ rest: ArraySlice<String>,
                               into found: inout Set<String>) throws(ProviderError) {
        guard found.count < Glob.maxResults, let component = rest.first else { return }
        let tail = rest.dropFirst()
        if component == "**" {
            if tail.isEmpty {
                try collectAll(dirFd: dirFd, dirPath: dirPath, into: &found)
                return
            }
            try expand(dirFd: dirFd, dirPath: dirPath, tail, into: &found)
            for entry in try listForGlob(dirFd, dirPath) where isDir(entry.stat) && !entry.name.hasPrefix(".") {
                try descend(dirFd, entry, rest, into: &found)
            }
        } else if !Glob.hasMeta(component) {
            var st = Glibc.stat()
            guard fstatat(dirFd, component, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
            let path = SandboxPath.join(dirPath, component)
            let entry = Entry(name: component, stat: st, info: info(st, path: path, name: component))
            if tail.isEmpty { found.insert(path) } else if isDir(st) { try descend(dirFd, entry, tail, into: &found) }
        } else {
            for entry in try listForGlob(dirFd, dirPath) where Glob.match(component, entry.name) {
                if tail.isEmpty { found.insert(entry.info.path) } else if isDir(entry.stat) {
                    try descend(dirFd, entry, tail, into: &found)
                }
            }
        }
    }

    private static func descend(_ dirFd: Int32, _ entry: Entry, _ rest: ArraySlice<String>,
                                into found: inout Set<String>) throws(ProviderError) {
        let child = openat(dirFd, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { return }  // vanished or became a symlink: not a match
        defer { close(child) }
        try expand(dirFd: child, dirPath: entry.info.path, rest, into: &found)
    }

    private static func collectAll(dirFd: Int32, dirPath: String, into found: inout Set<String>) throws(ProviderError) {
        for entry in try listForGlob(dirFd, dirPath) where !entry.name.hasPrefix(".") {
            guard found.count < Glob.maxResults else { return }
            found.insert(entry.info.path)
            if isDir(entry.stat) {
                let child = openat(dirFd, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { continue }
                defer { close(child) }
                try collectAll(dirFd: child, dirPath: entry.info.path, into: &found)
            }
        }
    }

    private static func listForGlob(_ dirFd: Int32, _ dirPath: String) throws(ProviderError) -> [Entry] {
        let copy = openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { return [] }
        return try entries(of: copy, path: dirPath)
    }
}

private func isDir(_ st: Glibc.stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
