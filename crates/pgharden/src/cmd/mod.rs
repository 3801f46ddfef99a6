//! One module per top-level command.

pub mod apply;
pub mod client;
pub mod pki;
pub mod quickstart;
