import ArgumentParser
import Foundation
import KeyProviders
import LegateCore

/// `legate keys`: the built-in connector's key-encryption keys on this delegate.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the built-in connector's keys in the state directory (never sent to the manager).",
        subcommands: [List.self, Rotate.self, Remove.self])

    struct Options: ParsableArguments {
        @Option(help: "State directory of the agent.")
        var stateDir: String = ProcessInfo.processInfo.environment["LEGATE_STATE_DIR"] ?? "/var/lib/legate"
        @Option(help: "Key reference (the connector's keyRef setting).")
        var keyRef: String = "default"
        func keyring() throws -> Keyring { try Keyring(stateDirectory: stateDir, keyRef: keyRef) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key versions.")
        @OptionGroup var options: Options
        func run() throws {
            try guarded {
                let k = try options.keyring()
                print("\(k.keyRef): versions \(k.versions().map(String.init).joined(separator: ", ")) in \(k.directory)")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new key version; new secrets use it. Then run `legate-manager secret rewrap`.")
        @OptionGroup var options: Options
        func run() throws {
            try guarded { print("created version \(try options.keyring().rotate())") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an old key version (after every secret was re-wrapped).")
        @OptionGroup var options: Options
        @Option(help: "Version to remove.")
        var version: UInt32
        func run() throws {
            try guarded {
                try options.keyring().remove(version: version)
                print("removed version \(version)")
            }
        }
    }
}

private func guarded(_ body: () throws -> Void) throws {
    do { try body() } catch let e as any LegateError { fail(e) }
}
