import Foundation
import Glibc
@testable import StacyProviders
import XCTest

/// Images of the namespace provider (runtime.md §2.6): names, resolution with fallback, import of
/// directories and tarballs, and the bubblewrap arguments of an image root.
final class NamespaceImagesTests: XCTestCase {
    private var base = ""
    private var imageDirectory: String { base + "/images" }

    override func setUp() {
        base = NSTemporaryDirectory() + "stacyvm-images-\(UUID().uuidString.prefix(8))"
        XCTAssertEqual(mkdir(base, 0o755), 0)
    }

    override func tearDown() {
        NamespaceImages.removeTree(base)
    }

    private func makeImages(configured: [String: String] = [:], fallback: String = "host") -> NamespaceImages {
        NamespaceImages(imageDirectory: imageDirectory, configured: configured, fallback: fallback)
    }

    // MARK: names

    func testStorageNames() {
        XCTAssertEqual(NamespaceImages.storageName("demo:1"), "demo_1")
        XCTAssertEqual(NamespaceImages.storageName("library/python:3.12"), "library_python_3.12")
        XCTAssertEqual(NamespaceImages.storageName("plain"), "plain")
        // "/" followed by a combining mark is one Character; it must still be replaced.
        XCTAssertFalse(NamespaceImages.storageName("a/\u{301}b").contains("/"))
    }

    func testNameValidation() {
        for valid in ["demo:1", "library/python:3.12", "host", String(repeating: "a", count: 255)] {
            XCTAssertNil(providerError { try NamespaceImages.validateName(valid) }, valid)
        }
        for invalid in ["", ".", "..", ".hidden", "a\0b", "a\nb", String(repeating: "a", count: 256)] {
            guard case .invalidInput? = providerError({ try NamespaceImages.validateName(invalid) }) else {
                return XCTFail("\(invalid.debugDescription) should be invalidInput")
            }
        }
    }

    // MARK: resolve

    func testResolveHostConfiguredImportedAndFallback() throws {
        let custom = try makeDirectory("custom-root")
        try makeDirectory("images/demo_1")
        try makeDirectory("images/.import-1-2")  // an import in progress is not an image
        let images = makeImages(configured: ["custom": custom])

        XCTAssertEqual(try images.resolve("host"), .host)
        XCTAssertEqual(try images.resolve("custom"), .directory(custom))
        XCTAssertEqual(try images.resolve("demo:1"), .directory(imageDirectory + "/demo_1"))
        XCTAssertEqual(try images.resolve("demo_1"), .directory(imageDirectory + "/demo_1"))
        XCTAssertEqual(try images.resolve("alpine:latest"), .host)
        XCTAssertEqual(try images.resolve(".."), .host, "names that are not image names never reach the file system")
        XCTAssertEqual(try images.resolve(".import-1-2"), .host)
        XCTAssertEqual(images.available(), ["custom", "demo_1", "host"])

        XCTAssertEqual(try self.makeImages(configured: ["custom": custom], fallback: "custom").resolve("python:3.12"),
                       .directory(custom))
        XCTAssertEqual(try self.makeImages(fallback: "demo:1").resolve("python:3.12"), .directory(imageDirectory + "/demo_1"))
    }

    func testEmptyFallbackRefusesUnknownImagesAndListsTheAvailableOnes() throws {
        let custom = try makeDirectory("custom-root")
        try makeDirectory("images/demo_1")
        let images = makeImages(configured: ["custom": custom], fallback: "")
        XCTAssertEqual(try images.resolve("demo:1"), .directory(imageDirectory + "/demo_1"))
        guard case .imageNotFound(let message)? = providerError({ _ = try images.resolve("alpine:latest") }) else {
            return XCTFail("expected imageNotFound")
        }
        XCTAssertEqual(ProviderError.imageNotFound(message).status, 400)
        for name in ["alpine:latest", "custom", "demo_1", "host"] { XCTAssertTrue(message.contains(name), message) }
    }

    func testMissingFallbackAndMissingConfiguredRootAreImageNotFound() throws {
        guard case .imageNotFound(let message)? = providerError({ _ = try self.makeImages(fallback: "base").resolve("x") }) else {
            return XCTFail("expected imageNotFound")
        }
        XCTAssertTrue(message.contains("base"), message)
        let missing = makeImages(configured: ["gone": base + "/nowhere"])
        guard case .imageNotFound(let detail)? = providerError({ _ = try missing.resolve("gone") }) else {
            return XCTFail("expected imageNotFound")
        }
        XCTAssertFalse(detail.contains(base), "no host paths in messages for API callers: \(detail)")
    }

