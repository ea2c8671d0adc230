// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "legate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "legate", targets: ["legate"]),
        .executable(name: "legate-manager", targets: ["legate-manager"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "LegateCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateCrypto",
            dependencies: [
                "LegateCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateMasking",
            dependencies: ["LegateCore"],
            swiftSettings: strict
        ),
        .target(
            name: "KeyProviders",
            dependencies: [
                "LegateCore", "LegateCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ProviderAWS",
            dependencies: [
                "LegateCore", "LegateCrypto", "KeyProviders",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ProviderVault",
            dependencies: [
                "LegateCore", "LegateCrypto", "KeyProviders",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateLoader",
            dependencies: [
                "LegateCore", "LegateCrypto", "KeyProviders", "ProviderVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateWire",
            dependencies: ["LegateCore"],
            swiftSettings: strict
        ),
        .target(
            name: "LegateAgent",
            dependencies: [
                "LegateCore",
                "LegateWire",
                "LegateCrypto",
                "LegateMasking",
                "KeyProviders",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateManager",
            dependencies: [
                "LegateCore",
                "LegateWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LegateBench",
            dependencies: [
                "LegateCore", "LegateWire", "LegateCrypto", "LegateMasking", "LegateAgent", "LegateManager", "KeyProviders", "ProviderAWS", "ProviderVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "legate",
            dependencies: [
                "LegateBench",
                "LegateCore", "LegateWire", "LegateAgent", "LegateManager", "KeyProviders", "ProviderAWS", "ProviderVault", "LegateLoader",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: ["GitRevisionPlugin"]
        ),
        // Stamps `legate version` with the git revision at build time (docs/decisions.md).
        .plugin(name: "GitRevisionPlugin", capability: .buildTool()),
        .executableTarget(
            name: "legate-manager",
            dependencies: [
                "LegateCore", "LegateWire", "LegateManager",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "LegateCoreTests", dependencies: ["LegateCore"], swiftSettings: strict),
        .testTarget(name: "LegateWireTests", dependencies: ["LegateWire"], swiftSettings: strict),
        .testTarget(name: "LegateCryptoTests", dependencies: ["LegateCrypto", "LegateCore"], swiftSettings: strict),
        .testTarget(name: "LegateMaskingTests", dependencies: ["LegateMasking", "LegateCore"], swiftSettings: strict),
        .testTarget(name: "KeyProvidersTests", dependencies: ["KeyProviders"], swiftSettings: strict),
        .testTarget(
            name: "ProviderAWSTests", dependencies: ["ProviderAWS", "KeyProviders", "LegateCore"],
            resources: [.copy("Resources")], swiftSettings: strict),
        .testTarget(name: "LegateAgentTests", dependencies: ["LegateAgent"], swiftSettings: strict),
        .testTarget(name: "LegateLoaderTests", dependencies: ["LegateLoader", "LegateCore", "LegateCrypto", "KeyProviders", "ProviderVault"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "LegateAgent", "LegateManager", "LegateWire", "LegateCore", "KeyProviders", "ProviderAWS", "ProviderVault", "LegateBench",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
