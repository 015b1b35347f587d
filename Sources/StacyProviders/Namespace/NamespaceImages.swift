import Foundation
import Glibc

/// The read-only root a namespace sandbox runs on (runtime.md §2.6, "Images").
public enum NamespaceImage: Sendable, Equatable {
    /// The host's /usr with its merged-usr links and /etc, secrets masked.
    case host
    /// A root filesystem on the host (imported or configured); its top-level entries are bound.
    case directory(String)
}

/// The namespace provider's images: the built-in `host`, images imported into `image_dir` by
/// `stacyvm images import` (cli.md §3), and the `providers.namespace.images` entries.
///
/// Imported images are found by their storage name (`:` and `/` replaced by `_`), which is also
/// the name they are listed under: the original spelling is not kept, and both spellings resolve.
public struct NamespaceImages: Sendable {
    public static let hostName = "host"

    /// `providers.namespace.image_dir`.
    public let imageDirectory: String
    /// `providers.namespace.images`: name → root directory.
    public let configured: [String: String]
    /// `providers.namespace.image_fallback`; empty means unknown images are refused.
    public let fallback: String

    public init(imageDirectory: String, configured: [String: String], fallback: String) {
        self.imageDirectory = imageDirectory
        self.configured = configured
        self.fallback = fallback
    }

    /// One row of `stacyvm images list`.
    public struct Entry: Sendable, Equatable {
        public enum Kind: String, Sendable { case builtin, imported, configured }
        public let name: String
        public let kind: Kind
        /// Total size of the regular files (symlinks not followed); nil for `host` and for a
        /// configured root that does not exist.
        public let bytes: Int64?
        /// The root directory; nil for `host`.
        public let path: String?
    }

    // MARK: names

    /// The directory name of an imported image inside `imageDirectory`.
    public static func storageName(_ name: String) -> String {
        // Scalars, not Characters: "/" followed by a combining mark is one Character that would
        // not compare equal to "/" and so would survive into the path.
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars { scalars.append(scalar == ":" || scalar == "/" ? "_" : scalar) }
        return String(scalars)
    }

