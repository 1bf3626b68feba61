// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "svtree",
    products: [
        .executable(name: "svtree", targets: ["svtree"]),
        .executable(name: "svlog", targets: ["svlog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
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
        .testTarget(name: "SvtreeCoreTests", dependencies: ["SvtreeCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SvtreeCore", "CSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
