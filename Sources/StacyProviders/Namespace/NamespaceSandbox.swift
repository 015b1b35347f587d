import Foundation
import Glibc
import Synchronization

/// One sandbox as the provider knows it; `state.json` in its directory lets a restarted process
/// find it again (runtime.md §2.6, "Restart survival").
final class NamespaceSandbox: Sendable {
    let id: String
    let directory: String
    let shim: ProcessIdentity
    let slot: Int
    let uid: Int

    init(id: String, directory: String, shim: ProcessIdentity, slot: Int, uid: Int) {
        self.id = id
        self.directory = directory
        self.shim = shim
        self.slot = slot
        self.uid = uid
    }

    var socketPath: String { directory + "/run/agent.sock" }
    var consolePath: String { directory + "/console.log" }

    func writeState() throws(ProviderError) {
        let object: [String: Any] = ["sandbox_id": id, "shim_pid": Int(shim.pid), "shim_start_ticks": shim.startTicks,
                                     "slot": slot, "uid": uid]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
              FileManager.default.createFile(atPath: directory + "/state.json", contents: data,
                                             attributes: [.posixPermissions: 0o600]) else {
            throw .internal("cannot write \(directory)/state.json")
        }
    }

    static func load(_ directory: String) -> NamespaceSandbox? {
        guard let data = FileManager.default.contents(atPath: directory + "/state.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let id = object["sandbox_id"] as? String, let pid = object["shim_pid"] as? Int,
              let ticks = (object["shim_start_ticks"] as? NSNumber)?.uint64Value,
              let slot = object["slot"] as? Int, let uid = object["uid"] as? Int else { return nil }
        return NamespaceSandbox(id: id, directory: directory, shim: ProcessIdentity(pid: pid_t(pid), startTicks: ticks),
                                slot: slot, uid: uid)
    }

    /// Lifecycle and exec summary lines go to the same file as the agent's own output. The file is
    /// the console's ring buffer: past `keep` lines (and 256 bytes a line on average) it is cut back
    /// to its last `keep` lines, in place, so the shim's appends keep landing in it.
    func appendConsole(_ line: String, keep: Int) {
        let fd = open(consolePath, O_RDWR | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let text = line + "\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) > max(keep, 1) * 256 else { return }
        let kept = consoleLines(last: keep).joined(separator: "\n") + "\n"
        guard ftruncate(fd, 0) == 0 else { return }
        _ = kept.withCString { write(fd, $0, strlen($0)) }
    }

    func consoleLines(last count: Int) -> [String] {
        guard count > 0, let text = try? String(contentsOfFile: consolePath, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return Array(lines.suffix(count))
    }

    func consoleLineCount() -> Int { consoleLines(last: Int.max).count }
}
