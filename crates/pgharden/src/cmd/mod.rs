//! One module per top-level command.

pub(crate) mod apply;
pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod deploy;
pub(crate) mod doctor;
pub(crate) mod hba;
pub(crate) mod lock;
pub(crate) mod man;
pub(crate) mod pki;
pub(crate) mod probe;
pub(crate) mod quickstart;
pub(crate) mod renew;
pub(crate) mod rls;
