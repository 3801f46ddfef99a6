//! The `pki` commands as a user meets them: errors that name the file, no silent overwrite,
//! passphrases, file modes, crash safety, exit codes, JSON, completions and the man page.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use crate::support::{TestPki, ca_issuer, fails, mode, ok, openssl, pgharden, run};

#[test]
fn every_key_is_0600_and_certificates_0644_even_with_umask_000() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let script = format!(
        "umask 000 && {bin} pki init --dir {d} --no-passphrase --key-type p256 && \
         {bin} pki server --dir {d} --host db && {bin} pki client --dir {d} --role bob",
        bin = env!("CARGO_BIN_EXE_pgharden"),
        d = dir.display()
    );
    let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for key in [
        "root/ca.key",
        "server-ca/ca.key",
        "client-ca/ca.key",
        "servers/db/server.key",
        "clients/bob/client.key",
    ] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    for cert in ["root/ca.crt", "servers/db/server.crt", "clients/bob/client.crt", "crls.pem", "ledger.json"]
    {
        assert_eq!(mode(&dir.join(cert)) & 0o077, 0o044 & mode(&dir.join(cert)), "{cert}");
        assert_eq!(mode(&dir.join(cert)) & 0o022, 0, "{cert} must not be group/world writable");
    }
    for d in ["root", "server-ca", "client-ca", "servers/db", "clients/bob"] {
        assert_eq!(mode(&dir.join(d)) & 0o077, 0, "{d} holds keys and must be private");
    }
}

#[test]
fn nothing_is_overwritten_without_force() {
    let pki = TestPki::new("p256");
    let before = fs::read(pki.path("clients/bob/client.crt")).unwrap();
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("clients/bob/client") && err.contains("--force"), "{err}");
    assert_eq!(fs::read(pki.path("clients/bob/client.crt")).unwrap(), before);
    let err = fails(&["pki", "init", "--dir", &pki.p(""), "--no-passphrase"], 2);
    assert!(err.contains("ledger.json") && err.contains("--force"), "{err}");

    let old = pki.serial("clients/bob/client.crt");
    let out = pki.ok(&["pki", "client", "--role", "bob", "--force"]);
    assert!(out.contains(&format!("replaced {old}")), "{out}");
    let list = pki.ok(&["pki", "list"]);
    let line = list.lines().find(|l| l.contains(&old)).unwrap();
    assert!(line.contains("replaced"), "{list}");
}

#[test]
fn a_missing_directory_says_to_init() {
    let err = fails(&["pki", "server", "--dir", "/nonexistent/pki", "--host", "db"], 2);
    assert!(err.contains("/nonexistent/pki") && err.contains("pki init"), "{err}");
    let err = fails(&["pki", "list", "--dir", "/nonexistent/pki"], 2);
    assert!(err.contains("/nonexistent/pki"), "{err}");
}

#[test]
fn passphrases_are_required_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let d = dir.to_str().unwrap();
    let err = fails(&["pki", "init", "--dir", d], 2);
    assert!(err.contains("--no-passphrase") && err.contains("PGHARDEN_CA_PASSPHRASE"), "{err}");

    let out = pgharden()
        .args(["pki", "init", "--dir", d, "--key-type", "p256"])
        .env("PGHARDEN_CA_PASSPHRASE", "the right passphrase")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(fs::read_to_string(dir.join("root/ca.key")).unwrap().contains("ENCRYPTED PRIVATE KEY"));

    let err = fails(&["pki", "client", "--dir", d, "--role", "bob"], 2);
    assert!(err.contains("PGHARDEN_CA_PASSPHRASE"), "{err}");
    let wrong = tmp.path().join("wrong");
    fs::write(&wrong, "not the passphrase\n").unwrap();
    let err = fails(
        &["pki", "client", "--dir", d, "--role", "bob", "--passphrase-file", wrong.to_str().unwrap()],
        2,
    );
    assert!(err.contains("wrong passphrase") && err.contains("client-ca/ca.key"), "{err}");
    assert!(!dir.join("clients/bob").join("client.crt").exists());

    let right = tmp.path().join("right");
    fs::write(&right, "the right passphrase\n").unwrap();
    ok(&["pki", "client", "--dir", d, "--role", "bob", "--passphrase-file", right.to_str().unwrap()]);
    let err = fails(
        &[
            "pki",
            "revoke",
            "--dir",
            d,
            "--cert",
            dir.join("clients/bob/client.crt").to_str().unwrap(),
            "--passphrase-file",
            wrong.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("wrong passphrase"), "{err}");
    let list = ok(&["pki", "list", "--dir", d]);
    assert!(!list.contains("revoked"), "a failed revoke records nothing: {list}");
}

