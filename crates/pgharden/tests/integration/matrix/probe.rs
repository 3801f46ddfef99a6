//! `probe` against a hardened cluster of each major: protocol versions, direct TLS (17+), and what
//! pg_hba.conf answers to plaintext and to TLS without a client certificate.

use super::pg_test;
use crate::support::ok;

pg_test!(
    /// The network's view of a hardened server.
    probe,
    "probe: TLS 1.2/1.3 only, direct TLS exactly on 17+, plaintext and certificate-less TLS refused",
    |pg| {
        let (pki, cluster) = pg.hardened();
        let target = format!("127.0.0.1:{}", cluster.port());
        let text = ok(&["probe", &target, "--sslrootcert", &pki.p("root/ca.crt"), "--json"]);
        let json: serde_json::Value = serde_json::from_str(&text).expect("probe JSON");
        let t = &json["targets"][0];
        assert_eq!(t["answered"], true, "{t:#}");
        assert_eq!(t["ssl_request"]["answer"], "accepted", "{t:#}");
        let verdicts: Vec<(String, String)> = t["scan"]["versions"]
            .as_array()
            .expect("scan.versions")
            .iter()
            .map(|v| (v["version"].as_str().unwrap().to_owned(), v["verdict"].as_str().unwrap().to_owned()))
            .collect();
        let want: Vec<(String, String)> =
            [("TLSv1", "refused"), ("TLSv1.1", "refused"), ("TLSv1.2", "accepted"), ("TLSv1.3", "accepted")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(verdicts, want);
        for startup in ["plaintext_startup", "certless_startup"] {
            assert_eq!(t[startup]["reply"], "refused", "{startup}: {:#}", t[startup]);
            assert_eq!(t[startup]["error"]["code"], "28000", "{startup}: {:#}", t[startup]);
        }
        let direct = &t["direct_tls"];
        if pg.major() >= 17 {
            assert_eq!(direct["outcome"], "negotiated", "direct TLS on {}: {direct:#}", pg.major());
            assert_eq!(direct["alpn"], "postgresql", "{direct:#}");
            assert_eq!(direct["version"], "TLSv1.3", "{direct:#}");
        } else {
            assert_eq!(direct["outcome"], "not-supported", "no direct TLS before 17: {direct:#}");
        }
        assert_eq!(json["summary"]["failed"], serde_json::json!([]), "{:#}", json["summary"]);
        pg.note(format!("direct TLS {}", direct["outcome"].as_str().unwrap_or("?")));
    }
);
