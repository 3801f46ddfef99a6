//! `pgharden audit`: the STIG rule catalogue, evidence, findings and reports.

#![warn(missing_docs)]

pub mod catalogue;
mod check_id;
pub mod checks;
pub mod coverage;
pub mod evidence;
pub mod gather;
pub mod model;
pub mod network;
pub mod report;
pub mod run;
pub mod values;

pub use check_id::CheckId;
pub use model::{Area, Audited, Finding, Report, Scope, Severity, Status, StigIds};
