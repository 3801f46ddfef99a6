#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! The integration tests: the `pgharden` binary against real peers — the `openssl` CLI, `psql`/libpq
//! and PostgreSQL clusters started by `pgharden-testcluster`. One test binary; `support` is the shared harness.

mod apply;
mod apply_versions;
mod attacks;
mod audit;
mod audit_exit;
mod audit_rules;
mod audit_versions;
mod certinfo;
mod crl_number;
mod debian;
mod deploy;
mod doctor;
mod fidelity;
mod hba_explain;
mod levels;
mod lock;
mod matrix;
mod messages;
mod pki_cli;
mod pki_hostname;
mod pki_openssl;
mod pki_postgres;
mod printed;
mod probe;
mod quickstart;
mod renew;
mod rls;
mod server_key;
mod support;
mod systemd;
mod text_safety;
mod tls_policy;
