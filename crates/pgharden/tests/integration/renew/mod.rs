//! `pgharden renew` end to end: a hardened PostgreSQL 15 whose clock, with pgharden's and the
//! clients', is moved by libfaketime ([`pgharden_testcluster::FakeClock`]) to where CRLs and certificates
//! run out, and what renew must do there: refresh them, deploy them with a reload (never a
//! restart), prove it, change nothing on a second run, and survive being killed at any point.
//!
//! One group per file; the harness is `support` (a hardened cluster, its PKI and the clock).
//! Each test has its own cluster and clock: moving the clock of a shared one would change what
//! every other test sees.

mod client_certificates;
mod crash;
mod crl;
mod encrypted_key;
mod idempotent;
mod lockout;
mod server_certificate;
mod support;
