//! Steps 1–3: name resolution, the TCP connection, and the server's answer to an SSLRequest; the
//! chain served is read here too, without credentials, for steps 4 and 5.
//!
//! Owns: the addresses tried (libpq tries each in order), the client address the server sees
//! (which pg_hba.conf matches), and the served chain. Must not: judge certificates.

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use pgharden_pgconn::{HostName, Settings, SslMode};
use pgharden_wire::{ProbeTarget, SslAnswer};

use crate::{Step, Verdict, host_name};

/// What the network steps found.
#[derive(Debug, Default)]
pub(crate) struct NetFacts {
    /// The server address connected to.
    pub(crate) addr: Option<SocketAddr>,
    /// The client address the server sees.
    pub(crate) local: Option<IpAddr>,
    /// Whether the server answered `S`.
    pub(crate) ssl_accepted: Option<bool>,
    /// The chain served, DER, leaf first; `Err` says why there is none.
    pub(crate) chain: Option<Result<Vec<Vec<u8>>, String>>,
}

pub(crate) fn steps(settings: &Settings, timeout: Duration, steps: &mut Vec<Step>) -> NetFacts {
    let mut facts = NetFacts::default();
    let Some(host) = settings.hosts.first() else { return facts };
    let name = host_name(settings);
    let mut resolve = Step::new(1, "resolve", "name resolution");
    if settings.hosts.len() > 1 {
        resolve.saw(format!(
            "only the first of {} hosts is examined; run doctor with host= naming each one to examine the others",
            settings.hosts.len()
        ));
    }
    let addrs: Vec<SocketAddr> = if let Some(addr) = host.hostaddr {
        resolve.saw(format!("hostaddr={addr} is given: libpq connects there without resolving host"));
        if !name.is_empty() {
            resolve.saw(format!("host={name} is still the name the certificate must match (verify-full)"));
        }
        resolve.judge(Verdict::Ok, "the address is given", None);
        vec![SocketAddr::new(addr, host.port)]
    } else {
        match (name.as_str(), host.port).to_socket_addrs() {
            Ok(found) => {
                let found: Vec<SocketAddr> = found.collect();
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                resolve.saw(format!("{name} resolves to {}", shown.join(", ")));
                if found.is_empty() {
                    resolve.judge(
                        Verdict::Fail,
                        format!("{name} resolves to no address"),
                        Some(
                            "add the server's address to DNS or /etc/hosts, or give hostaddr=ADDRESS".into(),
                        ),
                    );
                } else {
                    resolve.judge(Verdict::Ok, "libpq tries these addresses in this order", None);
                }
                found
            }
            Err(e) => {
                resolve.saw(format!("resolving {name}: {e}"));
                resolve.judge(
                    Verdict::Fail,
                    format!("{name} does not resolve: psql says 'could not translate host name'"),
                    Some("check the spelling of host, or give hostaddr=ADDRESS with host= kept for verify-full".into()),
                );
                Vec::new()
            }
        }
    };
    steps.push(resolve);

    let mut tcp = Step::new(2, "tcp", "TCP connection");
    if addrs.is_empty() {
        tcp.judge(Verdict::Skipped, "no address to connect to (step 1)", None);
    }
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                let local = stream.local_addr().ok().map(|a| a.ip());
                tcp.saw(format!(
                    "connected to {addr}; the server sees this client as {}",
                    local.map_or_else(|| "an unknown address".into(), |a| a.to_string())
                ));
                facts.addr = Some(*addr);
                facts.local = local;
                break;
            }
            Err(e) => {
                tcp.saw(format!("{addr}: {e}"));
            }
        }
    }
    if facts.addr.is_some() {
        tcp.judge(Verdict::Ok, "a server listens there", None);
    } else if !addrs.is_empty() {
        tcp.judge(
            Verdict::Fail,
            "no address accepted a TCP connection: the server is down, listens elsewhere, or a firewall drops it",
            Some(format!(
                "listen_addresses = '*' (or this address) and port = {} in postgresql.conf, then restart; check the firewall",
                host.port
            )),
        );
    }
    steps.push(tcp);

    let mut ssl = Step::new(3, "ssl-request", "SSLRequest answer");
    if let Some(addr) = facts.addr {
        let mut target = ProbeTarget::new(addr).with_timeout(timeout);
        if settings.sslsni && matches!(host.name, HostName::Tcp(_)) && name.parse::<IpAddr>().is_err() {
            target = target.with_server_name(name.clone());
        }
        match pgharden_wire::ssl_request(&target) {
            Ok(SslAnswer::Accepted) => {
                ssl.saw("the server answered 'S': it speaks TLS on this port");
                ssl.judge(Verdict::Ok, "TLS is available", None);
                facts.ssl_accepted = Some(true);
                facts.chain = Some(
                    pgharden_wire::server_certificate_chain(&target)
                        .map(|f| f.chain)
                        .map_err(|e| e.to_string()),
                );
            }
            Ok(SslAnswer::Refused) => {
                ssl.saw("the server answered 'N': TLS is off (ssl = off)");
                facts.ssl_accepted = Some(false);
                let verdict =
                    if settings.sslmode >= SslMode::Require { Verdict::Fail } else { Verdict::Warn };
                ssl.judge(
                    verdict,
                    "without TLS the connection (and any password) crosses the network in plaintext; \
                     psql says 'server does not support SSL, but SSL was required'",
                    Some("ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf (pgharden apply sets them), then reload".into()),
                );
            }
            Ok(SslAnswer::Error(m)) => {
                ssl.saw(format!("the server answered with an error: {m}"));
                ssl.judge(
                    Verdict::Fail,
                    "the server refused the request itself (out of connection slots?)",
                    None,
                );
            }
            Err(e) => {
                ssl.saw(format!("no answer: {e}"));
                ssl.judge(Verdict::Fail, "this port does not answer like PostgreSQL", None);
            }
        }
    } else {
        ssl.judge(Verdict::Skipped, "no TCP connection (step 2)", None);
    }
    steps.push(ssl);
    facts
}