    public static func validateName(_ name: String) throws(ProviderError) {
        if let problem = nameProblem(name) { throw .invalidInput(problem) }
    }

    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "image name must not be empty" }
        if name.utf8.contains(0) { return "image name must not contain NUL" }
        // Names become directory names and table cells: a newline would break both.
        if name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "image name must not contain control characters" }
        if name.utf8.count > 255 { return "image name is longer than 255 bytes" }
        if name == "." || name == ".." { return "\"\(name)\" is not a valid image name" }
        // Entries of image_dir starting with "." are imports in progress, never images.
        if name.hasPrefix(".") { return "image name must not start with \".\"" }
        return nil
    }

    // MARK: lookup

    /// Every name that resolves to itself: host, the imported images (by storage name) and the
    /// configured names; sorted, unique.
    public func available() -> [String] {
        Set([Self.hostName] + importedNames() + configured.keys).sorted()
    }

    /// The image for a sandbox's `image`. Unknown names get the fallback image; with an empty
    /// fallback they are `imageNotFound`, whose message lists what is available.
    public func resolve(_ name: String) throws(ProviderError) -> NamespaceImage {
        if let image = try find(name) { return image }
        guard !fallback.isEmpty else {
            throw .imageNotFound("\(name) (available: \(available().joined(separator: ", ")))")
        }
        guard let image = try find(fallback) else {
            throw .imageNotFound("\(name), and the fallback image \(fallback) does not exist either "
                                 + "(available: \(available().joined(separator: ", ")))")
        }
        return image
    }

    /// The image a name denotes without any fallback; nil when nothing has that name.
    func find(_ name: String) throws(ProviderError) -> NamespaceImage? {
        if name == Self.hostName { return .host }
        if let root = configured[name] {
            // A missing root would give a sandbox with an empty filesystem; say why instead.
            guard ImageFS.isDirectory(root) else {
                throw .imageNotFound("\(name) (configured, but its root directory is missing on this host)")
            }
            return .directory(root)
        }
        return importedPath(name).map { .directory($0) }
    }

    /// Where the imported image of this name is, if there is one. Invalid names (`..`, names of
    /// imports in progress) never reach the file system.
    func importedPath(_ name: String) -> String? {
        guard Self.nameProblem(name) == nil else { return nil }
        let path = imageDirectory + "/" + Self.storageName(name)
        return ImageFS.isDirectory(path) ? path : nil
    }

    func importedNames() -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: imageDirectory) else { return [] }
        return entries.filter { importedPath($0) != nil }.sorted()
    }

    /// The rows of `stacyvm images list`, sorted by name. A configured name hides an imported
    /// image of the same name, as in `resolve`.
    public func sizes() -> [Entry] {
        var entries = [Entry(name: Self.hostName, kind: .builtin, bytes: nil, path: nil)]
        for (name, root) in configured where name != Self.hostName {
            entries.append(Entry(name: name, kind: .configured, bytes: Self.treeBytes(root), path: root))
        }
        for name in importedNames() where name != Self.hostName && configured[name] == nil {
            let root = imageDirectory + "/" + name
            entries.append(Entry(name: name, kind: .imported, bytes: Self.treeBytes(root), path: root))
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// Bytes of the regular files under `root`, not following symlinks (except `root` itself).
    static func treeBytes(_ root: String) -> Int64? {
        guard let st = hostStat(root) else { return nil }
        guard ImageFS.isKind(st, S_IFDIR) else { return ImageFS.isKind(st, S_IFREG) ? Int64(st.st_size) : 0 }
        var total: Int64 = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            let path = root + "/" + entry
            guard let child = ImageFS.linkStat(path) else { continue }
            if ImageFS.isKind(child, S_IFREG) { total += Int64(child.st_size) }
            if ImageFS.isKind(child, S_IFDIR) { total += treeBytes(path) ?? 0 }
        }
        return total
    }

    // MARK: bubblewrap arguments

    static let secretFiles = ["shadow", "gshadow", "shadow-", "gshadow-"]

    /// The bubblewrap arguments that build the sandbox's read-only root. `skip` names the
    /// top-level paths the provider mounts itself (`proc`, `dev`, `workspace`, …; with or
    /// without a leading `/`); a directory image's entries of those names are left out.
    public static func rootArguments(_ image: NamespaceImage, emptyFile: String, skip: Set<String>) -> [String] {
        switch image {
        case .host: return hostArguments(emptyFile: emptyFile)
        case .directory(let root): return directoryArguments(root: root, emptyFile: emptyFile, skip: skip)
        }
    }

    /// The host's /usr with its merged-usr links, and /etc, read-only, with secrets masked.
    static func hostArguments(emptyFile: String) -> [String] {
        var args = ["--ro-bind", "/usr", "/usr"]
        for (link, target) in [("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"),
                                ("/lib32", "usr/lib32"), ("/libx32", "usr/libx32")] {
            guard let st = ImageFS.linkStat(link) else { continue }
            args += ImageFS.isKind(st, S_IFLNK) ? ["--symlink", target, link] : ["--ro-bind", link, link]
        }
        args += ["--ro-bind", "/etc", "/etc"]
        for secret in secretFiles where access("/etc/" + secret, F_OK) == 0 {
            args += ["--ro-bind", emptyFile, "/etc/" + secret]
        }
        if let keys = try? FileManager.default.contentsOfDirectory(atPath: "/etc/ssh") {
            for key in keys.sorted() where isHostKey(key) {
                args += ["--ro-bind", emptyFile, "/etc/ssh/" + key]
            }
        }
        if let st = hostStat("/etc/stacyvm"), ImageFS.isKind(st, S_IFDIR) { args += ["--tmpfs", "/etc/stacyvm"] }
        return args
    }

    /// bubblewrap's root is its own tmpfs, so each top-level entry of the image is bound on its
    /// own. Top-level symlinks are recreated inside (a bind would follow them on the host).
    static func directoryArguments(root: String, emptyFile: String, skip: Set<String>) -> [String] {
        let skipped = Set(skip.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 })
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        var args: [String] = []
        for entry in entries where !skipped.contains(entry) {
            let source = root + "/" + entry
            guard let st = ImageFS.linkStat(source) else { continue }
            if ImageFS.isKind(st, S_IFDIR) || ImageFS.isKind(st, S_IFREG) {
                args += ["--ro-bind", source, "/" + entry]
            } else if ImageFS.isKind(st, S_IFLNK), let target = ImageFS.readLink(source) {
                args += ["--symlink", target, "/" + entry]
            }
            // Device nodes, fifos and sockets are left out: the provider mounts its own /dev.
        }
        if !skipped.contains("etc") { args += imageSecretMasks(root: root, emptyFile: emptyFile) }
        return args
    }

    /// The image's own secrets, masked like the host's. Only where `etc` (and `etc/ssh`) are real
    /// directories of the image: a symlinked `etc` must not send these checks to the host's files.
    static func imageSecretMasks(root: String, emptyFile: String) -> [String] {
        let etc = root + "/etc"
        guard let st = ImageFS.linkStat(etc), ImageFS.isKind(st, S_IFDIR) else { return [] }
        var args: [String] = []
        for secret in secretFiles where ImageFS.isRegularFile(etc + "/" + secret) {
            args += ["--ro-bind", emptyFile, "/etc/" + secret]
        }
        if let ssh = ImageFS.linkStat(etc + "/ssh"), ImageFS.isKind(ssh, S_IFDIR),
           let keys = try? FileManager.default.contentsOfDirectory(atPath: etc + "/ssh") {
            for key in keys.sorted() where isHostKey(key) && ImageFS.isRegularFile(etc + "/ssh/" + key) {
                args += ["--ro-bind", emptyFile, "/etc/ssh/" + key]
            }
        }
        if let dir = ImageFS.linkStat(etc + "/stacyvm"), ImageFS.isKind(dir, S_IFDIR) { args += ["--tmpfs", "/etc/stacyvm"] }
        return args
    }

    static func isHostKey(_ name: String) -> Bool { name.hasPrefix("ssh_host_") && name.hasSuffix("_key") }

    // MARK: import

    /// Installs a root filesystem (a directory, or a tar archive, plain or gzip) as image `name`
    /// and returns its path. It is built in a private directory inside `imageDirectory` and
    /// renamed into place only when complete, so a failed import leaves nothing behind.
    public func importImage(name: String, from source: String) throws(ProviderError) -> String {
        try Self.validateName(name)
        let destination = imageDirectory + "/" + Self.storageName(name)
        try refuseExisting(name, destination)
        let sourceIsDirectory = try Self.sourceIsDirectory(source)
        try makeImageDirectory()
        if sourceIsDirectory { try refuseImageDirectoryInside(source) }

        let staging = try makeStaging()
        defer { Self.removeTree(staging) }
        let rootfs = staging + "/rootfs"
        if sourceIsDirectory {
            try ImageCopier.copyDirectory(from: source, to: rootfs)
        } else {
            try ImageCopier.extract(archive: source, into: rootfs)
        }
        try ImageCopier.normalizeTree(rootfs)
        Glibc.chmod(rootfs, 0o755)
        guard rename(rootfs, destination) == 0 else {
            // Another import of the same name finished first.
            if errno == EEXIST || errno == ENOTEMPTY { throw .alreadyExists("image \(name)") }
            throw ImageFS.failure("cannot move the image to \(destination)")
        }
        return destination
    }

    private func refuseExisting(_ name: String, _ destination: String) throws(ProviderError) {
        if name == Self.hostName { throw .alreadyExists("image host (it is built in)") }
        if configured[name] != nil { throw .alreadyExists("image \(name) (configured in providers.namespace.images)") }
        guard ImageFS.linkStat(destination) == nil else {
            let storage = Self.storageName(name)
            throw .alreadyExists(storage == name ? "image \(name)" : "image \(name) (stored as \(storage))")
        }
    }

    /// The source as given is followed (it may be a symlink to a rootfs); nothing inside it is.
    private static func sourceIsDirectory(_ source: String) throws(ProviderError) -> Bool {
        guard let st = hostStat(source) else { throw .fileNotFound(source) }
        if ImageFS.isKind(st, S_IFDIR) { return true }
        if ImageFS.isKind(st, S_IFREG) { return false }
        throw .invalidInput("\(source) is neither a directory nor a tar archive")
    }

    /// Copying a tree that contains `imageDirectory` would copy the import into itself.
    private func refuseImageDirectoryInside(_ source: String) throws(ProviderError) {
        guard let from = ImageFS.canonicalPath(source), let images = ImageFS.canonicalPath(imageDirectory) else { return }
        if images == from || images.hasPrefix(from == "/" ? "/" : from + "/") {
            throw .invalidInput("cannot import \(source): it contains the image directory \(imageDirectory)")
        }
    }

    /// Creates `imageDirectory` (0755) and missing parents (0711: sandbox uids must pass through
    /// them to reach images, but need not list them).
    private func makeImageDirectory() throws(ProviderError) {
        var current = imageDirectory.hasPrefix("/") ? "" : "."
        let parts = imageDirectory.split(separator: "/")
        for (index, part) in parts.enumerated() {
            current += "/" + part
            guard hostStat(current) == nil else { continue }
            let mode: mode_t = index == parts.count - 1 ? 0o755 : 0o711
            if mkdir(current, mode) == 0 {
                Glibc.chmod(current, mode)  // mkdir's mode is subject to the umask
            } else if errno != EEXIST {
                throw ImageFS.failure("cannot create \(current)")
            }
        }
        guard let st = hostStat(imageDirectory), ImageFS.isKind(st, S_IFDIR) else {
            throw .internal("\(imageDirectory) is not a directory")
        }
    }

    /// A 0700 directory, so nothing is reachable by other users until the image is complete and
    /// its modes are fixed (a root tar extraction could otherwise expose device nodes or setuid
    /// files for a moment).
    private func makeStaging() throws(ProviderError) -> String {
        let path = imageDirectory + "/.import-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o700) == 0 else { throw ImageFS.failure("cannot create \(path)") }
        return path
    }

    /// Removes a tree without following symlinks, first making directories writable (an image
    /// may have read-only directories, which would block removal as non-root).
    static func removeTree(_ path: String) {
        guard let st = ImageFS.linkStat(path) else { return }
        guard ImageFS.isKind(st, S_IFDIR) else {
            unlink(path)
            return
        }
        Glibc.chmod(path, 0o700)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            removeTree(path + "/" + entry)
        }
        rmdir(path)
    }
}

