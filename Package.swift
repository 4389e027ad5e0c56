// swift-tools-version: 6.1
import PackageDescription

/// Method presets: plain YAML files in plugins/methods, shipped as resources. The list is
/// written out (not read from the folder) so that SwiftPM's cached evaluation of this manifest
/// can never miss a new preset; PresetPackagingTests fails with the line to add when a file is
/// not listed here.
let methodPresetNames = [
    "apfl",
    "ditto",
    "fedavg",
    "fedbabu",
    "fedbkd-g2l",
    "fedbkd-l2g",
    "fedbkd-noise",
    "fedbkd-plus-g2l",
    "fedbkd-plus-l2g",
    "fedbkd-plus-noise",
    "fedbkd-plus",
    "fedbkd",
    "feddf",
    "fedftg",
    "fedgen",
    "fedper",
    "fedprox",
    "fedrep",
    "l2gd",
    "lg-fedavg",
    "local",
    "per-fedavg-hf",
    "per-fedavg",
    "pfedme",
    "scaffold",
]
let methodPresetFiles: [Resource] = methodPresetNames.map { .copy("\($0).yaml") }

/// Plugin targets live under plugins/<Kind>/ and depend only on FedKit (and Torch).
func pluginTarget(_ name: String, extra: [Target.Dependency] = []) -> Target {
    .target(name: name, dependencies: ["FedKit", "FedKitBasics", "Torch", "Config"] + extra, path: "plugins/\(name)")
}

let package = Package(
    name: "FedKit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "exp", targets: ["exp"]),
        .library(name: "FedKit", targets: ["FedKit"]),
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "FedKitTesting", targets: ["FedKitTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CTorch",
            path: "Sources/CTorch",
            linkerSettings: [
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
                .linkedLibrary("stdc++"),
            ]
        ),
        // Text helpers every layer shares: one hex formatter, one string escaper, one shape formatter.
        .target(name: "FedKitBasics"),
        .target(name: "Torch", dependencies: ["CTorch", "FedKitBasics"]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Config", dependencies: ["CYAML", "FedKitBasics"]),
        // The commit the binary is built from (manifest.json), generated at every build.
        .target(name: "BuildCommit", plugins: ["BuildCommitPlugin"]),
        .plugin(name: "BuildCommitPlugin", capability: .buildTool()),
        .target(name: "FedKit", dependencies: ["Torch", "Config", "FedKitBasics", "BuildCommit"]),
        pluginTarget("Datasets", extra: ["CZlib"]),
        pluginTarget("Partitioners"),
        pluginTarget("Models"),
        pluginTarget("Trainers"),
        pluginTarget("Aggregators"),
        pluginTarget("Generators"),
        pluginTarget("Distillers"),
        .target(name: "Methods", dependencies: ["FedKit"], path: "plugins/methods",
                resources: methodPresetFiles),
        .target(
            name: "BuiltinPlugins",
            dependencies: ["FedKit", "Datasets", "Partitioners", "Models", "Trainers",
                           "Aggregators", "Generators", "Distillers", "Methods"],
            path: "plugins/BuiltinPlugins"
        ),
        .executableTarget(
            name: "exp",
            dependencies: [
                "FedKit", "BuiltinPlugins", "Config", "Torch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers for plugin authors' tests: a toy problem, an aggregator harness, fixed teachers
        // and a two-round engine run (docs/plugins.md).
        .target(name: "FedKitTesting", dependencies: ["FedKit", "BuiltinPlugins", "Models", "Torch", "Config"]),
        .executableTarget(
            name: "fedkit-bench",
            dependencies: ["Torch", "FedKit", "BuiltinPlugins", "Generators"],
            path: "bench/Swift"
        ),
        .testTarget(name: "TorchTests", dependencies: ["Torch"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"], exclude: ["Corpus"]),
        .testTarget(name: "FedKitTests", dependencies: ["FedKit", "BuiltinPlugins", "FedKitTesting", "Torch", "Config"],
                    exclude: ["ConfigCorpus", "Reference"]),
    ],
    cxxLanguageStandard: .cxx17
)
