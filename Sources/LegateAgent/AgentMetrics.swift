import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The agent's Prometheus metrics, derived from its ``AgentStatus`` at scrape time.
///
/// The metrics are swift-metrics `Counter`s and `Gauge`s made by a `PrometheusMetricsFactory` over a
/// registry of this instance. Nothing is bootstrapped process-wide: several agents in one process
/// (tests, the demo) keep separate registries, and the libraries' own metrics stay out.
public final class AgentMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let monitor: AgentMonitor
    let capacity: Int
    let wallClock: @Sendable () -> Date
    private let previous = Mutex(AgentStatus())

    private let running: CoreMetrics.Gauge
    private let capacityGauge: CoreMetrics.Gauge
    private let registered: CoreMetrics.Gauge
    private let draining: CoreMetrics.Gauge
    private let modeSocket: CoreMetrics.Gauge
    private let modePolling: CoreMetrics.Gauge
    private let heartbeatAge: CoreMetrics.Gauge
    private let completed: CoreMetrics.Counter
    private let registrations: CoreMetrics.Counter
    private let fallbacks: CoreMetrics.Counter
    private let recoveries: CoreMetrics.Counter
    private let sessionRefreshes: CoreMetrics.Counter
    private let providerErrorsExternal: CoreMetrics.Counter
    private let providerErrorsConfiguration: CoreMetrics.Counter

    /// - Parameters:
    ///   - version: `legate_build_info{version, revision}` labels.
    ///   - wallClock: for the heartbeat age (injected for tests).
    public init(
        monitor: AgentMonitor, capacity: Int, version: String, revision: String,
        wallClock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.monitor = monitor
        self.capacity = capacity
        self.wallClock = wallClock
        let f = PrometheusMetricsFactory(registry: registry)
        func gauge(_ name: String, _ dims: [(String, String)] = []) -> CoreMetrics.Gauge { CoreMetrics.Gauge(label: name, dimensions: dims, factory: f) }
        func counter(_ name: String, _ dims: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: dims, factory: f)
        }
        running = gauge("legate_tasks_running")
        capacityGauge = gauge("legate_tasks_capacity")
        registered = gauge("legate_registered")
        draining = gauge("legate_draining")
        modeSocket = gauge("legate_connection_mode", [("mode", "socket")])
        modePolling = gauge("legate_connection_mode", [("mode", "polling")])
        heartbeatAge = gauge("legate_heartbeat_age_seconds")
        completed = counter("legate_tasks_completed_total")
        registrations = counter("legate_registrations_total")
        fallbacks = counter("legate_stream_fallbacks_total")
        recoveries = counter("legate_stream_recoveries_total")
        sessionRefreshes = counter("legate_session_refreshes_total")
        providerErrorsExternal = counter("legate_provider_errors_total", [("origin", "external")])
        providerErrorsConfiguration = counter("legate_provider_errors_total", [("origin", "configuration")])
        gauge("legate_build_info", [("version", version), ("revision", revision)]).record(1)
        capacityGauge.record(capacity)
    }

    /// Brings every metric up to date with the monitor and renders the Prometheus text format.
    public func render() -> [UInt8] {
        let s = monitor.status
        // Counters only move forward: add what changed since the last scrape.
        let before = previous.withLock { p in
            let b = p
            p = s
            return b
        }
        func advance(_ c: CoreMetrics.Counter, _ new: Int, _ old: Int) { if new > old { c.increment(by: Int64(new - old)) } }
        advance(completed, s.tasksCompleted, before.tasksCompleted)
        advance(registrations, s.registrations, before.registrations)
        advance(fallbacks, s.fallbacksToPolling, before.fallbacksToPolling)
        advance(recoveries, s.returnsToSocket, before.returnsToSocket)
        advance(sessionRefreshes, s.sessionRefreshes, before.sessionRefreshes)
        advance(providerErrorsExternal, s.providerErrors["external", default: 0], before.providerErrors["external", default: 0])
        advance(
            providerErrorsConfiguration, s.providerErrors["configuration", default: 0], before.providerErrors["configuration", default: 0])
        running.record(s.running)
        registered.record(s.registered ? 1 : 0)
        draining.record(s.draining ? 1 : 0)
        modeSocket.record(s.mode == .socket ? 1 : 0)
        modePolling.record(s.mode == .polling ? 1 : 0)
        // Before the first registration there is no heartbeat: -1 says "never" without a fake age.
        heartbeatAge.record(s.lastHeartbeatAck.map { max(0, wallClock().timeIntervalSince($0)) } ?? -1)
        return registry.emitToBuffer()
    }
}
