//! Proof, over the network, that a cluster serves what was deployed: the certificate the server
//! sends in a real handshake is the one in its data directory, and a client certificate is
//! accepted through TLS.
//!
//! Owns: where to reach the server (its first TCP listen address and port, from the checked
//! `postmaster.pid`), comparing the served leaf with the expected one, and reading a refusal of the
//! client certificate (a TLS alert) apart from anything PostgreSQL says after TLS accepted it (an
//! authentication answer or a pg_hba.conf refusal both mean the certificate passed).
//! Must not: change anything, or send a password.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgharden_cluster::Cluster;
use pgharden_wire::{ClientIdentity, ProbeTarget, StartupReply};
use rustls_pki_types::CertificateDer;
use serde::Serialize;

use crate::error::{Error, Result};

/// How long a reloaded server may take before it serves the new certificate.
const SERVED_DEADLINE: Duration = Duration::from_secs(15);

/// A client certificate to offer, with the role it logs in as.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// PEM file of the client certificate (and its chain, if the server needs it).
    pub cert: PathBuf,
    /// PEM file of its private key, unencrypted.
    pub key: PathBuf,
    /// The role named in the startup message once TLS accepted the certificate.
    pub role: String,
}

/// What the handshake showed.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// Where the handshake went.
    pub address: String,
    /// Serial of the certificate the server sent, lowercase hex.
    pub served_serial: String,
    /// Whether the served certificate is the one expected.
    pub serves_expected: bool,
    /// `Some(true)`: the client certificate got through TLS; `None`: none was offered.
    pub client_certificate_accepted: Option<bool>,
    /// PostgreSQL's answer once TLS accepted the client certificate, in words.
    pub detail: String,
}

/// Where to reach the server over TCP, or `None` when it listens on no TCP address.
pub(crate) fn target_of(cluster: &Cluster) -> Option<ProbeTarget> {
    let pm = cluster.postmaster.as_ref()?;
    let first = pm.listen_addresses.split(',').map(str::trim).find(|a| !a.is_empty())?;
    let ip = match first {
        "*" | "0.0.0.0" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "::" => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => match other.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return ProbeTarget::lookup(other, pm.port).ok(),
        },
    };
    Some(ProbeTarget::new(SocketAddr::new(ip, pm.port)))
}

/// The leaf the server sends now, DER (no client certificate offered, nothing logged in).
pub(crate) fn served_leaf(target: &ProbeTarget) -> Result<Vec<u8>> {
    let facts = pgharden_wire::server_certificate_chain(target)
        .map_err(|e| Error::Proof(format!("TLS handshake with {} failed: {e}", target.addr)))?;
    facts.chain.into_iter().next().ok_or_else(|| Error::Proof(format!("{} sent no certificate", target.addr)))
}

/// Wait (up to 15 seconds) until the server sends `expected`, then offer `client`, whose
/// chain must lead to one of `roots`' CAs the server trusts.
pub(crate) fn prove(
    target: &ProbeTarget,
    expected: &[u8],
    roots: &[Vec<u8>],
    client: Option<&ClientCert>,
) -> Result<Proof> {
    let deadline = Instant::now() + SERVED_DEADLINE;
    let served = loop {
        let served = served_leaf(target)?;
        if served == expected || Instant::now() > deadline {
            break served;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let served_serial = serial_of(&served);
    if served != expected {
        return Err(Error::Proof(format!(
            "{} still serves certificate {served_serial}, not {} that was deployed",
            target.addr,
            serial_of(expected)
        )));
    }
    let mut proof = Proof {
        address: target.addr.to_string(),
        served_serial,
        serves_expected: true,
        client_certificate_accepted: None,
        detail: "no client certificate offered".into(),
    };
    if let Some(client) = client {
        let (accepted, detail) = offer(target, roots, client)?;
        if !accepted {
            return Err(Error::Proof(format!(
                "{} refuses the client certificate {}: {detail}",
                target.addr,
                client.cert.display()
            )));
        }
        proof.client_certificate_accepted = Some(true);
        proof.detail = detail;
    }
    Ok(proof)
}

/// Offer the client certificate; `(accepted, what the server said)`.
fn offer(target: &ProbeTarget, roots: &[Vec<u8>], client: &ClientCert) -> Result<(bool, String)> {
    let identity = ClientIdentity::from_pem_files(&client.cert, &client.key)
        .map_err(|e| Error::Proof(format!("client certificate for the proof: {e}")))?;
    let roots: Vec<CertificateDer<'_>> = roots.iter().map(|r| CertificateDer::from(r.as_slice())).collect();
    let answer = pgharden_wire::tls_startup(target, &client.role, "postgres", Some(&roots), Some(&identity))
        .map_err(|e| Error::Proof(format!("TLS with a client certificate to {}: {e}", target.addr)))?;
    Ok(match &answer.answer.reply {
        StartupReply::TlsAlert(alert) => (false, format!("TLS alert {}", alert.name())),
        StartupReply::Authentication(auth) => {
            (true, format!("TLS accepted it; PostgreSQL answered {}", auth.describe()))
        }
        StartupReply::Refused(msg) => (
            true,
            format!("TLS accepted it; PostgreSQL then refused the login as {}: {}", client.role, msg.message),
        ),
        other => (false, format!("unexpected answer {other:?}")),
    })
}

/// The serial of a DER certificate, lowercase hex (`?` when it does not parse).
pub(crate) fn serial_of(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    // In the ledger's form (no sign byte: DER gives a serial with its high bit set a leading 00), so
    // it compares equal to the serial the PKI, the plan and openssl print.
    X509Certificate::from_der(der)
        .ok()
        .and_then(|(_, c)| pgharden_pki::normalize_serial(&hex::encode(c.raw_serial())).ok())
        .unwrap_or_else(|| "?".into())
}
