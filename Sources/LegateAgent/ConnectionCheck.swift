import LegateCore
import LegateWire
import Logging

/// `legate check --connect`: one registration with the manager, exactly as `legate run` would
/// start (same TLS, proxy and token), without running anything.
public enum ConnectionCheck {
    /// What the manager answered.
    public struct Outcome: Sendable {
        public var response: RegisterResponse
        public var elapsed: Duration
    }

    /// Registers once; throws the first failure (no retries, so a wrong CA or a refused token
    /// shows at once). The manager keeps a delegate record for it, which turns `lost` after its
    /// missed heartbeats like any stopped agent.
    public static func register(_ configuration: AgentConfiguration.Validated, logger: Logger) async throws -> Outcome {
        let tls = try AgentTLS.make(configuration.raw)
        let client = ManagerClient(config: configuration, tls: tls, logger: logger)
        let c = configuration.raw
        let request = RegisterRequest(
            name: c.name, hostname: AgentConfiguration.defaultHostname(), version: LegateVersion.current, tags: c.tags,
            capacity: c.capacity, supportedTaskTypes: AgentService.supportedTaskTypes, instanceId: Identifiers.make(prefix: "i_"))
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let response = try await client.register(request, token: configuration.token)
            await client.shutdown()
            return Outcome(response: response, elapsed: clock.now - start)
        } catch {
            await client.shutdown()
            throw error
        }
    }
}
