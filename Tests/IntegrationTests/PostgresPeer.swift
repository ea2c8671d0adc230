import Foundation
import LegateCore
import XCTest

/// A real PostgreSQL server (Debian's `postgresql` package; scripts/install-peers installs it under
/// CI) in a temporary data directory on 127.0.0.1 and a free port, stopped with `pg_ctl stop`.
/// PostgreSQL refuses to run as root, so as root initdb and pg_ctl run as `postgres` (or `nobody`)
/// through runuser or setpriv, with the data directory owned by that user.
final class PostgresPeer: Sendable {
    let port: Int
    let directory: String
    let binDirectory: String
    let asUser: [String]
    /// The superuser OpenBao's database engine connects as.
    let adminUser = "legate_admin"
    let adminPassword: String

    private init(port: Int, directory: String, binDirectory: String, asUser: [String], adminPassword: String) {
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
        self.asUser = asUser
        self.adminPassword = adminPassword
    }

    var dataDirectory: String { directory + "/data" }

    /// Where initdb and pg_ctl are: PATH, /usr/local/bin, or Debian's /usr/lib/postgresql/<v>/bin.
    static func binDirectory() throws -> String {
        var candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/local/bin"]
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        for dir in candidates where FileManager.default.isExecutableFile(atPath: dir + "/initdb") && FileManager.default.isExecutableFile(atPath: dir + "/pg_ctl") {
            return dir
        }
        XCTFail("PostgreSQL's initdb/pg_ctl are missing: install the postgresql package (scripts/install-peers does under CI=true)")
        throw CancellationError()
    }

    static var psql: String {
        for p in ["/usr/bin/psql", "/usr/local/bin/psql"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return "psql"
    }

    /// The command prefix that drops root, and the uid/gid to own the data directory.
    static func unprivileged() throws -> (prefix: [String], uid: uid_t, gid: gid_t)? {
        guard getuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            guard let pw = getpwnam(name) else { continue }
            let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
            if FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") || FileManager.default.isExecutableFile(atPath: "/sbin/runuser") {
                let runuser = FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser"
                return ([runuser, "-u", name, "--"], uid, gid)
            }
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
                return (["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups"], uid, gid)
            }
        }
        XCTFail("running as root, but neither runuser nor setpriv with a postgres or nobody user is available to run PostgreSQL unprivileged")
        throw CancellationError()
    }

    static func start() async throws -> PostgresPeer {
        let bin = try binDirectory()
        let user = try unprivileged()
        let dir = Harness.tempDir("legate-pg")
        let password = "pg-admin-" + UUID().uuidString
        try FileIO.write(password + "\n", to: dir + "/pwfile", mode: 0o600)
        if let user {
            chmod(dir, 0o700)
            chown(dir, user.uid, user.gid)
            chown(dir + "/pwfile", user.uid, user.gid)
        }
        let port = try LoopbackPort.free()
        let peer = PostgresPeer(port: port, directory: dir, binDirectory: bin, asUser: user?.prefix ?? [], adminPassword: password)
        let env = ["LC_ALL": "C", "TZ": "UTC"]
        let initdb = try await Peers.run(
            peer.asUser + [
                bin + "/initdb", "-D", peer.dataDirectory, "-U", peer.adminUser, "--pwfile=\(dir)/pwfile", "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ], env: env)
        guard initdb.status == 0 else {
            XCTFail("initdb failed (\(initdb.status)): \(initdb.output.suffix(1000))")
            throw CancellationError()
        }
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(dir) -c fsync=off -c max_connections=50"
        let started = try await Peers.run(
            peer.asUser + [bin + "/pg_ctl", "-D", peer.dataDirectory, "-l", dir + "/server.log", "-w", "-t", "30", "-o", options, "start"], env: env)
        guard started.status == 0 else {
            let log = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
            XCTFail("pg_ctl start failed (\(started.status)): \(log.suffix(1500))")
            throw CancellationError()
        }
        return peer
    }

    func stop() async {
        _ = try? await Peers.run(asUser + [binDirectory + "/pg_ctl", "-D", dataDirectory, "-m", "immediate", "-w", "stop"], env: ["LC_ALL": "C"])
        // If pg_ctl could not stop it, the postmaster's pid is the first line of postmaster.pid.
        if let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8), let pid = pid_t(text.split(separator: "\n").first ?? "") {
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `connection_url` for OpenBao's postgresql-database-plugin.
    var connectionURL: String { "postgresql://{{username}}:{{password}}@127.0.0.1:\(port)/postgres?sslmode=disable" }

    /// Logs in over TCP with a password, as an application would; returns `current_user` or nil.
    func login(user: String, password: String) async throws -> String? {
        let r = try await Command.run(
            [Self.psql, "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres", "-w", "-At", "-c", "select current_user"],
            env: ["PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5", "LC_ALL": "C"], timeout: .seconds(20))
        guard r.status == 0 else { return nil }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Starts PostgreSQL for the duration of `body`.
func withPostgres<T: Sendable>(_ body: @Sendable (PostgresPeer) async throws -> T) async throws -> T {
    let pg = try await PostgresPeer.start()
    do {
        let r = try await body(pg)
        await pg.stop()
        return r
    } catch {
        await pg.stop()
        throw error
    }
}
