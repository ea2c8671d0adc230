import LegateCore
import Logging

/// A connector as the agent receives it: type, non-secret settings, and resolved credentials.
public struct ConnectorDescriptor: Sendable, Codable, Equatable {
    public var id: String
    public var type: String
    public var config: [String: String]

    public init(id: String, type: String, config: [String: String]) {
        self.id = id
        self.type = type
        self.config = config
    }

    /// A required setting, or a configuration error naming it.
    public func require(_ key: String) throws -> String {
        guard let v = config[key], !v.isEmpty else {
            throw ProviderError.configuration(
                "missing_setting", "Connector \(id) (\(type)) needs the setting '\(key)'; update the connector.")
        }
        return v
    }
}

/// What drivers may use from the agent.
public struct ProviderContext: Sendable {
    public var stateDirectory: String
    public var logger: Logger
    public var retry: RetryPolicy

    public init(stateDirectory: String, logger: Logger, retry: RetryPolicy = RetryPolicy()) {
        self.stateDirectory = stateDirectory
        self.logger = logger
        self.retry = retry
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

    public func keyManager(_ descriptor: ConnectorDescriptor, context: ProviderContext) throws -> any KeyManager {
        guard case .keyManager(let km) = try make(descriptor, context: context) else {
            throw ProviderError.configuration(
                "not_a_key_manager", "Connector \(descriptor.id) (\(descriptor.type)) stores secrets itself; it cannot encrypt envelopes.")
        }
        return km
    }
}
