//! One module per top-level command.

pub mod apply;
pub mod audit;
pub mod client;
pub mod deploy;
pub mod lock;
pub mod man;
pub mod pki;
pub mod probe;
pub mod quickstart;
pub mod renew;
pub mod rls;
