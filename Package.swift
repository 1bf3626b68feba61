// swift-tools-version:6.1
import PackageDescription

let system = Target.Dependency.product(name: "SystemPackage", package: "swift-system")

let package = Package(
    name: "svtree",
    products: [
        .executable(name: "svtree", targets: ["svtree"]),
        .executable(name: "svlog", targets: ["svlog"]),
        .executable(name: "svctl", targets: ["svctl"]),
        .executable(name: "snapwatch", targets: ["snapwatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Linux calls that Swift's Glibc module does not expose (epoll, signalfd, prctl, spawn flags).
        .target(name: "CSupport"),
        // libsystemd's sd-daemon header; the library is loaded by svtree --notify only.
        .systemLibrary(name: "CSystemd", providers: [.apt(["libsystemd-dev"])]),
        // The layers, imports pointing one way only (each list names every module a file imports).
        // No syscalls: exit statuses, signal names, TAI64N, the service marker.
        .target(name: "SvBase"),
        // Pure decisions: the supervision state machines, taking events and returning actions.
        .target(name: "SvSupervision", dependencies: ["SvBase"]),
        // The system layer: event loop, files, spawning, inotify, /proc, diagnostics.
        .target(name: "SvSystem", dependencies: ["SvBase", "CSupport", system]),
        // Each on-disk format as one type that renders and parses it.
        .target(name: "SvFormats", dependencies: ["SvBase"]),
        // The daemons a thousand clients multiply: Foundation-free, none imports another.
        .target(name: "SvtreeDaemon", dependencies: ["SvBase", "SvSupervision", "SvSystem", "SvFormats", "CSupport", system]),
        // svlog's loop touches class properties per line: their dynamic exclusivity checks were
        // an eighth of its time. Single-threaded, its accesses are checked at compile time.
        .target(name: "SvlogDaemon", dependencies: ["SvBase", "SvSystem", "SvFormats", "CSupport", system],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .target(name: "SnapwatchDaemon", dependencies: ["SvBase", "SvSystem", "SvFormats", "CSupport", system]),
        .executableTarget(name: "svtree", dependencies: ["SvtreeDaemon", "SvSystem", "SvBase", "CSystemd"]),
        .executableTarget(name: "svlog", dependencies: ["SvlogDaemon", "SvSystem"]),
        .executableTarget(name: "snapwatch", dependencies: ["SnapwatchDaemon", "SvSystem"]),
        // svctl's logic without its command line: reports, control, templates (tested directly).
        // It reads the daemons' files through SvFormats and never links a daemon.
        .target(name: "SvctlKit", dependencies: ["SvBase", "SvSupervision", "SvSystem", "SvFormats", "CSupport", system]),
        // A command a person types: ArgumentParser (and its FoundationEssentials) is fine here.
        .executableTarget(
            name: "svctl",
            dependencies: ["SvctlKit", "SvBase", "SvSystem", "SvFormats", "CSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "SvtreeCoreTests", dependencies: [
            "SvBase", "SvSupervision", "SvSystem", "SvFormats", "SvtreeDaemon", "SvlogDaemon", "SnapwatchDaemon",
        ]),
        .testTarget(name: "SvctlTests", dependencies: ["SvctlKit", "SvBase", "SvSupervision", "SvSystem", "SvFormats"],
                    exclude: ["Fixtures", "Golden"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "SvBase", "SvSupervision", "SvSystem", "SvFormats", "SvtreeDaemon", "SvlogDaemon", "SnapwatchDaemon",
            "SvctlKit", "CSupport",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
