//! The JSON report: [`Report`] serialised as is, pretty-printed, with its schema version.
//!
//! Owns: the JSON output (`--format json`). The schema is the serde form of [`crate::model`];
//! its `format` field is always [`REPORT_FORMAT`], the version of the schema this build writes.
//! Must not: add, drop or rename fields here: the schema changes only in `model.rs`, together
//! with a bump of [`REPORT_FORMAT`].

use super::pretty_json;
use crate::model::{REPORT_FORMAT, Report};

/// Renders `report` as pretty JSON (ending with a newline). `format` is [`REPORT_FORMAT`]
/// whatever the report carried, since it names the schema of these bytes.
pub fn json(report: &Report) -> String {
    if report.format == REPORT_FORMAT {
        pretty_json(report)
    } else {
        pretty_json(&Report { format: REPORT_FORMAT, ..report.clone() })
    }
}
