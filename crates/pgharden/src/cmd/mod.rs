//! One module per top-level command.

pub mod client;
pub mod pki;
