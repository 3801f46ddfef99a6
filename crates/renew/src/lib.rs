//! Keeping the posture alive. The STIG posture pgharden applies lives on CRLs (30 days by default)
//! and certificates (a year, or hours when short-lived); PostgreSQL refuses every client
//! certificate once a CRL of the chain has passed its next update. This crate makes that
//! self-sustaining: what is due in the PKI is re-issued, what changed is deployed to each cluster
//! with a reload (never a restart: sessions survive, the postmaster keeps its pid), and a real
//! handshake proves the server serves it — or the old files are put back.
//!
//! Owns: the renewal run ([`renew`]: schedule → re-issue → deploy → prove, or only the plan of it),
//! deploying one certificate from any CA to one cluster ([`deploy`]), and the proof
//! ([`Proof`]). Idempotent: a second run finds nothing due and changes nothing.
//! Must not: decide the TLS file layout or write cluster files itself (that is
//! `pgharden-cluster`'s TLS-only plan and `execute`), or issue certificates other than through
//! `pgharden-pki`.

#![warn(missing_docs, unreachable_pub)]

mod error;
mod prove;
mod run;

pub use error::{Error, Result};
pub use prove::{ClientCert, Proof};
pub use run::{Action, ClusterResult, Options, Redistribute, Report, deploy, renew};
