//! `pki verify --host` against libpq itself: for each certificate shape, psql with
//! `sslmode=verify-full` and pgharden must agree on every host name, and both must give the answer
//! libpq's rules predict (SANs of the host's type first, CN only without them, one-label wildcards).

use std::fs;
use std::net::IpAddr;

use pgharden_testcluster::Cluster;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType};

use crate::pki_postgres::reload;
use crate::support::{TestPki, ca_issuer, psql, run};

/// A server certificate of an unusual shape, signed by the PKI's server intermediate CA.
fn craft(pki: &TestPki, name: &str, cn: &str, sans: &[&str]) -> std::path::PathBuf {
    let issuer = ca_issuer(pki, "server-ca");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans
        .iter()
        .map(|s| match (s.strip_prefix("dns:"), s.parse::<IpAddr>()) {
            (Some(forced), _) => SanType::DnsName(forced.to_string().try_into().unwrap()),
            (None, Ok(ip)) => SanType::IpAddress(ip),
            (None, Err(_)) => SanType::DnsName(s.to_string().try_into().unwrap()),
        })
        .collect();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(30);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = pki.tmp.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    let chain = format!("{}{}", cert.pem(), fs::read_to_string(pki.path("server-ca/ca.crt")).unwrap());
    fs::write(dir.join("server.crt"), chain).unwrap();
    fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    dir
}

/// Does libpq accept `host` for the certificate the server now serves?
fn libpq_accepts(cluster: &Cluster, pki: &TestPki, host: &str) -> bool {
    let conninfo = format!(
        "host={host} hostaddr=127.0.0.1 port={} dbname=postgres user=postgres sslmode=verify-full sslrootcert={}",
        cluster.port(),
        pki.p("root/ca.crt")
    );
    let out = psql(cluster, &conninfo, "SELECT 1");
    if !out.ok {
        // Only a name mismatch may fail these connections; anything else is a broken test.
        assert!(
            out.stderr.contains("does not match host name")
                || out.stderr.contains("could not get server's host name"),
            "{host}: unexpected failure: {}",
            out.stderr
        );
    }
    out.ok
}

fn pgharden_accepts(pki: &TestPki, cert: &std::path::Path, host: &str) -> bool {
    let out = run(&["pki", "verify", "--dir", &pki.p(""), cert.to_str().unwrap(), "--host", host]);
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(1), "{host}: {}", String::from_utf8_lossy(&out.stderr));
    code == Some(0)
}

/// A certificate shape and the verdict libpq's rules predict for each host.
struct Case {
    name: &'static str,
    cn: &'static str,
    /// SANs; an IP address is an iPAddress SAN unless written `dns:…`.
    sans: &'static [&'static str],
    hosts: &'static [(&'static str, bool)],
}

#[test]
fn host_name_rules_agree_with_libpq() {
    let pki = TestPki::bare("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.write_hba("local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
    let cases = [
        Case {
            name: "cn-only",
            cn: "db.example.com",
            sans: &[],
            hosts: &[
                ("db.example.com", true),
                ("DB.Example.COM", true),
                ("other.example.com", false),
                ("127.0.0.1", false),
            ],
        },
        Case {
            name: "ip-san",
            cn: "db.example.com",
            sans: &["127.0.0.1"],
            // libpq parses IPv4 hosts with inet_aton, so "127.1" is 127.0.0.1.
            hosts: &[
                ("127.0.0.1", true),
                ("127.1", true),
                ("127.0.0.2", false),
                ("db.example.com", true),
                ("other.example.com", false),
            ],
        },
        Case {
            name: "dns-san-wins-over-cn",
            cn: "cn.example.com",
            sans: &["db.example.com"],
            hosts: &[("db.example.com", true), ("cn.example.com", false), ("127.0.0.1", false)],
        },
        Case {
            name: "wildcard",
            cn: "ignored.example.com",
            sans: &["*.example.com"],
            hosts: &[
                ("db.example.com", true),
                ("DB.EXAMPLE.COM", true),
                ("a.b.example.com", false),
                ("example.com", false),
                ("ignored.example.com", true),
            ],
        },
        Case {
            name: "ip-host-falls-back-to-cn",
            cn: "127.0.0.1",
            sans: &["db.example.com"],
            hosts: &[("127.0.0.1", true), ("db.example.com", true), ("127.0.0.2", false)],
        },
        Case {
            name: "ip-as-dns-san",
            cn: "db.example.com",
            sans: &["dns:127.0.0.1"],
            hosts: &[("127.0.0.1", true), ("db.example.com", false)],
        },
    ];
    let mut first = true;
    for Case { name, cn, sans, hosts } in cases {
        let dir = craft(&pki, name, cn, sans);
        cluster.write_file("server.crt", &fs::read(dir.join("server.crt")).unwrap(), 0o600).unwrap();
        cluster.write_file("server.key", &fs::read(dir.join("server.key")).unwrap(), 0o600).unwrap();
        if first {
            cluster
                .append_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
                .unwrap();
            first = false;
        }
        reload(&cluster);
        for &(host, expected) in hosts {
            let libpq = libpq_accepts(&cluster, &pki, host);
            let ours = pgharden_accepts(&pki, &dir.join("server.crt"), host);
            assert_eq!(libpq, expected, "{name}: libpq on {host}");
            assert_eq!(ours, libpq, "{name}: pgharden disagrees with libpq on {host}");
        }
    }
}

/// An issued server certificate verifies for each of its names and for nothing else.
#[test]
fn issued_server_certificate_matches_its_hosts_only() {
    let pki = TestPki::new("p384");
    let cert = pki.path("servers/localhost/server.crt");
    for (host, expected) in [
        ("localhost", true),
        ("LOCALHOST", true),
        ("127.0.0.1", true),
        ("::1", false),
        ("db.example.com", false),
    ] {
        assert_eq!(pgharden_accepts(&pki, &cert, host), expected, "{host}");
    }
}
