import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket
import LegateCore
import LegateWire
import Logging
import NIOCore
import NIOSSL

/// The manager's HTTP surface: agent endpoints, the delegate stream and the admin API, over TLS.
enum ManagerServer {
    static func makeApplication(
        core: ManagerCore, host: String, port: Int, tls: TLSConfiguration, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        // Method and path only: tokens travel in headers, which are not logged.
        router.middlewares.add(LogRequestsMiddleware(.debug))
        addDelegateRoutes(router, core: core)
        addAdminRoutes(router, core: core)

        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        wsRouter.ws(
            "\(WireProtocol.apiPrefix)/delegates/:id/stream",
            shouldUpgrade: { request, context in
                guard let id = context.parameters.get("id") else { return .dontUpgrade }
                do {
                    _ = try await core.authenticateSession(request.headers[.authorization], delegateId: id)
                } catch {
                    // The plain route below answers with the reason.
                    return .dontUpgrade
                }
                return await core.hub.policy == .refuse ? .dontUpgrade : .upgrade([:])
            },
            onUpgrade: { inbound, outbound, context in
                let id = context.requestContext.parameters.get("id") ?? ""
                await core.runStream(delegateId: id, inbound: inbound, outbound: outbound)
            })

        return Application(
            router: router,
            server: try .tls(
                .http1WebSocketUpgrade(
                    webSocketRouter: wsRouter,
                    configuration: .init(
                        http1: .init(idleTimeout: .seconds(120)),
                        ws: .init(maxFrameSize: WireProtocol.maxFrameBytes, autoPing: .disabled, closeTimeout: .seconds(1)))),
                tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "legate-manager"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    // MARK: Helpers

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? WireCoding.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func errorResponse(_ e: APIError) -> Response {
        var r = json(ErrorBody(code: e.code, message: e.message), status: e.status)
        if e.status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer" }
        return r
    }

    /// Runs a handler and turns every error into the documented JSON error body.
    static func handle(_ logger: Logger, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let e as APIError {
            return errorResponse(e)
        } catch let e as WireError {
            return errorResponse(APIError.from(e))
        } catch is NIOTooManyBytesError {
            return errorResponse(
                APIError(.contentTooLarge, "payload_too_large", "Request body is over the limit of \(WireProtocol.maxMessageBytes) bytes."))
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)"])
            return errorResponse(APIError(.internalServerError, "internal", "The manager failed to handle the request; see its log."))
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, what: String) async throws -> T {
        let buffer = try await request.body.collect(upTo: WireProtocol.maxMessageBytes)
        return try WireCoding.decode(T.self, from: Data(buffer.readableBytesView), what: what)
    }

    static func param(_ context: BasicRequestContext, _ name: String) throws -> String {
        guard let v = context.parameters.get(name), !v.isEmpty, v.count <= 64 else {
            throw APIError(.badRequest, "bad_request", "Missing or invalid path parameter '\(name)'.")
        }
        return v
    }

    // MARK: Delegate endpoints

    static func addDelegateRoutes(_ router: Router<BasicRequestContext>, core: ManagerCore) {
        let p = WireProtocol.apiPrefix
        let log = core.logger

        router.get("\(p)/health") { _, _ in json(["status": "ok"]) }

        router.post("\(p)/delegates/register") { request, _ in
            await handle(log) {
                let tokenId = try await core.authenticateDelegateToken(request.headers[.authorization])
                let body = try await decode(RegisterRequest.self, request, what: "register request")
                return json(try await core.register(body, tokenId: tokenId))
            }
        }

        router.post("\(p)/delegates/:id/session") { request, context in
            await handle(log) {
                let id = try param(context, "id")
                let session = try await core.authenticateSession(request.headers[.authorization], delegateId: id)
                return json(core.refreshSession(session))
            }
        }

        router.post("\(p)/delegates/:id/heartbeat") { request, context in
            await handle(log) {
                let id = try param(context, "id")
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: id)
                let hb = try await decode(Heartbeat.self, request, what: "heartbeat")
                return json(try await core.heartbeat(delegateId: id, hb))
            }
        }

        router.get("\(p)/delegates/:id/notices") { request, context in
            await handle(log) {
                let id = try param(context, "id")
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: id)
                let waitMs = request.uri.queryParameters.get("waitMs", as: Int.self) ?? 0
                guard waitMs >= 0 else { throw APIError(.badRequest, "bad_request", "waitMs must be ≥ 0.") }
                return json(try await core.poll(delegateId: id, wait: .milliseconds(waitMs)))
            }
        }

        // Reached when the WebSocket upgrade was declined: say why.
        router.get("\(p)/delegates/:id/stream") { request, context in
            await handle(log) {
                let id = try param(context, "id")
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: id)
                if await core.hub.policy == .refuse {
                    throw APIError(.serviceUnavailable, "streams_refused", "The manager is not accepting streams now; poll for notices instead.")
                }
                throw APIError(.badRequest, "upgrade_required", "This endpoint needs a WebSocket upgrade request.")
            }
        }

        router.post("\(p)/tasks/:id/acquire") { request, context in
            await handle(log) {
                let taskId = try param(context, "id")
                let body = try await decode(AcquireRequest.self, request, what: "acquire request")
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: body.delegateId)
                return json(try await core.acquire(taskId: taskId, delegateId: body.delegateId))
            }
        }