#[test]
fn a_truncated_ca_certificate_is_named() {
    let pki = TestPki::bare("p256");
    let path = pki.path("client-ca/ca.crt");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, &text[..text.len() / 2]).unwrap();
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("client-ca/ca.crt") && err.contains("truncated"), "{err}");
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_named() {
    let pki = TestPki::bare("p256");
    fs::copy(pki.path("server-ca/ca.key"), pki.path("client-ca/ca.key")).unwrap();
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("client-ca/ca.key") && err.contains("does not belong"), "{err}");
}

/// Replace the client intermediate's certificate with one for the same key but other properties.
fn replace_client_ca(pki: &TestPki, edit: impl FnOnce(&mut rcgen::CertificateParams)) {
    let root = ca_issuer(pki, "root");
    let (key, _) = pgharden_pki::key::load_key(&pki.path("client-ca/ca.key"), None).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, "client-ca");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(10);
    params.not_after = now + time::Duration::days(10);
    edit(&mut params);
    let cert = params.signed_by(&key, &root).unwrap();
    fs::write(pki.path("client-ca/ca.crt"), cert.pem()).unwrap();
}

#[test]
fn an_expired_or_future_or_non_ca_issuer_issues_nothing() {
    let pki = TestPki::bare("p256");
    replace_client_ca(&pki, |p| p.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("client-ca/ca.crt") && err.contains("expired"), "{err}");

    replace_client_ca(&pki, |p| p.not_before = time::OffsetDateTime::now_utc() + time::Duration::days(1));
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("not valid until"), "{err}");

    replace_client_ca(&pki, |p| p.is_ca = rcgen::IsCa::ExplicitNoCa);
    let err = pki.fails(&["pki", "client", "--role", "bob"], 2);
    assert!(err.contains("client-ca/ca.crt") && err.contains("not a CA"), "{err}");
    assert!(!pki.path("clients/bob/client.crt").exists());
}

#[test]
fn a_leaf_cannot_outlive_its_issuer_and_bad_names_are_refused() {
    let pki = TestPki::bare("p256");
    let err = pki.fails(&["pki", "client", "--role", "bob", "--days", "4000"], 2);
    assert!(err.contains("--days") && err.contains("outlive"), "{err}");
    let err = pki.fails(&["pki", "server", "--host", "not a host"], 2);
    assert!(err.contains("not a host"), "{err}");
    let err = pki.fails(&["pki", "client", "--role", &"r".repeat(64)], 2);
    assert!(err.contains("63 bytes"), "{err}");
    let err = pki.fails(&["pki", "client", "--role", "../../etc"], 2);
    assert!(err.contains("--name"), "{err}");
    pki.ok(&["pki", "client", "--role", "../../etc", "--name", "dots"]);
}

