/// One entry of a sandbox file listing (runtime.md §5).
public struct FileInfo: Sendable, Equatable {
    /// Absolute, normalised sandbox path.
    public var path: String
    public var name: String
    public var size: Int64
    /// Permission bits only (`st_mode & 0o7777`).
    public var mode: UInt32
    public var isDir: Bool
    public var modTimeSeconds: Int64
    public init(path: String, name: String, size: Int64, mode: UInt32, isDir: Bool, modTimeSeconds: Int64) {
        self.path = path
        self.name = name
        self.size = size
        self.mode = mode
        self.isDir = isDir
        self.modTimeSeconds = modTimeSeconds
    }
}
