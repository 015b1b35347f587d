// swift-tools-version:6.0
import PackageDescription

// The shape follows ../shared/design/architecture.md (docs/architecture.md is its twin here):
// C libraries stay behind system-library shims, everything above them sees Swift types.
let package = Package(
    name: "StacyVM",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stacyvm", targets: ["stacyvm"]),
        .executable(name: "stacyvm-agent", targets: ["stacyvm-agent"]),
        .executable(name: "stacyvm-namespace-bench", targets: ["stacyvm-namespace-bench"]),
        .executable(name: "stacyvm-worker-bench", targets: ["stacyvm-worker-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Ed25519 for control-plane-signed worker RPC tokens (workers.md §3.2).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C edges: module maps (and tiny inline wrappers) only.
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson",
                       providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLinux"),  // headers the Glibc module leaves out (statfs)
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),

        .target(name: "StacyJSON", dependencies: ["CJansson"]),
        .target(name: "StacyHTTP", dependencies: ["CMicroHTTPD", "StacyJSON"]),
        .target(name: "StacyAPI", dependencies: ["StacyJSON", "StacyHTTP"]),
        .target(name: "StacyConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "StacyStore", dependencies: ["CSQLite"]),
        // The namespace provider's agent protocol, shared by both ends; Glibc only.
        // Sandbox paths, provider errors and the file API: Glibc only, so the agent runs the same
        // code inside namespace sandboxes that the mock provider runs on the host.
        .target(name: "StacySandboxFS"),
        .target(name: "StacyAgentWire", dependencies: ["StacySandboxFS"]),
        .target(name: "StacyProviders", dependencies: ["StacySandboxFS", "StacyAgentWire", "CSeccomp", "CLinux"]),
        .target(name: "StacyOrchestrator",
                dependencies: ["StacyHTTP", "StacyAPI", "StacyJSON", "StacyConfig", "StacyStore", "StacyProviders",
                               "StacyWorkerProto", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "StacyServer",
                dependencies: ["StacyHTTP", "StacyAPI", "StacyJSON", "StacyConfig", "StacyStore", "StacyProviders",
                               "StacyOrchestrator"]),
        .target(name: "StacyVMClient", dependencies: ["StacyAPI", "StacyJSON"]),
        // Worker RPC v2: envelope, methods, params/results, typed errors, control-plane tokens.
        .target(name: "StacyWorkerProto", dependencies: ["StacyAPI", "StacyJSON",
                                                         .product(name: "Crypto", package: "swift-crypto")]),
        // `stacyvm worker`: heartbeats and the RPC server; talks to the control plane only through
        // StacyVMClient.
        .target(name: "StacyWorker", dependencies: ["StacyVMClient", "StacyAPI", "StacyJSON", "StacyConfig", "StacyHTTP",
                                                    "StacyProviders", "StacyWorkerProto"]),
        .executableTarget(name: "stacyvm", dependencies: [
            "StacyServer", "StacyConfig", "StacyStore", "StacyJSON", "StacyOrchestrator", "StacyAPI", "StacyVMClient",
            "StacyProviders", "StacyWorker",
            .product(name: "Yams", package: "Yams"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Runs inside sandboxes and as their shim: no Foundation, linked fully statically so it runs
        // in any image, glibc or not (starts in about 2 ms; runtime.md §2.6).
        .target(name: "CAgentSys"),
        .executableTarget(name: "stacyvm-agent", dependencies: ["StacyAgentWire", "StacySandboxFS", "CAgentSys"],
                          linkerSettings: [.unsafeFlags(["-static-executable"])]),

        // scripts/bench/namespace.sh: the namespace provider timed at its API (release builds only).
        .executableTarget(name: "stacyvm-namespace-bench", dependencies: ["StacyProviders"], path: "Sources/NamespaceBench"),
        .executableTarget(name: "stacyvm-worker-bench", dependencies: ["StacyOrchestrator", "StacyAPI"], path: "Sources/WorkerBench"),

        // Test helpers shared by the test targets (a raw-socket HTTP client).
        .target(name: "StacyTestSupport", path: "Tests/StacyTestSupport"),
        .testTarget(name: "StacyJSONTests", dependencies: ["StacyJSON"]),
        .testTarget(name: "StacyHTTPTests", dependencies: ["StacyHTTP", "StacyJSON", "StacyTestSupport"]),
        .testTarget(name: "StacyConfigTests", dependencies: ["StacyConfig"]),
        .testTarget(name: "StacyStoreTests", dependencies: ["StacyStore", "CLibPQ"]),
        .testTarget(name: "StacyProvidersTests", dependencies: ["StacyProviders", "StacySandboxFS", "StacyAgentWire"]),
        .testTarget(name: "StacyServerTests",
                    dependencies: ["StacyServer", "StacyHTTP", "StacyJSON", "StacyConfig", "StacyStore",
                                   "StacyAPI", "StacyTestSupport", "StacyProviders", "StacyOrchestrator", "StacyWorker"]),
        .testTarget(name: "StacyWorkerTests",
                    dependencies: ["StacyWorker", "StacyWorkerProto", "StacyOrchestrator", "StacyProviders", "StacyAPI", "StacyHTTP"]),
        .testTarget(name: "StacyVMClientTests",
                    dependencies: ["StacyVMClient", "StacyServer", "StacyStore", "StacyConfig", "StacyAPI", "StacyJSON"]),
    ]
)
