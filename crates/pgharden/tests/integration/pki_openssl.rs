//! Our certificates, keys and CRLs as the OpenSSL command line sees them.

use crate::support::{TestPki, openssl, openssl_verify};

/// Every leaf verifies against the chain for its own purpose, with and without CRL checking of the
/// whole chain; a server certificate is refused as a client certificate; a revoked client
/// certificate is refused once the CRL is re-issued; every key file is readable by OpenSSL.
fn hierarchy_is_accepted_by_openssl(key_type: &str) {
    let pki = TestPki::new(key_type);
    for (leaf, inter, purpose) in [
        ("servers/localhost/server.crt", "server-ca/ca.crt", "sslserver"),
        ("clients/bob/client.crt", "client-ca/ca.crt", "sslclient"),
        ("clients/alice/client.crt", "client-ca/ca.crt", "sslclient"),
    ] {
        for crls in [false, true] {
            let (ok, out) = openssl_verify(&pki, leaf, inter, purpose, crls);
            assert!(ok && out.contains(": OK"), "{key_type} {leaf} {purpose} crls={crls}: {out}");
        }
    }
    let (ok, out) =
        openssl_verify(&pki, "servers/localhost/server.crt", "server-ca/ca.crt", "sslclient", true);
    assert!(!ok && out.contains("unsuitable certificate purpose"), "{key_type}: {out}");
    let (ok, out) = openssl_verify(&pki, "clients/bob/client.crt", "client-ca/ca.crt", "sslserver", false);
    assert!(!ok && out.contains("unsuitable certificate purpose"), "{key_type}: {out}");

    for key in [
        "root/ca.key",
        "server-ca/ca.key",
        "client-ca/ca.key",
        "servers/localhost/server.key",
        "clients/bob/client.key",
    ] {
        let (ok, out) = openssl(&["pkey", "-in", &pki.p(key), "-noout"]);
        assert!(ok, "{key_type}: openssl cannot read {key}: {out}");
    }

    pki.ok(&["pki", "revoke", "--cert", &pki.p("clients/bob/client.crt"), "--reason", "key-compromise"]);
    let (ok, out) = openssl_verify(&pki, "clients/bob/client.crt", "client-ca/ca.crt", "sslclient", true);
    assert!(!ok && out.contains("certificate revoked"), "{key_type}: {out}");
    let (ok, out) = openssl_verify(&pki, "clients/alice/client.crt", "client-ca/ca.crt", "sslclient", true);
    assert!(ok, "{key_type}: alice must stay valid: {out}");
    let (_, crl) = openssl(&["crl", "-in", &pki.p("client-ca/crl.pem"), "-noout", "-text"]);
    assert!(crl.contains("Key Compromise") && crl.contains("CRL Number"), "{crl}");
}

#[test]
fn p256_hierarchy_is_accepted_by_openssl() {
    hierarchy_is_accepted_by_openssl("p256");
}

#[test]
fn p384_hierarchy_is_accepted_by_openssl() {
    hierarchy_is_accepted_by_openssl("p384");
}

#[test]
fn rsa2048_hierarchy_is_accepted_by_openssl() {
    hierarchy_is_accepted_by_openssl("rsa2048");
}

#[test]
fn rsa4096_hierarchy_is_accepted_by_openssl() {
    hierarchy_is_accepted_by_openssl("rsa4096");
}

#[test]
fn ed25519_hierarchy_is_accepted_by_openssl() {
    hierarchy_is_accepted_by_openssl("ed25519");
}

/// The extensions the STIG and RFC 5280 ask for, read back by `openssl x509 -text`.
#[test]
fn certificates_carry_the_right_extensions() {
    let pki = TestPki::new("p384");
    let text = |rel: &str| openssl(&["x509", "-in", &pki.p(rel), "-noout", "-text"]).1;
    let root = text("root/ca.crt");
    assert!(root.contains("CA:TRUE, pathlen:1"), "{root}");
    assert!(root.contains("Certificate Sign, CRL Sign"), "{root}");
    assert!(root.contains("Subject Key Identifier"), "{root}");
    for inter in ["server-ca/ca.crt", "client-ca/ca.crt"] {
        let t = text(inter);
        assert!(t.contains("CA:TRUE, pathlen:0"), "{t}");
        assert!(t.contains("Authority Key Identifier") && t.contains("Subject Key Identifier"), "{t}");
    }
    let server = text("servers/localhost/server.crt");
    assert!(server.contains("DNS:localhost, IP Address:127.0.0.1"), "{server}");
    assert!(
        server.contains("TLS Web Server Authentication") && server.contains("Digital Signature"),
        "{server}"
    );
    assert!(server.contains("CA:FALSE") && server.contains("CN = localhost"), "{server}");
    let alice = text("clients/alice/client.crt");
    assert!(
        alice.contains("CN = alice@example.com") && alice.contains("TLS Web Client Authentication"),
        "{alice}"
    );
    // Random serials: no two certificates share one, and none is small.
    let serials: std::collections::HashSet<_> =
        ["root/ca.crt", "server-ca/ca.crt", "client-ca/ca.crt", "clients/bob/client.crt"]
            .iter()
            .map(|c| openssl(&["x509", "-in", &pki.p(c), "-noout", "-serial"]).1)
            .collect();
    assert_eq!(serials.len(), 4);
    assert!(serials.iter().all(|s| s.trim().len() >= "serial=".len() + 30), "{serials:?}");
    // Explicit validity: the server certificate's 397 days, not rcgen's 1975–4096 default.
    let (_, dates) = openssl(&[
        "x509",
        "-in",
        &pki.p("servers/localhost/server.crt"),
        "-noout",
        "-checkend",
        &(398 * 86400).to_string(),
    ]);
    assert!(dates.contains("will expire"), "{dates}");
}

/// Encrypted CA keys are PKCS#8 with PBES2 (PBKDF2-SHA256, AES-256-CBC) that OpenSSL opens with the
/// passphrase and not without.
#[test]
fn encrypted_ca_keys_open_in_openssl_with_the_passphrase_only() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "a long enough passphrase\n").unwrap();
    let dir = tmp.path().join("pki");
    crate::support::ok(&[
        "pki",
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let key = dir.join("root/ca.key");
    let (_, der) = openssl(&["asn1parse", "-in", key.to_str().unwrap()]);
    assert!(der.contains("PBES2") && der.contains("hmacWithSHA256") && der.contains("aes-256-cbc"), "{der}");
    let passin = format!("file:{}", pass.display());
    let (ok, out) = openssl(&["pkey", "-in", key.to_str().unwrap(), "-passin", &passin, "-noout"]);
    assert!(ok, "{out}");
    let (ok, _) = openssl(&["pkey", "-in", key.to_str().unwrap(), "-passin", "pass:wrong", "-noout"]);
    assert!(!ok, "a wrong passphrase must not open the key");
}
