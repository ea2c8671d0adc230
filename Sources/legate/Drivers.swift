import KeyProviders
import LegateAgent
import ProviderAWS
import ProviderVault

/// Every connector driver this binary ships. Only the executable links them all, so drivers never
/// depend on each other or on the agent.
enum Drivers {
    static var all: ProviderRegistry {
        var r = AgentService.builtinProviders
        AWSDrivers.register(in: &r)
        VaultDrivers.register(in: &r)
        return r
    }
}
