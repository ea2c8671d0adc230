import KeyProviders
import LegateCrypto

/// Driver instances by connector, reused while the connector's settings and credentials stay the
/// same, so credential caches (STS sessions, IMDS tokens) and data-key caches live across tasks.
/// A changed connector (new config or rotated credential) gets a fresh instance.
actor ConnectorPool {
    let registry: ProviderRegistry
    let context: ProviderContext
    let capacity: Int
    private var entries: [String: (descriptor: ConnectorDescriptor, connector: Connector, used: UInt64)] = [:]
    /// Opened connector credentials by identity and envelope text: the same envelope always opens to the same
    /// value, so a task does not re-read the built-in key and unwrap again for each credential.
    private var credentials: [String: SecretBytes] = [:]
    private var clock: UInt64 = 0

    init(registry: ProviderRegistry, context: ProviderContext, capacity: Int = 128) {
        self.registry = registry
        self.context = context
        self.capacity = capacity
    }

    func credential(envelope: String) -> SecretBytes? { credentials[envelope] }

    func remember(credential: SecretBytes, envelope: String) {
        // Bounded: a full cache starts over (credentials change rarely).
        if credentials.count >= capacity * 4 { credentials.removeAll() }
        credentials[envelope] = credential
    }

    /// Lets every live driver instance do its upkeep (token renewal); see ``MaintainedConnector``.
    func maintain() async {
        for (_, e) in entries {
            switch e.connector {
            case .keyManager(let km): await (km as? any MaintainedConnector)?.maintain()
            case .secretStore(let s): await (s as? any MaintainedConnector)?.maintain()
            }
        }
    }

    func connector(_ d: ConnectorDescriptor) throws -> Connector {
        clock += 1
        if let e = entries[d.id], e.descriptor == d {
            entries[d.id]?.used = clock
            return e.connector
        }
        let c = try registry.make(d, context: context)
        if entries[d.id] == nil, entries.count >= capacity, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries[oldest] = nil
        }
        entries[d.id] = (d, c, clock)
        return c
    }
}
