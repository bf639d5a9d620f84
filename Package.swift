// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dio-torture",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dio-torture", targets: ["dio-torture"]),
        .library(name: "DIOTorture", targets: ["DIOTorture"]),
        .library(name: "DIOSystem", targets: ["DIOSystem"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // libfuse3, for the FUSE targets' own passthrough server.
        .systemLibrary(
            name: "CFuse",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        // The syscall layer: the only target that sees the C shims, so a syscall anywhere else
        // is a compile error, not a convention.
        .target(
            name: "DIOSystem",
            dependencies: ["CURing", "CFuse"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .target(
            name: "DIOTorture",
            dependencies: [
                "DIOSystem",
                .product(name: "Yams", package: "Yams"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "dio-torture",
            dependencies: [
                "DIOTorture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "DIOTortureTests",
            // The CLI is a dependency so that its binary is built for the end-to-end tests.
            dependencies: ["DIOTorture", "dio-torture"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
