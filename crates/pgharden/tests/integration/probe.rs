//! `pgharden probe` against real PostgreSQL 15 servers: the words of the text report, the typed
//! `--json` (format 2), many targets at once with a dead one among them, bounded by each target's
//! timeout, `--targets FILE`, and revocation against `--sslcrl`.

use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, install_server_tls, pgharden};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn probe(args: &[&str]) -> Output {
    pgharden().arg("probe").args(args).output().unwrap()
}

/// A server with an RSA certificate that accepts TLS 1.0 and every suite, anonymous ones included.
fn permissive(pki: &TestPki) -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    install_server_tls(&cluster, pki, "localhost");
    cluster.append_conf("ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'\n").unwrap();
    cluster.reload().unwrap_or_else(|e| panic!("reload: {e}\n{}", cluster.log()));
    cluster
}

fn target(cluster: &Cluster) -> String {
    format!("127.0.0.1:{}", cluster.port())
}

/// The report's line for `label` (`TLSv1:`), trimmed.
fn line_of<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line:\n{text}"))
}

#[test]
fn the_text_report_of_a_permissive_server_is_in_words() {
    let pki = TestPki::new("rsa2048");
    let cluster = permissive(&pki);
    let out = probe(&[&target(&cluster), "--sslrootcert", &pki.p("root/ca.crt")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line_of(&text, "TLSv1:").contains("accepted"), "{text}");
    assert!(line_of(&text, "TLSv1.3:").contains("accepted"), "{text}");
    // Static RSA key exchange, named both ways, without forward secrecy.
    let static_rsa = text
        .lines()
        .find(|l| l.contains("TLS_RSA_WITH_AES_256_GCM_SHA384") && l.contains("AES256-GCM-SHA384"))
        .unwrap_or_else(|| panic!("no static-RSA row:\n{text}"));
    assert!(static_rsa.contains("no forward secrecy"), "{static_rsa}");
    let anon = text
        .lines()
        .find(|l| l.contains("TLS_DH_anon_WITH_AES_256_CBC_SHA"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(anon.contains("anonymous (no server authentication)"), "{anon}");
    // PostgreSQL 15 offers one curve, ssl_ecdh_curve (prime256v1 by default).
    assert!(text.contains("groups: secp256r1"), "{text}");
    assert!(text.contains("DHE prime: "), "{text}");
    assert!(line_of(&text, "verify-full:").ends_with("accepted (no CRLs given)"), "{text}");
    assert!(line_of(&text, "plaintext startup:").contains("admitted without a password"), "trust: {text}");
    assert!(text.contains("Summary: 1 target, 1 answered, 0 did not answer"), "{text}");
    assert!(line_of(&text, "versions older than TLS 1.2 accepted:").ends_with(": 2"), "{text}");
    for debug in ["{", "}", "Alert {", "Some(", "None", "Ok(", "Err("] {
        assert!(!text.contains(debug), "Debug text {debug:?} in:\n{text}");
    }
}

#[test]
fn json_is_format_2_with_every_suite_typed() {
    let pki = TestPki::new("rsa2048");
    let cluster = permissive(&pki);
    let out = probe(&[&target(&cluster), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], 2);
    let t = &doc["targets"][0];
    assert_eq!((&t["answered"], &t["target"]), (&true.into(), &target(&cluster).into()), "{t:#}");
    assert_eq!(t["ssl_request"]["answer"], "accepted");
    let versions = t["scan"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 4);
    let mut suites = 0;
    for v in versions {
        assert_eq!(v["verdict"], "accepted", "{v:#}");
        for s in v["suites"].as_array().unwrap() {
            let code = s["code"].as_str().unwrap();
            assert!(code.starts_with("0x") && code.len() == 6, "{s}");
            assert!(s["name"].as_str().unwrap().starts_with("TLS_"), "{s}");
            assert!(s["openssl_name"].is_string() && s["forward_secrecy"].is_boolean(), "{s}");
            suites += 1;
        }
    }
    assert!(suites > 50, "a permissive RSA server accepts dozens of suites: {suites}");
    let tls12 = &versions[2];
    let rsa = tls12["suites"].as_array().unwrap().iter().find(|s| s["code"] == "0x009d").unwrap();
    assert_eq!(
        (&rsa["forward_secrecy"], &rsa["weaknesses"][0]),
        (&false.into(), &"no-forward-secrecy".into())
    );
    let groups: Vec<&str> =
        versions[3]["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(groups, ["secp256r1"], "ssl_ecdh_curve's default, by name");
    assert_eq!(versions[3]["groups"][0]["code"], "0x0017");
    assert_eq!(t["plaintext_startup"]["refused_by_hba"], false, "{t:#}");
    assert_eq!(t["plaintext_startup"]["authentication"]["method"], "ok", "{t:#}");
    assert_eq!(t["chain"]["source"]["from"], "handshake");
    assert_eq!(t["chain"]["inspection"]["items"].as_array().unwrap().len(), 2);
    let summary = &doc["summary"];
    assert_eq!((&summary["targets"], &summary["answered"]), (&1.into(), &1.into()));
    assert!(summary["without_forward_secrecy"].as_array().unwrap().iter().any(|s| s["code"] == "0x009d"));
    assert!(summary["weak"].as_array().unwrap().iter().any(|s| s["openssl_name"] == "ADH-AES256-SHA"));
}

#[test]
fn many_targets_with_a_dead_one_print_every_report_then_exit_2() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    install_server_tls(&cluster, &pki, "localhost");
    cluster.reload().unwrap();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead); // nothing listens there now: connection refused
    let live = [target(&cluster), format!("localhost:{}", cluster.port())];
    let dead = format!("127.0.0.1:{dead_port}");
    let out = probe(&[&live[0], &dead, &live[1], "--timeout", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let starts: Vec<usize> = [&live[0], &dead, &live[1]]
        .iter()
        .map(|t| text.find(&format!("Probe of {t}")).unwrap_or_else(|| panic!("no report of {t}:\n{text}")))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "in the order given:\n{text}");
    let tls13 = text.lines().filter(|l| l.trim_start().starts_with("TLSv1.3:") && l.contains("accepted"));
    assert_eq!(tls13.count(), 2, "{text}");
    assert!(line_of(&text, "did not answer: the first contact").contains("refused"), "{text}");
    assert!(text.contains("Summary: 3 targets, 2 answered, 1 did not answer"), "{text}");
    assert!(line_of(&text, "versions older than TLS 1.2 accepted:").ends_with("none"), "{text}");
    assert!(stderr(&out).contains(&format!("1 of 3 targets did not answer: {dead}")), "{}", stderr(&out));

    let out = probe(&[&live[0], &dead, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["targets"][1]["answered"], false);
    assert!(doc["targets"][1]["error"].as_str().unwrap().contains("refused"), "{doc:#}");
    assert_eq!(doc["summary"]["failed"][0], dead.as_str());
}

#[test]
fn dead_targets_cost_one_timeout_each_in_parallel() {
    // Listeners that never accept: the kernel completes the connection, nobody ever answers.
    let silent: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let targets: Vec<String> =
        silent.iter().map(|l| format!("127.0.0.1:{}", l.local_addr().unwrap().port())).collect();
    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let out = pgharden().args(["probe", "--timeout", "2", "--jobs", "3"]).args(&targets).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for t in &targets {
        assert!(err.contains(&format!("probing {t}")), "{t}: {err}");
    }
    assert!(contains_timeout(&err), "{err}");
    // One by one they would take three timeouts; together, one (and start-up, generously).
    assert!(took < timeout * 2 + Duration::from_millis(500), "{took:?} for three dead targets: {err}");
    assert!(took >= timeout, "each waited its timeout: {took:?}");
}

fn contains_timeout(err: &str) -> bool {
    let e = err.to_lowercase();
    e.contains("did not answer an sslrequest within 2s")
}

#[test]
fn a_targets_file_skips_comments_and_blank_lines_and_names_a_bad_line() {
    let cluster = Cluster::start_default().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    std::fs::write(&file, format!("# the fleet\n\n{}  # primary\n", target(&cluster))).unwrap();
    let out = probe(&["--targets", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("Probe of ").count(), 1, "{text}");
    // ssl=off: the SSLRequest is refused and said so, and the scan's error says why.
    assert!(line_of(&text, "SSLRequest:").contains("'N' (refused)"), "{text}");

    std::fs::write(&file, format!("# the fleet\n\n{}\ndb2:notaport\n", target(&cluster))).unwrap();
    let out = probe(&["--targets", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:4: bad target \"db2:notaport\"", file.display())), "{err}");
    assert!(stdout(&out).is_empty(), "nothing is probed before the targets are read");
}

#[test]
fn sslcrl_reports_a_revoked_server_certificate() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    install_server_tls(&cluster, &pki, "localhost");
    cluster.reload().unwrap();
    let root = pki.p("root/ca.crt");
    let crls = pki.p("crls.pem");
    let args = |json: bool| {
        let mut a =
            vec![target(&cluster), "--sslrootcert".into(), root.clone(), "--sslcrl".into(), crls.clone()];
        if json {
            a.push("--json".into());
        }
        a
    };
    let run = |json: bool| {
        let a = args(json);
        probe(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line_of(&text, "#1 CN=localhost").contains("not revoked (CRL of"), "{text}");
    assert!(line_of(&text, "verify-ca:").contains("accepted (revocation checked"), "{text}");

    pki.ok(&[
        "pki",
        "revoke",
        "--cert",
        &pki.p("servers/localhost/server.crt"),
        "--reason",
        "key-compromise",
    ]);
    let text = stdout(&run(false));
    let leaf = line_of(&text, "#1 CN=localhost");
    assert!(leaf.contains("REVOKED on ") && leaf.contains("key"), "{text}");
    assert!(line_of(&text, "#2 ").contains("not revoked"), "the intermediate is not revoked:\n{text}");
    assert!(line_of(&text, "verify-full:").contains("refused: revocation"), "{text}");

    let doc: serde_json::Value = serde_json::from_slice(&run(true).stdout).unwrap();
    let chain = &doc["targets"][0]["chain"];
    assert_eq!(chain["revocation"][0]["status"], "revoked", "{chain:#}");
    assert_eq!(chain["revocation"][0]["position"], 1);
    assert_eq!(chain["revocation"][1]["status"], "not-revoked");
    assert_eq!(chain["verify_ca"]["accepted"], false);
    assert_eq!(chain["verify_ca"]["crls_checked"], true);
}
