//! `pgharden audit` and `pgharden probe` against real PostgreSQL 15 clusters: a fresh cluster fails
//! where it should, an applied one passes every automated cluster rule, and the reports are usable.

use std::fs;
use std::process::Stdio;

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, pgharden};

// The XCCDF fixture the audit crate's tests build from its STIG facts (crates/audit/tests/data).
#[path = "../../../audit/tests/support/stig.rs"]
mod stig;

fn audit(cluster: &Cluster, extra: &[&str]) -> (Option<i32>, String) {
    let out = pgharden()
        .args(["audit", "--pgdata", cluster.data_dir().to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn findings(cluster: &Cluster, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    // The report alone: notes (rules not checked, say) go to stderr.
    let out = pgharden()
        .args(["audit", "--pgdata", cluster.data_dir().to_str().unwrap()])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["format"], 1);
    report["findings"].as_array().unwrap().clone()
}

fn status_of<'a>(findings: &'a [serde_json::Value], rule: &str) -> &'a str {
    findings.iter().find(|f| f["rule"] == rule).unwrap_or_else(|| panic!("{rule} missing"))["status"]
        .as_str()
        .unwrap()
}

#[test]
fn a_fresh_cluster_fails_and_an_applied_one_passes() {
    let pki = TestPki::new("p384");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = audit(&cluster, &["--scope", "cluster"]);
    assert_eq!(code, Some(1), "{text}");
    let fresh = findings(&cluster, &["--scope", "cluster"]);
    let failing: Vec<&str> =
        fresh.iter().filter(|f| f["status"] == "fail").map(|f| f["rule"].as_str().unwrap()).collect();
    for area in ["tls", "logging", "audit", "authentication"] {
        assert!(
            fresh.iter().any(|f| f["area"] == area && f["status"] == "fail"),
            "no {area} gap found: {failing:?}"
        );
    }
    let evidence: String = fresh
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(evidence.contains("trust"), "the trust lines of initdb are named");
    assert!(evidence.contains("plaintext startup accepted"), "the probe saw plaintext accepted");

    crate::support::harden(&cluster, &pki);

    let (code, text) = audit(&cluster, &["--scope", "cluster"]);
    assert_eq!(code, Some(0), "{text}");
    let applied = findings(&cluster, &["--scope", "cluster"]);
    let bad: Vec<String> = applied
        .iter()
        .filter(|f| f["status"] == "fail" || f["status"] == "not-checked")
        .map(|f| format!("{} {}: {:?}", f["rule"], f["status"], f["evidence"]))
        .collect();
    assert!(bad.is_empty(), "after apply every automated cluster rule passes: {bad:#?}");
    assert!(applied.iter().all(|f| f["scope"] == "cluster"));
    for rule in &failing {
        assert_ne!(status_of(&applied, rule), "fail", "{rule}");
    }
    let evidence: String = applied
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(evidence.contains("plaintext startup refused"), "{evidence}");
    assert!(evidence.contains("TLS without a client certificate refused"), "{evidence}");

    // Host rules report the host's real state, in their own scope.
    let all = findings(&cluster, &[]);
    let fips_on =
        fs::read_to_string("/proc/sys/crypto/fips_enabled").map(|t| t.trim() == "1").unwrap_or(false);
    let host_fail = all.iter().any(|f| f["scope"] == "host" && f["status"] == "fail");
    assert_eq!(host_fail, !fips_on, "FIPS rules must follow /proc/sys/crypto/fips_enabled");

    // SARIF and CKL reports from the same run.
    let dir = pki.tmp.path();
    let sarif = dir.join("audit.sarif");
    let (_, text) = audit(&cluster, &["--format", "sarif", "--output", sarif.to_str().unwrap()]);
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&sarif).unwrap()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(json["version"], "2.1.0");
    // The PGS9 benchmark: the fixture, and with PGHARDEN_STIG_DIR also DISA's own file.
    let fixture = dir.join("pgs9-xccdf.xml");
    fs::write(&fixture, stig::xccdf(&stig::facts("pgs9"))).unwrap();
    let mut benches = vec![fixture];
    if let Some(disa) = stig::disa_dir() {
        benches.push(disa.join(stig::facts("pgs9").file));
    }
    for bench in &benches {
        let ckl = dir.join("audit.ckl");
        let (_, text) = audit(
            &cluster,
            &["--format", "ckl", "--benchmark", bench.to_str().unwrap(), "--output", ckl.to_str().unwrap()],
        );
        let xml = fs::read_to_string(&ckl).unwrap_or_else(|e| panic!("{}: {e}: {text}", bench.display()));
        assert_eq!(xml.matches("<VULN>").count(), 110, "{}", bench.display());
        assert!(xml.contains("<STATUS>NotAFinding</STATUS>"), "passing rules are NotAFinding");
        if host_fail {
            assert!(xml.contains("<STATUS>Open</STATUS>"), "the failing FIPS rules are Open");
        }
        assert!(xml.contains("<ATTRIBUTE_DATA>PGS9-00-000100</ATTRIBUTE_DATA>"));
    }
}

