// swift-tools-version:6.1
import PackageDescription

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
        // Foundation-free core shared by the daemons: a thousand clients multiply its footprint.
        .target(
            name: "SvtreeCore",
            dependencies: [
                "CSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(name: "svtree", dependencies: ["SvtreeCore", "CSystemd"]),
        .executableTarget(name: "svlog", dependencies: ["SvtreeCore"]),
        .executableTarget(name: "snapwatch", dependencies: ["SvtreeCore"]),
        // svctl's logic without its command line: reports, control, templates (tested directly).
        .target(name: "SvctlKit", dependencies: ["SvtreeCore", "CSupport"]),
        // A command a person types: ArgumentParser (and its FoundationEssentials) is fine here.
        .executableTarget(
            name: "svctl",
            dependencies: ["SvctlKit", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "SvtreeCoreTests", dependencies: ["SvtreeCore"]),
        .testTarget(name: "SvctlTests", dependencies: ["SvctlKit", "SvtreeCore"], exclude: ["Fixtures", "Golden"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SvtreeCore", "SvctlKit", "CSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
