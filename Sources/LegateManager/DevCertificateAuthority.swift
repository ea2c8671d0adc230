import Crypto
import Foundation
import LegateCore
import SwiftASN1
import X509

/// A development CA and a server certificate for loopback and this host, written into the manager's
/// state directory on first start when no certificate is configured. Agents trust the CA file.
public enum DevCertificateAuthority {
    public struct Paths: Sendable {
        public var caCertificate: String
        public var serverCertificate: String
        public var serverKey: String
    }

    public static func paths(stateDirectory: String) -> Paths {
        let dir = stateDirectory + "/tls"
        return Paths(caCertificate: dir + "/ca.pem", serverCertificate: dir + "/server.pem", serverKey: dir + "/server-key.pem")
    }

    /// Creates the files unless all three exist. Returns their paths and whether they were created now.
    public static func ensure(stateDirectory: String, hostnames: [String], now: Date = Date()) throws -> (Paths, created: Bool) {
        let p = paths(stateDirectory: stateDirectory)
        let fm = FileManager.default
        if fm.fileExists(atPath: p.caCertificate) && fm.fileExists(atPath: p.serverCertificate)
            && fm.fileExists(atPath: p.serverKey)
        {
            return (p, false)
        }
        try FileIO.makeDirectory(stateDirectory + "/tls", mode: 0o700)

        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("Legate")
            CommonName("Legate development CA")
        }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(5 * 365 * 86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: ArraySlice([127, 0, 0, 1]))),
                                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])))]
        for h in hostnames where !h.isEmpty && h != "localhost" {
            if let ip = IPv4(h) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                names.append(.dnsName(h))
            }
        }
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(825 * 86400),
            issuer: caName, subject: try DistinguishedName { CommonName("legate-manager") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))

        try FileIO.write(try ca.serializeAsPEM().pemString + "\n", to: p.caCertificate, mode: 0o644)
        try FileIO.write(try server.serializeAsPEM().pemString + "\n", to: p.serverCertificate, mode: 0o644)
        try FileIO.write(serverKey.pemRepresentation + "\n", to: p.serverKey, mode: 0o600)
        // The CA key is not kept: nothing else is ever signed with it.
        return (p, true)
    }

    private static func IPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }
}