        router.post("\(p)/tasks/:id/logs") { request, context in
            await handle(log) {
                let taskId = try param(context, "id")
                let delegateId = request.headers[delegateHeader] ?? ""
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: delegateId)
                let batch = try await decode(LogBatch.self, request, what: "log batch")
                return json(try await core.appendLogs(taskId: taskId, delegateId: delegateId, batch: batch))
            }
        }

        router.post("\(p)/tasks/:id/result") { request, context in
            await handle(log) {
                let taskId = try param(context, "id")
                let delegateId = request.headers[delegateHeader] ?? ""
                _ = try await core.authenticateSession(request.headers[.authorization], delegateId: delegateId)
                let result = try await decode(TaskResult.self, request, what: "task result")
                return json(try await core.storeResult(taskId: taskId, delegateId: delegateId, result: result))
            }
        }
    }

    /// Names the delegate on task endpoints (`Legate-Delegate-Id`); the session token must match it.
    static let delegateHeader = HTTPField.Name("Legate-Delegate-Id")!  // crash-ok: a constant, valid header name

    // MARK: Admin endpoints

    static func addAdminRoutes(_ router: Router<BasicRequestContext>, core: ManagerCore) {
        let p = WireProtocol.apiPrefix + "/admin"
        let log = core.logger

        @Sendable func admin(_ request: Request, _ body: @escaping @Sendable () async throws -> Response) async -> Response {
            await handle(log) {
                try await core.authenticateAdmin(request.headers[.authorization])
                return try await body()
            }
        }
        /// For operations recorded in the audit trail: the body gets the admin key id as the actor.
        @Sendable func audited(_ request: Request, _ body: @escaping @Sendable (String) async throws -> Response) async -> Response {
            await handle(log) {
                let actor = try await core.authenticateAdmin(request.headers[.authorization])
                return try await body(actor)
            }
        }

        router.post("\(p)/tokens") { request, _ in
            await admin(request) {
                let body = try await decode(CreateTokenRequest.self, request, what: "token request")
                return json(try await core.createToken(name: body.name), status: .created)
            }
        }
        router.get("\(p)/tokens") { request, _ in
            await admin(request) { json(try await core.listTokens()) }
        }
        router.delete("\(p)/tokens/:id") { request, context in
            await admin(request) {
                try await core.revokeToken(id: try param(context, "id"))
                return Response(status: .noContent)
            }
        }
        router.post("\(p)/tasks") { request, _ in
            await audited(request) { actor in
                let body = try await decode(CreateTaskRequest.self, request, what: "task request")
                return json(try await core.createTask(body, actor: actor), status: .created)
            }
        }
        router.post("\(p)/connectors") { request, _ in
            await audited(request) { actor in
                let body = try await decode(CreateConnectorRequest.self, request, what: "connector request")
                return json(try await core.createConnector(body, actor: actor), status: .created)
            }
        }
        router.get("\(p)/connectors") { request, _ in
            await admin(request) { json(try await core.connectorViews()) }
        }
        router.post("\(p)/connectors/:id/validate") { request, context in
            await audited(request) { actor in json(try await core.validateConnector(try param(context, "id"), actor: actor)) }
        }
        router.post("\(p)/secrets") { request, _ in
            await audited(request) { actor in
                let body = try await decode(CreateSecretRequest.self, request, what: "secret request")
                return json(try await core.createSecret(body, actor: actor), status: .created)
            }
        }
        router.get("\(p)/secrets") { request, _ in
            await admin(request) { json(try await core.secretViews()) }
        }
        router.delete("\(p)/secrets/:id") { request, context in
            await audited(request) { actor in
                try await core.deleteSecret(id: try param(context, "id"), actor: actor)
                return Response(status: .noContent)
            }
        }
        router.put("\(p)/secrets/:id/value") { request, context in
            await audited(request) { actor in
                let body = try await decode(UpdateSecretValueRequest.self, request, what: "secret value")
                return json(try await core.updateSecretValue(id: try param(context, "id"), body, actor: actor))
            }
        }
        router.post("\(p)/secrets/rewrap") { request, _ in
            await audited(request) { actor in
                let body = try await decode(RewrapRequest.self, request, what: "rewrap request")
                return json(try await core.rewrap(body, actor: actor))
            }
        }
        router.post("\(p)/secrets/:id/migrate") { request, context in
            await audited(request) { actor in
                let body = try await decode(MigrateRequest.self, request, what: "migrate request")
                return json(try await core.migrate(secretId: try param(context, "id"), body, actor: actor))
            }
        }
        router.get("\(p)/audit") { request, _ in
            await admin(request) { json(try await core.auditTrail()) }
        }
        router.get("\(p)/tasks") { request, _ in
            await admin(request) {
                var status: TaskStatus?
                if let raw = request.uri.queryParameters.get("status") {
                    guard let s = TaskStatus(rawValue: String(raw)) else {
                        throw APIError(
                            .badRequest, "invalid_field",
                            "Unknown status '\(raw)'; use one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
                    }
                    status = s
                }
                return json(try await core.tasks(status: status))
            }
        }
        router.get("\(p)/tasks/:id") { request, context in
            await admin(request) { json(try await core.task(id: try param(context, "id"))) }
        }
        router.get("\(p)/tasks/:id/logs") { request, context in
            await admin(request) { json(try await core.logs(taskId: try param(context, "id"))) }
        }
        router.post("\(p)/tasks/:id/abort") { request, context in
            await admin(request) { json(try await core.abortTask(id: try param(context, "id"))) }
        }
        router.get("\(p)/delegates") { request, _ in
            await admin(request) { json(try await core.delegates()) }
        }
        router.put("\(p)/streams") { request, _ in
            await admin(request) {
                let body = try await decode(StreamPolicyRequest.self, request, what: "stream policy")
                try await core.setStreamPolicy(body.policy)
                return json(body)
            }
        }
    }
}
