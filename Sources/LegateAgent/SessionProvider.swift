import LegateCore

/// The agent's current identity with the manager. Updated on (re-)registration and refresh; read by
/// everything that calls the manager, so a refreshed token is used by in-flight retry loops too.
actor SessionProvider {
    private(set) var delegateId: String = ""
    private var session = Redacted("")

    var token: Redacted<String> { session }

    func update(delegateId: String, token: String) {
        self.delegateId = delegateId
        self.session = Redacted(token)
    }

    func update(token: String) { session = Redacted(token) }
}
