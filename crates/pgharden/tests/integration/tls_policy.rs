//! The cipher policy `apply` sets, judged by what the hardened server then accepts on the wire
//! (the scanner, itself checked against `openssl s_client`): forward secrecy and approved
//! algorithms only, whatever the certificate's key type, and TLS 1.2 still usable by each.

use pgharden_testcluster::Cluster;
use pgharden_wire::{ProbeTarget, Suite, TlsVersionName};

use crate::support::{TestPki, audit_json, harden, status};

fn hardened(key_type: &str) -> (TestPki, Cluster) {
    let pki = TestPki::new(key_type);
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    harden(&cluster, &pki);
    (pki, cluster)
}

#[test]
fn every_key_type_gets_forward_secrecy_and_only_approved_suites() {
    for key_type in ["rsa2048", "p256", "ed25519"] {
        let (_pki, cluster) = hardened(key_type);
        let addr = format!("127.0.0.1:{}", cluster.port()).parse().unwrap();
        let scan = pgharden_wire::scan(&ProbeTarget::new(addr)).unwrap();
        let accepted: Vec<(TlsVersionName, &Suite)> =
            scan.accepted().map(|(v, c)| (v, Suite::by_code(c).unwrap())).collect();
        for (v, suite) in &accepted {
            assert!(
                suite.weaknesses().is_empty(),
                "{key_type}: {v} {} is accepted: {:?}",
                suite.name,
                suite.weaknesses()
            );
            assert!(*v >= TlsVersionName::Tls1_2, "{key_type}: {v} is accepted");
        }
        let tls12 = accepted.iter().filter(|(v, _)| *v == TlsVersionName::Tls1_2).count();
        assert!(tls12 > 0, "{key_type}: a TLS 1.2 client must still find a suite: {accepted:?}");
        let (_, report) = audit_json(&cluster, &[]);
        for rule in ["PGH-TLS-01", "PGH-TLS-03"] {
            assert_eq!(
                status(&report, rule),
                "pass",
                "{key_type}: {rule}: {}",
                crate::support::evidence(&report, rule)
            );
        }
    }
}
