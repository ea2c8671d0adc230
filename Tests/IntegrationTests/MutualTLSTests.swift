import Crypto
import Foundation
import LegateAgent
import LegateCore
import LegateWire
import SwiftASN1
import X509
import XCTest

/// A manager that requires client certificates accepts an agent with one and refuses one without.
final class MutualTLSTests: XCTestCase {
    /// Writes a client CA and a client certificate + key signed by it; returns their paths.
    static func makeClientPKI(in dir: String) throws -> (ca: String, cert: String, key: String) {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Legate test client CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: now - 3600,
            notValidAfter: now + 86400, issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            }, issuerPrivateKey: .init(caKey))
        let clientKey = P256.Signing.PrivateKey()
        let client = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(clientKey.publicKey), notValidBefore: now - 3600,
            notValidAfter: now + 86400, issuer: caName, subject: try DistinguishedName { CommonName("delegate-1") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            }, issuerPrivateKey: .init(caKey))
        let paths = (ca: dir + "/client-ca.pem", cert: dir + "/client.pem", key: dir + "/client-key.pem")
        try FileIO.write(try ca.serializeAsPEM().pemString + "\n", to: paths.ca, mode: 0o644)
        try FileIO.write(try client.serializeAsPEM().pemString + "\n", to: paths.cert, mode: 0o644)
        try FileIO.write(clientKey.pemRepresentation + "\n", to: paths.key, mode: 0o600)
        return paths
    }

    func testManagerRequiringClientCertificatesAcceptsOnlyAgentsPresentingOne() async throws {
        let dir = Harness.tempDir("legate-mtls")
        let pki = try Self.makeClientPKI(in: dir)
        try await withManager(clientCA: pki.ca) { m in
            let (_, tokenFile) = try await m.tokenFile("mtls")
            var c = AgentConfiguration()
            c.managerURL = m.url
            c.tokenFile = tokenFile
            c.caFile = m.caFile
            c.name = "with-cert"
            c.stateDirectory = dir + "/agent"
            c.clientCertificateFile = pki.cert
            c.clientKeyFile = pki.key
            let withCert = try c.validated()
            try await withAgentService(withCert) { monitor in
                try await Harness.eventually("agent with a client certificate on the socket") { monitor.status.mode == .socket }
                let t = try await m.core.createTask(CreateTaskRequest(shell: ShellSpec(script: "echo mutual")))
                try await Harness.eventually("task done") { try await m.core.task(id: t.id).status == .succeeded }
            }

            c.clientCertificateFile = nil
            c.clientKeyFile = nil
            c.name = "without-cert"
            let service = AgentService(configuration: try c.validated(), logger: LogCapture().logger("agent"))
            do {
                try await service.run()
                XCTFail("connected without a client certificate")
            } catch let e as ClientError {
                XCTAssertEqual(e.kind, .tls, e.message)
                XCTAssertTrue(e.message.contains("client_cert_file"), e.message)
            }
        }
    }
}
