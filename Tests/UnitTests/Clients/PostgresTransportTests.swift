import PostgresClient
import Testing

/// The start-up warning about a database reached over the network without certificate verification.
@Suite struct PostgresTransportTests {
    @Test func anUnverifiedRemoteDatabaseIsNamedAndALocalOrVerifiedOneIsNot() {
        func warning(_ url: String, _ environment: [String: String] = [:]) -> String? {
            PostgresTransport.unverifiedNetworkWarning(url, environment: environment)
        }
        for url in ["postgresql://u:p@db.example.com:5432/erp", "postgresql://u:p@db.example.com/erp?sslmode=require",
                    "postgres://u@10.0.0.5/erp?sslmode=prefer", "host=db.example.com dbname=erp sslmode=require",
                    "postgresql://u@127.0.0.1,db2.example.com:5433/erp?target_session_attrs=read-write"] {
            #expect(warning(url) != nil, "\(url)")
        }
        #expect(warning("postgresql://u:secret@db.example.com/erp")?.contains("secret") == false, "the password is never shown")
        #expect(warning("postgresql://u@db.example.com/erp")?.contains("verify-full") == true, "it says what to set")
        for url in ["postgresql://u:p@127.0.0.1:15432/wooqueue", "postgresql://u@localhost/erp", "postgresql://u@[::1]:5432/erp",
                    "postgresql:///erp?host=/var/run/postgresql", "postgresql:///erp",
                    "postgresql://u@db.example.com/erp?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                    "host=db.example.com sslmode=verify-ca", "dbname=erp"] {
            #expect(warning(url) == nil, "\(url)")
        }
        #expect(warning("postgresql:///erp", ["PGHOST": "db.example.com"]) != nil, "PGHOST applies when the URL names no host")
        #expect(warning("postgresql://u@db.example.com/erp", ["PGSSLMODE": "verify-full"]) == nil, "so does PGSSLMODE")
    }
}
