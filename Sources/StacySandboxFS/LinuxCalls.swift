import Glibc

/// Linux calls glibc exports but Swift's Glibc module hides behind `_GNU_SOURCE`; looked up once.
public enum LinuxCalls {
    public typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    public typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    public typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    nonisolated(unsafe) public static let pipe2: Pipe2 = load("pipe2")
    nonisolated(unsafe) public static let setns: SetNS = load("setns")
    /// `CLONE_NEWNET`.
    public static let newNetworkNamespace: Int32 = 0x4000_0000
    nonisolated(unsafe) public static let addChdir: AddChdir = load("posix_spawn_file_actions_addchdir_np")
    /// `O_PATH` on x86_64 and aarch64 Linux.
    public static let oPath: Int32 = 0o10000000

    private static func load<F>(_ symbol: String) -> F {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, symbol) else {
            fatalError("glibc symbol \(symbol) missing (glibc >= 2.29 required)")
        }
        return unsafeBitCast(address, to: F.self)
    }
}