#[test]
fn revocation_is_recorded_and_published() {
    let pki = TestPki::new("p256");
    let serial = pki.serial("clients/bob/client.crt");
    let pasted = serial
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let out = pki.ok(&["pki", "revoke", "--serial", &format!("serial={pasted}"), "--reason", "superseded"]);
    assert!(out.contains(&serial) && out.contains("client-ca/crl.pem"), "{out}");
    let list: serde_json::Value = serde_json::from_str(&pki.ok(&["pki", "list", "--json"])).unwrap();
    let bob = list.as_array().unwrap().iter().find(|e| e["serial"] == serial.as_str()).unwrap();
    assert_eq!(bob["status"], "revoked");
    assert_eq!(bob["revoked"]["reason"], "superseded");
    let (_, crl) = openssl(&["crl", "-in", &pki.p("client-ca/crl.pem"), "-noout", "-text"]);
    assert!(crl.to_lowercase().contains(&serial), "{crl}");

    let root = pki.serial("root/ca.crt");
    let err = pki.fails(&["pki", "revoke", "--serial", &root], 2);
    assert!(err.contains("root CA cannot be revoked"), "{err}");
    let err = pki.fails(&["pki", "revoke", "--serial", "abcdef"], 2);
    assert!(err.contains("abcdef") && err.contains("ledger"), "{err}");
    let err = pki.fails(&["pki", "revoke", "--serial", "abc", "--reason", "boredom"], 2);
    assert!(err.contains("boredom") && err.contains("key-compromise"), "{err}");

    // Revoking an intermediate CA lands in the root's CRL and stops it issuing.
    let inter = pki.serial("client-ca/ca.crt");
    pki.ok(&["pki", "revoke", "--serial", &inter, "--reason", "ca-compromise"]);
    let (_, root_crl) = openssl(&["crl", "-in", &pki.p("root/crl.pem"), "-noout", "-text"]);
    assert!(root_crl.to_lowercase().contains(&inter), "{root_crl}");
    let err = pki.fails(&["pki", "client", "--role", "carol"], 2);
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn crl_reissue_bumps_numbers_and_validity() {
    let pki = TestPki::bare("p256");
    let number = |rel: &str| {
        let (_, t) = openssl(&["crl", "-in", &pki.p(rel), "-noout", "-crlnumber"]);
        t.trim().to_string()
    };
    let before = number("root/crl.pem");
    pki.ok(&["pki", "crl"]);
    let after = number("root/crl.pem");
    assert_ne!(before, after);
    let bundle = fs::read_to_string(pki.path("crls.pem")).unwrap();
    assert_eq!(bundle.matches("BEGIN X509 CRL").count(), 3);
}

#[test]
fn verify_explains_and_sets_the_exit_code() {
    let pki = TestPki::new("p256");
    let out = pki.ok(&["pki", "verify", &pki.p("servers/localhost/server.crt"), "--host", "localhost"]);
    assert!(out.contains("ACCEPTED") && out.contains("[ok  ] revocation"), "{out}");
    let out = pki.fails(&["pki", "verify", "--client", &pki.p("servers/localhost/server.crt")], 1);
    assert!(out.contains("REJECTED") && out.contains("does not allow TLS client"), "{out}");
    pki.ok(&["pki", "verify", "--client", &pki.p("clients/bob/client.crt")]);
    pki.ok(&["pki", "revoke", "--cert", &pki.p("clients/bob/client.crt")]);
    let out = pki.fails(&["pki", "verify", "--client", &pki.p("clients/bob/client.crt"), "--json"], 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    let revocation = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "revocation").unwrap();
    assert_eq!(revocation["ok"], false);
    // Without the root's CRL, PostgreSQL would reject the chain; so does verify.
    fs::write(pki.path("root/crl.pem"), fs::read(pki.path("client-ca/crl.pem")).unwrap()).unwrap();
    let out = pki.fails(&["pki", "verify", "--client", &pki.p("clients/alice/client.crt")], 1);
    assert!(out.contains("no CRL from"), "{out}");
}

#[test]
fn show_explains_files_and_names_bad_ones() {
    let pki = TestPki::new("p384");
    let out = ok(&["pki", "show", &pki.p("servers/localhost/server.crt")]);
    assert!(out.contains("localhost") && out.contains("127.0.0.1"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["pki", "show", "--json", &pki.p("root/crl.pem")])).unwrap();
    assert_eq!(json["items"][0]["type"], "crl");
    let key: serde_json::Value =
        serde_json::from_str(&ok(&["pki", "show", "--json", &pki.p("clients/bob/client.key")])).unwrap();
    assert_eq!(key["items"][0]["type"], "private_key");
    let cut = pki.tmp.path().join("cut.pem");
    let text = fs::read_to_string(pki.path("root/ca.crt")).unwrap();
    fs::write(&cut, &text[..text.len() - 40]).unwrap();
    let err = fails(&["pki", "show", cut.to_str().unwrap()], 2);
    assert!(err.contains("cut.pem"), "{err}");
}

/// Kill `pki client` while it issues many certificates: afterwards no pending file survives the
/// next open, every certificate on disk is in the ledger, and every key matches its certificate.
#[test]
fn a_killed_issue_leaves_a_consistent_directory() {
    let pki = TestPki::bare("p256");
    let roles: Vec<String> = (0..400).map(|i| format!("role{i}")).collect();
    let mut args = vec!["pki".to_string(), "client".into(), "--dir".into(), pki.p("")];
    for r in &roles {
        args.extend(["--role".into(), r.clone()]);
    }
    for delay_ms in [30u64, 120, 300] {
        let mut child = pgharden()
            .args(&args)
            .arg("--force")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        check_consistent(&pki);
    }
}

fn check_consistent(pki: &TestPki) {
    let list: serde_json::Value = serde_json::from_str(&pki.ok(&["pki", "list", "--json"])).unwrap();
    let known: std::collections::HashSet<String> =
        list.as_array().unwrap().iter().map(|e| e["serial"].as_str().unwrap().to_string()).collect();
    let clients = pki.path("clients");
    let Ok(entries) = fs::read_dir(&clients) else {
        return;
    };
    for entry in entries {
        let dir = entry.unwrap().path();
        for f in fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".pending-"), "{}: pending file survived: {name}", dir.display());
        }
        let cert = dir.join("client.crt");
        if !cert.exists() {
            continue;
        }
        let serial = pgharden_pki::serial_of_file(&cert).unwrap();
        assert!(known.contains(&serial), "{} is not in the ledger", cert.display());
        assert!(key_matches(&cert, &dir.join("client.key")), "{}: key does not match", dir.display());
    }
}

fn key_matches(cert: &Path, key: &Path) -> bool {
    let (_, a) = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-pubkey"]);
    let (_, b) = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"]);
    a == b
}

#[test]
fn completions_man_and_help_are_generated() {
    let bash = ok(&["completions", "bash"]);
    assert!(bash.contains("pgharden") && bash.contains("--key-type"), "bash completion");
    let man = ok(&["man"]);
    assert!(man.contains(".TH pgharden"), "{man}");
    let help = ok(&["pki", "init", "--help"]);
    assert!(help.contains("p384") && help.contains("FIPS"), "{help}");
    let out = run(&["pki", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut child = pgharden().args(["man"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
