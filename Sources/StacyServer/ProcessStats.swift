#if canImport(Glibc)
import Glibc
#endif

/// Facts about this process read from `/proc/self/status`, for `/metrics`.
struct ProcessStats {
    var threads = 0
    var residentBytes = 0
    var virtualBytes = 0
    var dataBytes = 0

    static func current() -> ProcessStats {
        var stats = ProcessStats()
        guard let text = readSmallFile("/proc/self/status") else { return stats }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            switch parts[0] {
            case "Threads": stats.threads = value
            case "VmRSS": stats.residentBytes = value * 1024
            case "VmSize": stats.virtualBytes = value * 1024
            case "VmData": stats.dataBytes = value * 1024
            default: break
            }
        }
        return stats
    }
}

/// Reads a small file (a /proc entry) without Foundation.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}
