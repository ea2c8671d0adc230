import Foundation
import KeyProviders

/// Kubernetes: the pod's service-account JWT (re-read on every login: it is rotated) and a Vault
/// role at `auth/<mount>/login`. Vault checks the JWT with the cluster's TokenReview API.
public struct KubernetesAuth: VaultAuthMethod {
    let role: String
    let tokenFile: String
    let mount: String
    public static let defaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    public var description: String { "Kubernetes (auth/\(mount), role \(role))" }
    public var canRelogin: Bool { true }

    public init(role: String, tokenFile: String = KubernetesAuth.defaultTokenFile, mount: String = "kubernetes") {
        self.role = role
        self.tokenFile = tokenFile
        self.mount = mount
    }

    public func login(_ client: VaultClient, now: Date) async throws -> VaultToken {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw ProviderError.configuration(
                "vault_k8s_token_file", "Cannot read the service-account token '\(tokenFile)'; is the service account token mounted (automountServiceAccountToken)?")
        }
        let jwt = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try await roleLogin(
            client, mount: mount, role: role, jwt: jwt, kind: "Kubernetes",
            check: "Check that the role exists and is bound to this service account and namespace.", now: now)
    }
}
