//! Running server tools (`initdb`, `pg_ctl`, `pg_ctlcluster`) to completion and reporting what they
//! printed.
//!
//! Owns: collecting a tool's output in bounded memory (the binaries come from the server's own
//! directory, which the cluster owner may control) and turning a failure into an error that carries
//! that output. Commands are built by [`pgharden_privsep::Account::command`], which gives them the
//! owner's credentials and a clean environment. Must not: decide what to run.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The most of a tool's output kept for the error message.
const MAX_OUTPUT: u64 = 64 << 10;

/// Run a server tool to completion; a failure carries what it printed.
pub(crate) fn run(mut cmd: Command, what: &str) -> Result<()> {
    let failed = |output: String| Error::Command { command: what.into(), output };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || capped(stdout));
    let err_text = capped(stderr);
    let out_text = reader.join().unwrap_or_default();
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let printed = format!("{out_text}{err_text}");
    let printed = printed.trim();
    Err(failed(if printed.is_empty() { status.to_string() } else { printed.to_string() }))
}

/// What a pipe carried, at most [`MAX_OUTPUT`] bytes of it; the rest is read and dropped so the
/// tool never blocks on a full pipe.
fn capped(pipe: Option<impl Read>) -> String {
    let Some(mut pipe) = pipe else { return String::new() };
    let mut kept = Vec::new();
    let _ = pipe.by_ref().take(MAX_OUTPUT).read_to_end(&mut kept);
    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    String::from_utf8_lossy(&kept).into_owned()
}