    // MARK: import

    func testImportDirectoryKeepsSymlinksAsLinksAndModes() throws {
        let source = try makeDirectory("src")
        try makeDirectory("src/usr/bin")
        try writeFile("src/usr/bin/tool", "#!/bin/sh\n", mode: 0o750)
        try writeFile("src/etc/hostname", "demo\n", mode: 0o640)
        try writeFile("src/usr/bin/su", "setuid\n", mode: 0o4755)
        XCTAssertEqual(symlink("/etc/passwd", source + "/etc/outside"), 0)
        XCTAssertEqual(symlink("usr/bin", source + "/bin"), 0)

        let installed = try makeImages().importImage(name: "demo:1", from: source)
        XCTAssertEqual(installed, imageDirectory + "/demo_1")

        let link = try XCTUnwrap(ImageFS.linkStat(installed + "/etc/outside"))
        XCTAssertTrue(ImageFS.isKind(link, S_IFLNK), "a symlink stays a symlink, never a copy of its target")
        XCTAssertEqual(ImageFS.readLink(installed + "/etc/outside"), "/etc/passwd")
        XCTAssertEqual(ImageFS.readLink(installed + "/bin"), "usr/bin")
        XCTAssertEqual(try String(contentsOfFile: installed + "/etc/hostname", encoding: .utf8), "demo\n")
        // Owner and group bits are kept; others may read (and run what anyone may run).
        XCTAssertEqual(mode(installed + "/usr/bin/tool"), 0o755)
        XCTAssertEqual(mode(installed + "/usr/bin/tool") & 0o770, 0o750)
        XCTAssertEqual(mode(installed + "/etc/hostname"), 0o644)
        XCTAssertEqual(mode(installed + "/usr/bin/su"), 0o755, "setuid is dropped")
        XCTAssertEqual(mode(installed), 0o755)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: imageDirectory), ["demo_1"], "no staging left")
        XCTAssertEqual(try makeImages().resolve("demo:1"), .directory(installed))
    }

    func testImportTarballAndGzipTarball() throws {
        let source = try makeDirectory("src")
        try writeFile("src/etc/os-release", "ID=demo\n", mode: 0o644)
        try writeFile("src/usr/bin/tool", "#!/bin/sh\n", mode: 0o750)
        XCTAssertEqual(symlink("/usr/lib", source + "/lib"), 0)
        try runTar(["-c", "-f", base + "/rootfs.tar", "-C", source, "."])
        try runTar(["-c", "-z", "-f", base + "/rootfs.tgz", "-C", source, "."])
        XCTAssertFalse(try ImageCopier.isGzip(base + "/rootfs.tar"))
        XCTAssertTrue(try ImageCopier.isGzip(base + "/rootfs.tgz"))

        for (name, archive) in [("plain", "rootfs.tar"), ("zipped:1", "rootfs.tgz")] {
            let installed = try makeImages().importImage(name: name, from: base + "/" + archive)
            XCTAssertEqual(installed, imageDirectory + "/" + NamespaceImages.storageName(name))
            XCTAssertEqual(try String(contentsOfFile: installed + "/etc/os-release", encoding: .utf8), "ID=demo\n")
            XCTAssertEqual(ImageFS.readLink(installed + "/lib"), "/usr/lib", archive)
            XCTAssertEqual(mode(installed + "/usr/bin/tool"), 0o755, archive)
            XCTAssertEqual(mode(installed), 0o755, archive)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: imageDirectory).sorted(), ["plain", "zipped_1"])
    }

    func testSharedModes() {
        XCTAssertEqual(ImageCopier.sharedMode(0o750, isDirectory: false), 0o755)
        XCTAssertEqual(ImageCopier.sharedMode(0o640, isDirectory: false), 0o644)
        XCTAssertEqual(ImageCopier.sharedMode(0o666, isDirectory: false), 0o664, "others never write an image")
        XCTAssertEqual(ImageCopier.sharedMode(0o4755, isDirectory: false), 0o755, "no setuid files on the host")
        XCTAssertEqual(ImageCopier.sharedMode(0o2750, isDirectory: false), 0o755)
        XCTAssertEqual(ImageCopier.sharedMode(0o700, isDirectory: true), 0o705)
        XCTAssertEqual(ImageCopier.sharedMode(0o1777, isDirectory: true), 0o1775)
        XCTAssertEqual(ImageCopier.sharedMode(0o000, isDirectory: true), 0o505)
    }

    /// Images hold directories, regular files and symlinks only; the provider mounts its own /dev.
    func testSpecialFilesAreLeftOut() throws {
        let source = try makeDirectory("src")
        try writeFile("src/etc/hostname", "demo\n", mode: 0o644)
        XCTAssertEqual(mkfifo(source + "/etc/fifo", 0o644), 0)
        // Only root can make a device node; without one the fifo still covers the rule.
        let hasDevice = mknod(source + "/etc/null", S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0  // 1,3: /dev/null
        try runTar(["-c", "-f", base + "/rootfs.tar", "-C", source, "."])

        for (name, from) in [("copied", source), ("extracted", base + "/rootfs.tar")] {
            let installed = try makeImages().importImage(name: name, from: from)
            XCTAssertTrue(ImageFS.isRegularFile(installed + "/etc/hostname"), name)
            XCTAssertNil(ImageFS.linkStat(installed + "/etc/fifo"), name)
            if hasDevice { XCTAssertNil(ImageFS.linkStat(installed + "/etc/null"), name) }
        }
    }

    func testImportingAnExistingNameIsAlreadyExistsAndKeepsTheFirst() throws {
        try writeFile("first/marker", "first", mode: 0o644)
        try writeFile("second/marker", "second", mode: 0o644)
        let installed = try makeImages().importImage(name: "demo:1", from: base + "/first")
        for name in ["demo:1", "demo/1", "demo_1"] {
            guard case .alreadyExists? = providerError({ _ = try self.makeImages().importImage(name: name, from: self.base + "/second") })
            else { return XCTFail("\(name) should be alreadyExists") }
        }
        XCTAssertEqual(try String(contentsOfFile: installed + "/marker", encoding: .utf8), "first")
        guard case .alreadyExists? = providerError({ _ = try self.makeImages().importImage(name: "host", from: self.base + "/second") })
        else { return XCTFail("host is built in") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: imageDirectory), ["demo_1"])
    }

    func testFailedImportsLeaveNothingBehind() throws {
        guard case .fileNotFound? = providerError({ _ = try self.makeImages().importImage(name: "x", from: self.base + "/missing") })
        else { return XCTFail("a missing source is fileNotFound") }
        XCTAssertNil(ImageFS.linkStat(imageDirectory + "/x"))

        // tar fails after the staging directory exists: it must be removed again.
        try writeFile("broken.tar", String(repeating: "not a tar archive ", count: 100), mode: 0o644)
        guard case .invalidInput(let message)? = providerError({
            _ = try self.makeImages().importImage(name: "x", from: self.base + "/broken.tar")
        }) else { return XCTFail("a broken archive is invalidInput") }
        XCTAssertTrue(message.contains("broken.tar"), message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: imageDirectory), [])

        guard case .invalidInput? = providerError({ _ = try self.makeImages().importImage(name: "..", from: self.base) })
        else { return XCTFail("an invalid name is invalidInput") }
    }

    func testImportingATreeThatContainsTheImageDirectoryIsRefused() throws {
        guard case .invalidInput? = providerError({ _ = try self.makeImages().importImage(name: "self", from: self.base) })
        else { return XCTFail("copying the image directory into itself must be refused") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: imageDirectory), [])
    }

    func testSizesListsEveryKindWithBytes() throws {
        try writeFile("src/a", String(repeating: "x", count: 1000), mode: 0o644)
        try writeFile("src/d/b", String(repeating: "y", count: 24), mode: 0o644)
        XCTAssertEqual(symlink("/usr/bin/env", base + "/src/link"), 0)
        let custom = try makeDirectory("custom-root")
        let path = try makeImages().importImage(name: "demo:1", from: base + "/src")
        let entries = makeImages(configured: ["custom": custom]).sizes()
        XCTAssertEqual(entries, [
            NamespaceImages.Entry(name: "custom", kind: .configured, bytes: 0, path: custom),
            NamespaceImages.Entry(name: "demo_1", kind: .imported, bytes: 1024, path: path),
            NamespaceImages.Entry(name: "host", kind: .builtin, bytes: nil, path: nil),
        ])
    }

    // MARK: bubblewrap arguments

    func testRootArgumentsOfADirectoryImage() throws {
        let root = try makeDirectory("root")
        for dir in ["usr/bin", "etc/ssh", "etc/stacyvm", "proc", "dev", "tmp", "workspace"] { try makeDirectory("root/" + dir) }
        try writeFile("root/etc/shadow", "root:*:1::::::\n", mode: 0o600)
        try writeFile("root/etc/ssh/ssh_host_ed25519_key", "secret", mode: 0o600)
        try writeFile("root/etc/ssh/ssh_config", "", mode: 0o644)
        try writeFile("root/init.sh", "", mode: 0o755)
        XCTAssertEqual(symlink("usr/bin", root + "/bin"), 0)
        XCTAssertEqual(symlink("/usr/lib64", root + "/lib64"), 0)

        let args = NamespaceImages.rootArguments(.directory(root), emptyFile: "/data/.empty",
                                                 skip: ["proc", "dev", "/tmp", "workspace"])
        XCTAssertEqual(args, [
            "--symlink", "usr/bin", "/bin",
            "--ro-bind", root + "/etc", "/etc",
            "--ro-bind", root + "/init.sh", "/init.sh",
            "--symlink", "/usr/lib64", "/lib64",
            "--ro-bind", root + "/usr", "/usr",
            "--ro-bind", "/data/.empty", "/etc/shadow",
            "--ro-bind", "/data/.empty", "/etc/ssh/ssh_host_ed25519_key",
            "--tmpfs", "/etc/stacyvm",
        ])
    }

    func testASymlinkedEtcIsLinkedNotMasked() throws {
        let root = try makeDirectory("root")
        try makeDirectory("root/usr")
        XCTAssertEqual(symlink("/etc", root + "/etc"), 0)  // would point at the host's /etc if followed
        let args = NamespaceImages.rootArguments(.directory(root), emptyFile: "/data/.empty", skip: [])
        XCTAssertEqual(args, ["--symlink", "/etc", "/etc", "--ro-bind", root + "/usr", "/usr"])
    }

    func testRootArgumentsOfTheHostImage() {
        let args = NamespaceImages.rootArguments(.host, emptyFile: "/data/.empty", skip: ["proc"])
        XCTAssertTrue(containsRun(args, ["--ro-bind", "/usr", "/usr"]), "\(args)")
        XCTAssertTrue(containsRun(args, ["--ro-bind", "/etc", "/etc"]), "\(args)")
        if access("/etc/shadow", F_OK) == 0 {
            XCTAssertTrue(containsRun(args, ["--ro-bind", "/data/.empty", "/etc/shadow"]), "\(args)")
        }
        if let bin = ImageFS.linkStat("/bin"), ImageFS.isKind(bin, S_IFLNK) {
            XCTAssertTrue(containsRun(args, ["--symlink", "usr/bin", "/bin"]), "merged-usr links stay links: \(args)")
        }
        XCTAssertFalse(args.contains("/proc"), "skip is for directory images; the host image binds no such path")
    }

    // MARK: helpers

    @discardableResult
    private func makeDirectory(_ relative: String) throws -> String {
        let path = base + "/" + relative
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func writeFile(_ relative: String, _ text: String, mode: mode_t) throws {
        let path = base + "/" + relative
        try makeDirectory((relative as NSString).deletingLastPathComponent)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(chmod(path, mode), 0)
    }

    private func mode(_ path: String) -> mode_t { (ImageFS.linkStat(path)?.st_mode ?? 0) & 0o7777 }

    private func runTar(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "tar \(arguments)")
    }

    private func containsRun(_ args: [String], _ run: [String]) -> Bool {
        guard args.count >= run.count else { return false }
        return (0...(args.count - run.count)).contains { Array(args[$0..<($0 + run.count)]) == run }
    }

    private func providerError(_ body: () throws -> Void) -> ProviderError? {
        do {
            try body()
            return nil
        } catch let error as ProviderError {
            return error
        } catch {
            XCTFail("not a ProviderError: \(error)")
            return nil
        }
    }
}
