import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire

/// How fast the system heals: socket cut (silenced) → first task completed over polling; stream
/// back → agent on the socket again; agent SIGKILLed → manager declares it lost. The full run uses
/// the production default heartbeat; `--quick` uses 2 s so it fits the test suite. The reference is
/// the heartbeat interval of the same run: every detection here is a multiple of it by design.
enum FaultsSuite {
    static func run(quick: Bool, dir: String, executable: String) async throws -> [BenchFigure] {
        let heartbeat: Duration = quick ? .seconds(2) : ManagerSettings().heartbeatInterval
        let hb = heartbeat.seconds
        return try await withBenchManager(dir: dir, heartbeat: heartbeat) { m in
            let url = await m.url()
            let ca = m.runtime.caCertificatePath ?? ""
            let token = try await m.tokenFile("faults")
            let clock = ContinuousClock()
            var fallbacks: [Double] = []
            var returns: [Double] = []
            let rounds = quick ? 1 : 3
            try await DispatchSuite.withAgents(url: url, ca: ca, token: token, dir: m.dir, count: 1) { monitors in
                for _ in 0..<rounds {
                    try await m.core.setStreamPolicy(.open)
                    try await DispatchSuite.waitMode(monitors, .socket)
                    // A silent socket is what a cut network looks like: no FIN, no error, nothing.
                    try await m.core.setStreamPolicy(.silent)
                    let t0 = clock.now
                    let task = try await m.core.createTask(CreateTaskRequest(shell: ShellSpec(command: ["true"])))
                    while try await !(m.core.task(id: task.id).status.isFinal) {
                        guard clock.now - t0 < .seconds(hb * 12) else { throw BenchError("the task never completed after the socket went silent") }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    fallbacks.append((clock.now - t0).seconds)
                    try await DispatchSuite.waitMode(monitors, .polling)
                    try await m.core.setStreamPolicy(.open)
                    let t1 = clock.now
                    while monitors[0].status.mode != .socket {
                        guard clock.now - t1 < .seconds(hb * 12) else { throw BenchError("the agent never returned to the socket") }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    returns.append((clock.now - t1).seconds)
                }
            }
            var losts: [Double] = []
            for round in 0..<rounds {
                let name = "victim\(round)"
                let agent = try Child.spawn(executable, [
                    "run", "--manager-url", url, "--token-file", token, "--ca-file", ca, "--name", name,
                    "--state-dir", m.dir + "/victim-\(round)", "--log-level", "critical",
                ])
                let t0 = clock.now
                while try await !m.core.delegates().contains(where: { $0.name == name && $0.status == .active }) {
                    guard clock.now - t0 < .seconds(30) else {
                        agent.kill()
                        throw BenchError("the victim agent did not register")
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                // Let it settle into its heartbeat rhythm, then kill it without warning.
                try await Task.sleep(for: .seconds(hb))
                agent.kill()
                let t1 = clock.now
                while try await !m.core.delegates().contains(where: { $0.name == name && $0.status == .lost }) {
                    guard clock.now - t1 < .seconds(hb * 12) else { throw BenchError("the killed agent was never declared lost") }
                    try await Task.sleep(for: .milliseconds(50))
                }
                losts.append((clock.now - t1).seconds)
            }
            let label = "heartbeat \(Int(hb)) s"
            return [
                BenchFigure(
                    suite: "faults", figure: "socket silenced → task done over polling", unit: "s", value: Stats.median(fallbacks),
                    reference: hb, referenceName: label, higherIsBetter: false, runs: fallbacks.count, target: "≤ 20 s"),
                BenchFigure(
                    suite: "faults", figure: "stream back → agent on the socket", unit: "s", value: Stats.median(returns),
                    reference: hb, referenceName: label, higherIsBetter: false, runs: returns.count),
                BenchFigure(
                    suite: "faults", figure: "agent SIGKILLed → declared lost", unit: "s", value: Stats.median(losts),
                    reference: hb, referenceName: label, higherIsBetter: false, runs: losts.count, target: "≤ 30 s"),
            ]
        }
    }
}