#[test]
fn probe_reports_the_network_facts() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    crate::support::install_server_tls(&cluster, &pki, "localhost");
    cluster
        .write_hba(
            "local all all trust\nhostssl all all 127.0.0.1/32 cert\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .unwrap();
    cluster.reload().unwrap();
    let out = pgharden()
        .args([
            "probe",
            &format!("localhost:{}", cluster.port()),
            "--sslrootcert",
            &pki.p("root/ca.crt"),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &doc["targets"][0];
    assert_eq!(report["plaintext_startup"]["refused_by_hba"], true, "{report:#}");
    assert_eq!(report["certless_startup"]["refused_by_hba"], true, "{report:#}");
    assert_eq!(report["chain"]["source"]["version"], "TLSv1.3");
    let full = &report["chain"]["verify_full"];
    assert_eq!((&full["accepted"], &full["crls_checked"]), (&true.into(), &false.into()), "{report:#}");
    let versions = report["scan"]["versions"].as_array().unwrap();
    assert!(versions.iter().any(|v| v["version"] == "TLSv1.1" && v["verdict"] == "refused"), "{versions:?}");
    assert!(versions.iter().any(|v| v["version"] == "TLSv1.2" && v["verdict"] == "accepted"), "{versions:?}");

    // openssl s_client sees the same chain and version.
    let s_client = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "postgres",
            "-connect",
            &format!("127.0.0.1:{}", cluster.port()),
            "-showcerts",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&s_client.stdout);
    assert!(text.contains("Protocol  : TLSv1.3") || text.contains("TLSv1.3"), "{text}");
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "leaf and intermediate are served");
    let fs_chain = fs::read_to_string(pki.path("servers/localhost/server.crt")).unwrap();
    let served: String =
        text.lines().filter(|l| !l.starts_with(' ') || l.starts_with("-----")).collect::<Vec<_>>().join("\n");
    assert!(served.contains(fs_chain.lines().nth(1).unwrap()), "s_client's chain is the server.crt bundle");
}

/// `probe` and testssl.sh agree on which TLS versions a server accepts, hardened and permissive.
#[test]
fn probe_agrees_with_testssl_on_tls_versions() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    crate::support::install_server_tls(&cluster, &pki, "localhost");
    cluster.reload().unwrap();
    let ours = |cluster: &Cluster| -> Vec<(String, bool)> {
        let out =
            pgharden().args(["probe", &format!("127.0.0.1:{}", cluster.port()), "--json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["targets"][0]["scan"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_str().unwrap().to_string(), v["verdict"] == "accepted"))
            .collect()
    };
    let theirs = |cluster: &Cluster| -> Vec<(String, bool)> {
        let out = std::process::Command::new("testssl")
            .args([
                "--quiet",
                "--color",
                "0",
                "--protocols",
                "--starttls",
                "postgres",
                &format!("127.0.0.1:{}", cluster.port()),
            ])
            .stdin(Stdio::null())
            .output()
            .expect("testssl is installed (apt-get install testssl.sh)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        [("TLS 1", "TLSv1"), ("TLS 1.1", "TLSv1.1"), ("TLS 1.2", "TLSv1.2"), ("TLS 1.3", "TLSv1.3")]
            .iter()
            .map(|(label, name)| {
                let prefix = format!("{label} ");
                let line = text
                    .lines()
                    .map(str::trim_start)
                    .find(|l| l.starts_with(&prefix))
                    .unwrap_or_else(|| panic!("{label}: {text}"));
                (name.to_string(), line.contains("offered") && !line.contains("not offered"))
            })
            .collect()
    };
    assert_eq!(ours(&cluster), theirs(&cluster));
    cluster.append_conf("ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'DEFAULT:@SECLEVEL=0'\n").unwrap();
    cluster.reload().unwrap();
    let permissive = ours(&cluster);
    assert!(permissive.iter().any(|(v, ok)| v == "TLSv1.1" && *ok), "{permissive:?}");
    assert_eq!(permissive, theirs(&cluster));
}

/// Without a superuser and without the files, what cannot be decided says so — never "pass".
#[test]
fn an_unprivileged_audit_says_not_checked_instead_of_pass() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    cluster.psql("CREATE ROLE bob LOGIN").unwrap();
    crate::support::harden(&cluster, &pki);
    let conninfo = format!(
        "host=localhost port={} user=bob dbname=postgres sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("clients/bob/client.crt"),
        pki.p("clients/bob/client.key")
    );
    let out =
        pgharden().args(["audit", &conninfo, "--format", "json", "--scope", "cluster"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"].as_array().unwrap();
    let md5: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| {
            f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap().contains("needs a superuser"))
        })
        .collect();
    assert!(!md5.is_empty(), "the password-hash rule explains it needs a superuser");
    assert!(md5.iter().all(|f| f["status"] == "not-checked"), "{md5:#?}");
    // Why the files could not be read is said once, in the report's problems, and every file rule
    // points there instead of repeating it.
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].as_str().unwrap().contains("cannot be located"), "{problems:#?}");
    let files: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| {
            f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap().contains("see the report's problems"))
        })
        .collect();
    assert!(!files.is_empty(), "file rules explain why they could not look");
    assert!(files.iter().all(|f| f["status"] != "pass"), "{files:#?}");
    // What an unprivileged role can see is still judged: settings and the network.
    assert!(findings.iter().any(|f| f["status"] == "pass"));
}
