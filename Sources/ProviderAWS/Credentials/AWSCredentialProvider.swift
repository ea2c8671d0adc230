import Foundation
import KeyProviders

/// A source of AWS credentials: access keys, the environment, the container or instance role,
/// STS. Wrap sources in ``CachingCredentialProvider`` so temporary credentials are fetched once
/// and refreshed before they expire.
public protocol AWSCredentialProvider: Sendable {
    /// How the credentials are obtained, for error messages and "Test connection" reports.
    var route: String { get }
    func credentials() async throws -> AWSCredentials
    /// Fresh credentials, bypassing any cache (AWS said the cached session expired).
    func refresh() async throws -> AWSCredentials
    /// The source that actually answered (a chain's chosen member), for reports.
    var activeRoute: String { get async }
}

extension AWSCredentialProvider {
    public func refresh() async throws -> AWSCredentials { try await credentials() }
    public var activeRoute: String { get async { route } }
}

/// Thrown by a chain member whose source is simply absent (no variables, no token file), so the
/// chain moves on and reports it as "not configured" rather than as a failure.
struct CredentialSourceAbsent: Error {
    let reason: String
}

/// Long-term access keys (the connector's `accessKeyId` / `secretAccessKey` credentials).
public struct StaticCredentialProvider: AWSCredentialProvider {
    let value: AWSCredentials
    public let route: String

    public init(_ credentials: AWSCredentials, route: String = "the connector's access keys") {
        self.value = credentials
        self.route = route
    }

    public func credentials() async throws -> AWSCredentials { value }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN` of the agent.
public struct EnvironmentCredentialProvider: AWSCredentialProvider {
    let environment: [String: String]
    public var route: String { "the delegate's environment (AWS_ACCESS_KEY_ID)" }

    public init(environment: [String: String]) { self.environment = environment }

    public func credentials() async throws -> AWSCredentials {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty else {
            throw CredentialSourceAbsent(reason: "AWS_ACCESS_KEY_ID is not set")
        }
        guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw ProviderError.configuration(
                "aws_env_incomplete", "AWS_ACCESS_KEY_ID is set in the delegate's environment but AWS_SECRET_ACCESS_KEY is not; set both.")
        }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
    }
}

/// Tries each source in order and sticks to the first that works, like the SDKs' default chain.
/// When none works, the error lists what each source said.
public actor CredentialProviderChain: AWSCredentialProvider {
    let providers: [any AWSCredentialProvider]
    private var selected: (any AWSCredentialProvider)?
    public nonisolated let route: String

    public init(_ providers: [any AWSCredentialProvider], route: String = "the delegate's IAM role") {
        self.providers = providers
        self.route = route
    }

    /// The source that answered last, for reports.
    public var selectedRoute: String? { selected?.route }
    public var activeRoute: String { get async { selected?.route ?? route } }

    public func credentials() async throws -> AWSCredentials { try await resolve(refresh: false) }
    public func refresh() async throws -> AWSCredentials { try await resolve(refresh: true) }

    private func resolve(refresh: Bool) async throws -> AWSCredentials {
        if let selected {
            return try await refresh ? selected.refresh() : selected.credentials()
        }
        var reasons: [String] = []
        for p in providers {
            do {
                let c = try await p.credentials()
                selected = p
                return c
            } catch let absent as CredentialSourceAbsent {
                reasons.append("\(p.route): \(absent.reason)")
            } catch let e as ProviderError where e.origin == .configuration {
                // A source that is present but misconfigured must be fixed, not skipped.
                throw e
            } catch let e as ProviderError {
                reasons.append("\(p.route): \(e.message)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                reasons.append("\(p.route): \(error)")
            }
        }
        // Not retried: a missing role does not appear within a task's retry window.
        throw ProviderError.permanent(
            "aws_no_credentials",
            "No AWS credentials found on this delegate for \(route). Tried, in order: \(reasons.joined(separator: "; ")). Give the host or pod an IAM role, or use access keys.")
    }
}