/// Copying and extracting image trees for `NamespaceImages.importImage`.
enum ImageCopier {
    static let tarPath = "/usr/bin/tar"

    /// Copies a directory recursively: directories, regular files and symlinks (as links, never
    /// followed), with their permission bits. Other file types are not part of an image and are
    /// left out; hard links become separate copies.
    static func copyDirectory(from source: String, to destination: String) throws(ProviderError) {
        guard let st = hostStat(source) else { throw .fileNotFound(source) }
        // Created private and writable; the source's mode is applied once the contents are in.
        guard mkdir(destination, 0o700) == 0 else { throw ImageFS.failure("cannot create \(destination)") }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: source)
        } catch {
            throw .internal("cannot read the directory \(source): \(error.localizedDescription)")
        }
        for entry in entries {
            let from = source + "/" + entry, to = destination + "/" + entry
            guard let child = ImageFS.linkStat(from) else { throw ImageFS.failure("cannot stat \(from)") }
            if ImageFS.isKind(child, S_IFDIR) {
                try copyDirectory(from: from, to: to)
            } else if ImageFS.isKind(child, S_IFREG) {
                try copyFile(from: from, to: to, mode: child.st_mode & 0o7777)
            } else if ImageFS.isKind(child, S_IFLNK) {
                try copySymlink(from: from, to: to)
            }
        }
        guard Glibc.chmod(destination, st.st_mode & 0o7777) == 0 else {
            throw ImageFS.failure("cannot chmod \(destination)")
        }
    }

    static func copyFile(from source: String, to destination: String, mode: mode_t) throws(ProviderError) {
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw ImageFS.failure("cannot open \(source)") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw ImageFS.failure("cannot create \(destination)") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ImageFS.failure("cannot read \(source)")
            }
            try writeAll(output, buffer[0..<count], to: destination)
        }
        guard fchmod(output, mode) == 0 else { throw ImageFS.failure("cannot chmod \(destination)") }
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, to path: String) throws(ProviderError) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ImageFS.failure("cannot write \(path)")
            }
            offset += written
        }
    }

    static func copySymlink(from source: String, to destination: String) throws(ProviderError) {
        guard let target = ImageFS.readLink(source) else { throw ImageFS.failure("cannot read the link \(source)") }
        guard symlink(target, destination) == 0 else { throw ImageFS.failure("cannot create \(destination)") }
    }

    /// Extracts a tar archive (gzip recognised by its magic bytes) with the host's tar.
    static func extract(archive: String, into destination: String) throws(ProviderError) {
        guard mkdir(destination, 0o700) == 0 else { throw ImageFS.failure("cannot create \(destination)") }
        var arguments = ["-x", "-f", archive, "-C", destination]
        if try isGzip(archive) { arguments.insert("-z", at: 0) }
        // Only root can give files to other owners; for anyone else tar would just complain.
        if getuid() != 0 { arguments.append("--no-same-owner") }
        let (status, messages) = try run(tarPath, arguments)
        guard status != 0 else { return }
        // Device nodes are not part of an image (normalizeTree removes those root could
        // create); that an unprivileged tar cannot create them is no reason to fail the import.
        let failures = messages.filter { !$0.contains("Cannot mknod: Operation not permitted")
                                          && !$0.contains("Exiting with failure status due to previous errors") }
        if failures.isEmpty && messages.contains(where: { $0.contains("Cannot mknod") }) { return }
        let reason = failures.isEmpty ? "tar exited with \(status)" : failures.suffix(3).joined(separator: "; ")
        throw .invalidInput("cannot extract \(archive): \(reason)")
    }

    static func isGzip(_ path: String) throws(ProviderError) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageFS.failure("cannot open \(path)") }
        defer { close(fd) }
        var magic: [UInt8] = [0, 0]
        let count = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 2) }
        return count == 2 && magic == [0x1F, 0x8B]
    }

    /// Runs a program to completion; returns its exit status and the non-empty lines of its stderr.
    private static func run(_ executable: String, _ arguments: [String]) throws(ProviderError) -> (Int32, [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // English messages, which `extract` reads; PATH stays, tar finds gzip through it.
        process.environment = ProcessInfo.processInfo.environment.merging(["LC_ALL": "C"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw .internal("cannot start \(executable): \(error.localizedDescription)")
        }
        // Read before waiting: a child blocked on a full pipe would never exit.
        let output = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (process.terminationStatus, lines)
    }

    /// Makes an image tree fit to be shared by sandboxes: modes from `sharedMode`, and anything
    /// but directories, regular files and symlinks removed (device nodes a root extraction made).
    static func normalizeTree(_ path: String) throws(ProviderError) {
        guard let st = ImageFS.linkStat(path) else { throw ImageFS.failure("cannot stat \(path)") }
        if ImageFS.isKind(st, S_IFLNK) { return }
        let isDirectory = ImageFS.isKind(st, S_IFDIR)
        guard isDirectory || ImageFS.isKind(st, S_IFREG) else {
            guard unlink(path) == 0 else { throw ImageFS.failure("cannot remove \(path)") }
            return
        }
        let mode = st.st_mode & 0o7777, wanted = sharedMode(mode, isDirectory: isDirectory)
        // Directories before listing them, so one the archive made unreadable can be walked.
        if wanted != mode, Glibc.chmod(path, wanted) != 0 {
            throw ImageFS.failure("cannot chmod \(path)")
        }
        guard isDirectory else { return }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .internal("cannot read the directory \(path): \(error.localizedDescription)")
        }
        for entry in entries { try normalizeTree(path + "/" + entry) }
    }

    /// Sandboxes run as unprivileged uids that own nothing in the image, so others get read
    /// (directories: read and search; files: execute where anyone may execute them). Others lose
    /// write: the image is read-only inside anyway, and on the host any local user could change
    /// what every sandbox runs. setuid/setgid files lose those bits: in `image_dir` they would be
    /// setuid files of the host, and no_new_privs ignores them inside.
    static func sharedMode(_ mode: mode_t, isDirectory: Bool) -> mode_t {
        if isDirectory { return (mode | 0o505) & ~0o002 }  // the owner's r-x lets the import walk it
        let execute: mode_t = mode & 0o111 != 0 ? 0o001 : 0
        return ((mode & ~(S_ISUID | S_ISGID)) | 0o004 | execute) & ~0o002
    }
}

// MARK: file system helpers

/// Small file-system helpers, in a namespace so they cannot clash with the module's others.
enum ImageFS {
    /// `lstat(2)`: the entry itself, never a symlink's target.
    static func linkStat(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    static func isKind(_ st: stat, _ kind: mode_t) -> Bool { st.st_mode & S_IFMT == kind }

    /// A regular file, not a symlink to one.
    static func isRegularFile(_ path: String) -> Bool { linkStat(path).map { isKind($0, S_IFREG) } ?? false }

    /// A directory, following symlinks (image_dir and configured roots belong to the operator).
    static func isDirectory(_ path: String) -> Bool { hostStat(path).map { isKind($0, S_IFDIR) } ?? false }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// An I/O failure, with the reason `errno` gives; for the operator, so host paths are fine.
    static func failure(_ what: String) -> ProviderError { .internal("\(what): \(errnoText())") }
}
