import LegateCore
import LegateCrypto
import Logging

/// A connector as the agent receives it: type, non-secret settings, and resolved credentials.
///
/// Credentials are built-in secrets the agent has already decrypted; they live in ``SecretBytes``
/// and never print.
public struct ConnectorDescriptor: Sendable, Equatable {
    public var id: String
    public var type: String
    public var config: [String: String]
    public var credentials: [String: SecretBytes]

    public init(id: String, type: String, config: [String: String], credentials: [String: SecretBytes] = [:]) {
        self.id = id
        self.type = type
        self.config = config
        self.credentials = credentials
    }

    /// A required setting, or a configuration error naming it.
    public func require(_ key: String) throws -> String {
        guard let v = setting(key) else {
            throw ProviderError.configuration(
                "missing_setting", "Connector \(id) (\(type)) needs the setting '\(key)'; update the connector.")
        }
        return v
    }

    /// A setting that may be given in plain text (`config`) or as a secret (`credentials`), like
    /// an ARN the operator prefers not to show. The secret form wins.
    public func setting(_ key: String) -> String? {
        if let c = credentials[key] {
            let text = c.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingWhitespace()
            if !text.isEmpty { return text }
        }
        guard let v = config[key]?.trimmingWhitespace(), !v.isEmpty else { return nil }
        return v
    }

    /// A credential that must be present, or a configuration error naming it.
    public func requireCredential(_ key: String) throws -> SecretBytes {
        guard let c = credentials[key], !c.isEmpty else {
            throw ProviderError.configuration(
                "missing_credential",
                "Connector \(id) (\(type)) needs the credential '\(key)' (a built-in secret reference); update the connector's credentials.")
        }
        return c
    }
}

/// What drivers may use from the agent.
public struct ProviderContext: Sendable {
    public var stateDirectory: String
    public var logger: Logger
    public var retry: RetryPolicy
    /// HTTP to providers, with the agent's proxy and CA settings.
    public var transport: any HTTPTransport
    /// The agent's environment (credential sources such as AWS_* variables); injected in tests.
    public var environment: [String: String]

    public init(
        stateDirectory: String, logger: Logger, retry: RetryPolicy = RetryPolicy(),
        transport: any HTTPTransport = UnavailableTransport(), environment: [String: String] = [:]
    ) {
        self.stateDirectory = stateDirectory
        self.logger = logger
        self.retry = retry
        self.transport = transport
        self.environment = environment
    }
}

/// The transport of a context that was given none: every call fails with a configuration error.
public struct UnavailableTransport: HTTPTransport {
    public init() {}
    public func send(_ request: ProviderHTTPRequest, timeout: Duration) async throws -> ProviderHTTPResponse {
        throw ProviderError.configuration("no_transport", "This delegate has no HTTP transport for providers.")
    }
}

/// A connector instance: a key manager or a secret store.
public enum Connector: Sendable {
    case keyManager(any KeyManager)
    case secretStore(any SecretStore)
}

/// Connector types to driver factories. Only the executables register every driver, so drivers
/// never import each other.
public struct ProviderRegistry: Sendable {
    public typealias Factory = @Sendable (ConnectorDescriptor, ProviderContext) throws -> Connector
    private var factories: [String: Factory] = [:]

    public init() {}

    public mutating func register(_ type: String, _ factory: @escaping Factory) {
        factories[type] = factory
    }

    public var types: [String] { factories.keys.sorted() }

    public func make(_ descriptor: ConnectorDescriptor, context: ProviderContext) throws -> Connector {
        guard let factory = factories[descriptor.type] else {
            throw ProviderError.configuration(
                "unsupported_connector_type",
                "Connector type '\(descriptor.type)' is not supported by this delegate (supported: \(types.joined(separator: ", "))).")
        }
        return try factory(descriptor, context)
    }

    public func secretStore(_ descriptor: ConnectorDescriptor, context: ProviderContext) throws -> any SecretStore {
        guard case .secretStore(let store) = try make(descriptor, context: context) else {
            throw ProviderError.configuration(
                "not_a_secret_store", "Connector \(descriptor.id) (\(descriptor.type)) is a key manager; it does not store values.")
        }
        return store
    }

    public func keyManager(_ descriptor: ConnectorDescriptor, context: ProviderContext) throws -> any KeyManager {
        guard case .keyManager(let km) = try make(descriptor, context: context) else {
            throw ProviderError.configuration(
                "not_a_key_manager", "Connector \(descriptor.id) (\(descriptor.type)) stores secrets itself; it cannot encrypt envelopes.")
        }
        return km
    }
}
