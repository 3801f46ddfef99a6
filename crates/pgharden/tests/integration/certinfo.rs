//! sslyze's certificate scan, a peer that parses certificates with Python `cryptography`, against a
//! cluster hardened by `pgharden apply`: it runs clean, reads the chain the server serves and
//! validates it against the PKI's root. (A leaf whose basicConstraints was not DER crashed it.)

#[path = "../../../pki/tests/support/venv.rs"]
mod venv;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pgharden_testcluster::Cluster;
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::support::{TestPki, harden, run_bounded};

/// sslyze retries a silent server a few times with its own 5 s timeout; this only stops a hang.
const SSLYZE_LIMIT: Duration = Duration::from_secs(180);

/// The first certificate of a PEM file: (its DER, its serial as lowercase hex without leading zeros).
fn first_certificate(pem_text: &[u8]) -> (Vec<u8>, String) {
    let block = Pem::iter_from_buffer(pem_text)
        .map(Result::unwrap)
        .find(|b| b.label == "CERTIFICATE")
        .expect("a CERTIFICATE block");
    let hex: String = {
        let (_, cert) = X509Certificate::from_der(&block.contents).unwrap();
        cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect()
    };
    (block.contents, hex.trim_start_matches('0').to_string())
}

#[test]
fn sslyze_certinfo_reads_the_chain_a_hardened_cluster_serves() {
    let pki = TestPki::new("p384");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    harden(&cluster, &pki);
    let served = fs::read(cluster.data_dir().join("server.pem")).unwrap();
    let (served_der, served_serial) = first_certificate(&served);
    let issued = pki.serial("servers/localhost/server.crt");
    assert_eq!(served_serial, issued.trim_start_matches('0'), "apply serves the PKI's server certificate");

    let json_path = pki.tmp.path().join("sslyze.json");
    let root = pki.p("root/ca.crt");
    let target = format!("127.0.0.1:{}", cluster.port());
    let mut cmd = Command::new(venv::sslyze());
    cmd.args(["--certinfo", &target, "--starttls", "postgres", "--certinfo_ca_file", &root])
        .arg(format!("--json_out={}", json_path.display()));
    let run = run_bounded(&mut cmd, SSLYZE_LIMIT);
    assert_eq!(run.code, Some(0), "sslyze: {}", run.describe());
    assert!(!run.text().contains("Traceback"), "sslyze: {}", run.describe());

    let text = fs::read_to_string(&json_path).unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let server = &report["server_scan_results"][0];
    assert_eq!(server["connectivity_status"], "COMPLETED", "{server:#}");
    let certinfo = &server["scan_result"]["certificate_info"];
    assert_eq!(certinfo["status"], "COMPLETED", "{certinfo:#}");
    assert!(certinfo["error_trace"].is_null(), "{}", certinfo["error_trace"]);
    let deployment = &certinfo["result"]["certificate_deployments"][0];
    check_received_chain(deployment, &served_der, &served_serial, &text);
    check_validation_against(deployment, Path::new(&root));
}

/// sslyze received the leaf and intermediate the server serves, leaf first, with the leaf's serial.
fn check_received_chain(deployment: &serde_json::Value, served_der: &[u8], serial: &str, raw_json: &str) {
    let chain = deployment["received_certificate_chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "leaf and server intermediate: {deployment:#}");
    let (leaf_der, leaf_serial) = first_certificate(chain[0]["as_pem"].as_str().unwrap().as_bytes());
    assert_eq!(leaf_der, served_der, "sslyze's leaf is the one in server.pem");
    assert_eq!(leaf_serial, serial);
    // sslyze writes the serial as a JSON integer, wider than serde_json's numbers: compare its digits.
    let decimal = u128::from_str_radix(serial, 16).unwrap().to_string();
    assert!(raw_json.contains(&format!("\"serial_number\": {decimal}")), "serial {decimal} not in the JSON");
    assert_eq!(deployment["received_chain_has_valid_order"], true);
}

/// The chain validates against the PKI's root, given as sslyze's custom trust store.
fn check_validation_against(deployment: &serde_json::Value, root: &Path) {
    let results = deployment["path_validation_results"].as_array().unwrap();
    let ours = results
        .iter()
        .find(|r| r["trust_store"]["path"] == root.to_str().unwrap())
        .unwrap_or_else(|| panic!("no validation against {}: {deployment:#}", root.display()));
    assert_eq!(ours["was_validation_successful"], true, "{ours:#}");
    let verified = ours["verified_certificate_chain"].as_array().unwrap();
    assert_eq!(verified.len(), 3, "localhost -> server intermediate -> root: {ours:#}");
}
