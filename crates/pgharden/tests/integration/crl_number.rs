//! `pgharden pki crl` and `pki revoke` refuse a CRL number that cannot grow (u64::MAX in a
//! hand-edited ledger): exit 2, the CA named, and the ledger and every CRL left as they were.

use std::fs;

use crate::support::TestPki;

fn set_crl_number(pki: &TestPki, ca: &str, value: u64) {
    let path = pki.path("ledger.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    doc["crl_numbers"][ca] = serde_json::Value::from(value);
    fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

fn files(pki: &TestPki) -> Vec<Vec<u8>> {
    ["ledger.json", "root/crl.pem", "server-ca/crl.pem", "client-ca/crl.pem", "crls.pem"]
        .iter()
        .map(|rel| fs::read(pki.path(rel)).unwrap())
        .collect()
}

#[test]
fn an_exhausted_crl_number_is_refused_and_changes_nothing() {
    let pki = TestPki::new("p256");
    set_crl_number(&pki, "root", u64::MAX);
    let before = files(&pki);
    let text = pki.fails(&["pki", "crl"], 2);
    assert!(
        text.contains(
            "ledger.json: the CRL number of root has reached 18446744073709551615; it cannot grow further: start a new CA"
        ),
        "{text}"
    );
    assert_eq!(files(&pki), before, "ledger and CRLs unchanged");

    set_crl_number(&pki, "root", 3);
    set_crl_number(&pki, "client_ca", u64::MAX);
    let before = files(&pki);
    let serial = pki.serial("clients/bob/client.crt");
    let text = pki.fails(&["pki", "revoke", "--serial", &serial, "--reason", "key-compromise"], 2);
    assert!(text.contains("the CRL number of client-ca has reached 18446744073709551615"), "{text}");
    assert_eq!(files(&pki), before, "bob is not recorded as revoked, no CRL written");
    let list = pki.ok(&["pki", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&list).unwrap();
    let bob = entries.as_array().unwrap().iter().find(|e| e["serial"] == serial.as_str()).unwrap();
    assert_eq!(bob["status"], "valid", "{bob:#}");
}
