import Foundation
@testable import StacyProviders
import XCTest

/// Controller detection from mountinfo, and the v2 writes against a fake cgroupfs tree (the real
/// v2 path needs a host with v2 controllers; this project's machines are hybrid, v1 for limits).
final class CgroupLayoutTests: XCTestCase {
    static let hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let pureV2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate"

    func testHybridHostUsesV1ControllersAndNotTheTmpfs() {
        var layout = CgroupLayout.parse(mountinfo: Self.hybrid)
        layout.unifiedControllers = ["hugetlb"]
        XCTAssertEqual(layout.v1["memory"], "/sys/fs/cgroup/memory")
        XCTAssertEqual(layout.v1["freezer"], "/sys/fs/cgroup/freezer")
        XCTAssertEqual(layout.unified, "/sys/fs/cgroup/unified")
        XCTAssertEqual(layout.version(of: "memory"), "v1", "v2 here only offers hugetlb")
        XCTAssertNil(layout.problem(verifyFilesystems: false))
    }

    func testPureV2HostAndMissingControllers() {
        var layout = CgroupLayout.parse(mountinfo: Self.pureV2)
        XCTAssertEqual(layout.unified, "/sys/fs/cgroup")
        XCTAssertNotNil(layout.problem(verifyFilesystems: false), "no controllers listed: limits cannot apply")
        layout.unifiedControllers = ["memory", "pids", "cpu", "io"]
        XCTAssertEqual(layout.version(of: "pids"), "v2")
        XCTAssertNil(layout.problem(verifyFilesystems: false))
    }

    func testPlainDirectoryIsNotACgroupFilesystem() {
        XCTAssertFalse(CgroupLayout.isCgroupFilesystem(NSTemporaryDirectory()))
        var layout = CgroupLayout()
        layout.v1 = ["memory": NSTemporaryDirectory(), "pids": NSTemporaryDirectory(), "cpu": NSTemporaryDirectory()]
        XCTAssertNotNil(layout.problem(), "a tmpfs directory must fail the health check")
    }

    func testV2LimitsOnAFakeTree() throws {
        let root = NSTemporaryDirectory() + "stacyvm-cg2-\(UUID().uuidString.prefix(8))"
        let sandbox = root + "/stacyvm/sb1"
        try FileManager.default.createDirectory(atPath: sandbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for file in [root + "/cgroup.subtree_control", root + "/stacyvm/cgroup.subtree_control"]
            + ["memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cgroup.kill"].map({ sandbox + "/" + $0 }) {
            FileManager.default.createFile(atPath: file, contents: Data())
        }
        var layout = CgroupLayout()
        layout.unified = root
        layout.unifiedControllers = ["memory", "pids", "cpu"]
        let cgroups = SandboxCgroups(layout: layout, id: "sb1")
        XCTAssertEqual(cgroups.directories, [sandbox])
        try cgroups.create(CgroupLimits(memoryBytes: 64 << 20, pidsMax: 99, vcpus: 2), verifyFilesystems: false)
        func read(_ file: String) throws -> String { try String(contentsOfFile: sandbox + "/" + file, encoding: .utf8) }
        XCTAssertEqual(try read("memory.max"), String(64 << 20))
        XCTAssertEqual(try read("memory.swap.max"), "0")
        XCTAssertEqual(try read("pids.max"), "99")
        XCTAssertEqual(try read("cpu.max"), "200000 100000")
        XCTAssertEqual(try String(contentsOfFile: root + "/stacyvm/cgroup.subtree_control", encoding: .utf8), "+memory +pids +cpu")
        XCTAssertEqual(cgroups.procsFiles, [sandbox + "/cgroup.procs"])
        cgroups.killAll()
        XCTAssertEqual(try read("cgroup.kill"), "1", "v2 kills through cgroup.kill")
    }
}
