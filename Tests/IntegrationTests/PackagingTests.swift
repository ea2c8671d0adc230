import Foundation
import LegateCore
import XCTest

/// The .deb, the systemd unit and the container/Kubernetes recipes, checked with the real tools
/// (dpkg-deb, systemd-analyze, PyYAML). The .deb is built from the debug binary: a static release
/// build takes minutes and is done by hand (BENCHMARKS.md).
final class PackagingTests: XCTestCase {
    private var root: String { Command.packageRoot }

    private func requireTool(_ name: String) throws {
        let found = ["/usr/bin/", "/bin/", "/usr/sbin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
        // In CI scripts/install-peers installs them, so a missing tool there is a failure.
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            guard found else {
                XCTFail("\(name) is not installed; scripts/install-peers should have installed it")
                throw CancellationError()
            }
        }
        try XCTSkipUnless(found, "\(name) is not installed (scripts/install-peers installs it under CI=true)")
    }

    private func mode(_ path: String) throws -> Int {
        ((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1) & 0o7777
    }

    func testDebianPackageInstallsIntoAScratchRootAndRuns() async throws {
        try requireTool("dpkg-deb")
        let work = Harness.tempDir("legate-deb")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let built = try await Command.run(
            [root + "/scripts/build-deb", Harness.binDirectory + "/legate", "--output", work, "--compress", "none"])
        XCTAssertEqual(built.status, 0, built.output)
        let deb = built.output.trimmingWhitespace()
        XCTAssertTrue(deb.hasSuffix(".deb") && FileManager.default.fileExists(atPath: deb), built.output)

        let info = try await Command.run(["dpkg-deb", "--field", deb, "Package", "Version", "Depends"])
        XCTAssertTrue(info.output.contains("Package: legate"), info.output)
        XCTAssertTrue(info.output.contains("Version: 0.1.0"), info.output)
        let listing = try await Command.run(["dpkg-deb", "--contents", deb])
        for line in listing.output.split(separator: "\n") { XCTAssertTrue(line.contains(" root/root "), "owner: \(line)") }
        let control = work + "/control"
        let unpacked = try await Command.run(["dpkg-deb", "--control", deb, control])
        XCTAssertEqual(unpacked.status, 0, unpacked.output)
        XCTAssertEqual(try String(contentsOfFile: control + "/conffiles", encoding: .utf8), "/etc/legate/legate.yaml\n")

        let scratch = work + "/root"
        let extracted = try await Command.run(["dpkg-deb", "-x", deb, scratch])
        XCTAssertEqual(extracted.status, 0, extracted.output)
        let expected: [(String, Int)] = [
            ("usr/bin/legate", 0o755), ("usr/lib/systemd/system/legate.service", 0o644), ("usr/lib/sysusers.d/legate.conf", 0o644),
            ("etc/legate/legate.yaml", 0o644), ("usr/share/doc/legate/README", 0o644), ("etc/legate", 0o755),
        ]
        for (path, m) in expected { XCTAssertEqual(try mode(scratch + "/" + path), m, path) }
        for script in ["postinst", "prerm", "postrm"] {
            XCTAssertEqual(try mode(control + "/" + script), 0o755, script)
            let syntax = try await Command.run(["sh", "-n", control + "/" + script])
            XCTAssertEqual(syntax.status, 0, "\(script): \(syntax.output)")
        }

        // The installed binary runs: version, and check against the shipped example configuration.
        let legate = scratch + "/usr/bin/legate"
        let version = try await Command.run([legate, "version"])
        XCTAssertEqual(version.status, 0, version.output)
        XCTAssertTrue(version.output.hasPrefix("legate 0.1.0 (git "), version.output)
        try FileIO.write("lgt_tok_deb.example", to: work + "/token", mode: 0o600)
        let check = try await Command.run(
            [legate, "check", "--config", scratch + "/etc/legate/legate.yaml", "--state-dir", work + "/state"],
            env: ["LEGATE_TOKEN_FILE": work + "/token"])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("manager_url          https://legate-manager.example.com:8443"), check.output)
        XCTAssertTrue(check.output.contains("configuration OK"), check.output)
        // Under systemd the token comes from LoadCredential=: the same example config works with it.
        let credentials = work + "/credentials"
        try FileIO.makeDirectory(credentials, mode: 0o700)
        try FileIO.write("lgt_tok_deb.example", to: credentials + "/token", mode: 0o600)
        let viaCredential = try await Command.run(
            [legate, "check", "--config", scratch + "/etc/legate/legate.yaml", "--state-dir", work + "/state"],
            env: ["CREDENTIALS_DIRECTORY": credentials])
        XCTAssertEqual(viaCredential.status, 0, viaCredential.output)
        XCTAssertTrue(viaCredential.output.contains("from file \(credentials)/token"), viaCredential.output)

        // The unit as installed verifies against the installed binary.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try await Command.run(
                ["systemd-analyze", "verify", "--recursive-errors=no", "--root=\(scratch)", scratch + "/usr/lib/systemd/system/legate.service"])
            XCTAssertEqual(verify.status, 0, verify.output)
        }
    }

    func testMaintainerScriptsCreateTheUserAndRestartOnlyOnUpgrade() async throws {
        try requireTool("dpkg-deb")
        let work = Harness.tempDir("legate-maint")
        defer { try? FileManager.default.removeItem(atPath: work) }
        // A fake binary is enough: the scripts do not run it.
        let fake = work + "/legate"
        try FileIO.write("#!/bin/sh\necho 'legate 0.1.0 (git unknown)'\n", to: fake, mode: 0o755)
        let built = try await Command.run([root + "/scripts/build-deb", fake, "--output", work, "--compress", "none", "--no-strip"])
        XCTAssertEqual(built.status, 0, built.output)
        XCTAssertTrue(built.output.contains("legate_0.1.0_"), built.output)
        let control = work + "/control"
        _ = try await Command.run(["dpkg-deb", "--control", built.output.trimmingWhitespace(), control])

        // Stubs record what the scripts call; DPKG_ROOT keeps every path inside the scratch root.
        let stubs = work + "/stubs"
        let calls = work + "/calls"
        try FileIO.makeDirectory(stubs, mode: 0o755)
        for tool in ["systemd-sysusers", "systemctl", "chown", "adduser"] {
            try FileIO.write("#!/bin/sh\necho \"\(tool) $*\" >> \(calls)\n", to: stubs + "/" + tool, mode: 0o755)
        }
        let scratch = work + "/root"
        try FileIO.makeDirectory(scratch + "/run/systemd/system", mode: 0o755)
        try FileIO.makeDirectory(scratch + "/etc/legate", mode: 0o755)
        let env = ["PATH": stubs + ":/usr/bin:/bin", "DPKG_ROOT": scratch]
        func run(_ script: String, _ args: String...) async throws -> [String] {
            try? FileManager.default.removeItem(atPath: calls)
            let r = try await Command.run([control + "/" + script] + args, env: env)
            XCTAssertEqual(r.status, 0, "\(script) \(args): \(r.output)")
            return ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        let install = try await run("postinst", "configure", "")
        XCTAssertEqual(install, ["systemd-sysusers --root=\(scratch) legate.conf", "chown legate:legate \(scratch)/var/lib/legate", "systemctl daemon-reload"])
        XCTAssertEqual(try mode(scratch + "/var/lib/legate"), 0o700)
        let upgrade = try await run("postinst", "configure", "0.0.9")
        XCTAssertTrue(upgrade.contains("systemctl try-restart legate.service"), "\(upgrade)")
        let remove = try await run("prerm", "remove")
        XCTAssertEqual(remove, ["systemctl stop legate.service", "systemctl --no-reload disable legate.service"])
        let purge = try await run("postrm", "purge")
        XCTAssertEqual(purge, ["systemctl daemon-reload"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch + "/var/lib/legate"), "purge keeps the built-in keys")
    }

    func testSystemdUnitIsRatedOKBySystemdAnalyzeSecurity() async throws {
        try requireTool("systemd-analyze")
        let unit = root + "/systemd/legate.service"
        // --threshold is in tenths: exit non-zero above 2.0.
        let r = try await Command.run(["systemd-analyze", "security", "--offline=true", "--threshold=20", unit])
        XCTAssertEqual(r.status, 0, r.output)
        let line = r.output.split(separator: "\n").first { $0.contains("Overall exposure level for legate.service") }.map(String.init) ?? ""
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        XCTAssertNotNil(score, r.output)
        XCTAssertLessThanOrEqual(score ?? 99, 2.0, line)
        XCTAssertTrue(line.contains("OK") || line.contains("SAFE"), line)
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        for directive in [
            "Type=notify", "WatchdogSec=", "Restart=on-failure", "KillMode=mixed", "StateDirectory=legate", "LoadCredential=token:",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
            "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "LockPersonality=yes", "User=legate",
        ] {
            XCTAssertTrue(text.contains(directive), "legate.service lacks \(directive)")
        }
        // The stop timeout covers the default drain grace (60 s).
        let stop = text.split(separator: "\n").first { $0.hasPrefix("TimeoutStopSec=") }.flatMap { Int($0.dropFirst("TimeoutStopSec=".count).dropLast()) }
        XCTAssertGreaterThan(stop ?? 0, 60)
    }

    func testContainerRecipeAndManifestsPassTheChecks() async throws {
        let ok = try await Command.run([Peers.bin + "/python", root + "/scripts/check-packaging"])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("Packaging/Dockerfile"), ok.output)
        XCTAssertTrue(ok.output.contains("Packaging/kubernetes/delegate-pool.yaml"), ok.output)

        // The checker catches what it is for.
        let work = Harness.tempDir("legate-lint")
        defer { try? FileManager.default.removeItem(atPath: work) }
        var pool = try String(contentsOfFile: root + "/Packaging/kubernetes/delegate-pool.yaml", encoding: .utf8)
        pool = pool.replacingOccurrences(of: "readOnlyRootFilesystem: true", with: "readOnlyRootFilesystem: false")
        pool = pool.replacingOccurrences(of: "runAsNonRoot: true", with: "runAsNonRoot: false")
        pool = pool.replacingOccurrences(of: "              memory: 64Mi\n", with: "")
        pool += "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  token: lgt_tok_plaintext\n"
        try FileIO.write(pool, to: work + "/pool.yaml", mode: 0o644)
        var docker = try String(contentsOfFile: root + "/Packaging/Dockerfile", encoding: .utf8)
        docker = docker.replacingOccurrences(of: "USER 10001:10001", with: "USER root")
        docker = docker.replacingOccurrences(of: "ENV LEGATE_STATE_DIR", with: "ENV LEGATE_TOKEN=lgt_tok_plaintext LEGATE_STATE_DIR")
        try FileIO.write(docker, to: work + "/Dockerfile", mode: 0o644)
        let bad = try await Command.run([Peers.bin + "/python", root + "/scripts/check-packaging", work + "/pool.yaml", work + "/Dockerfile"])
        XCTAssertEqual(bad.status, 1, bad.output)
        for expected in [
            "readOnlyRootFilesystem is not true", "runAsNonRoot is not true", "no resources.requests.memory", "a Secret with values",
            "runs as root (USER root)", "ENV LEGATE_TOKEN sets a secret-looking value",
        ] {
            XCTAssertTrue(bad.output.contains(expected), "missing '\(expected)' in\n\(bad.output)")
        }
    }
}
