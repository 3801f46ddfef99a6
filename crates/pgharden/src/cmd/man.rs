//! `pgharden man`: the man pages, rendered from the command-line definitions by clap_mangen.
//!
//! Owns: which pages exist (pgharden(1) and one per subcommand, named `pgharden-pki-init` and so
//! on, exactly the names the SUBCOMMANDS sections refer to) and writing them into a directory
//! without following links. Must not: define any text of its own (that is `cli`).

use std::path::Path;

use anyhow::{Context, bail};
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::output::{self, Outcome, shown};

/// The command tree as the man pages see it: built (so each subcommand's display name is
/// `pgharden-…`), without clap's `help` subcommand, which has no page of its own.
fn tree() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

pub(crate) fn run(args: &ManArgs) -> anyhow::Result<Outcome> {
    let root = tree();
    if let Some(dir) = &args.dir {
        let mut written = Vec::new();
        write_all(&root, dir, &mut written)?;
        let mut text = format!("Wrote {} man pages in {}:\n", written.len(), shown(dir.display()));
        for name in &written {
            text.push_str(&format!("  {}\n", shown(name)));
        }
        output::print(&text)?;
        return Ok(Outcome::Success);
    }
    let mut page = &root;
    for name in &args.subcommand {
        page = match page.find_subcommand(name) {
            Some(sub) => sub,
            None => {
                let known: Vec<&str> = page.get_subcommands().map(|s| s.get_name()).collect();
                if known.is_empty() {
                    bail!("{} has no subcommands, so no page {name:?}", page_name(page));
                }
                bail!("{} has no subcommand {name:?}; it has: {}", page_name(page), known.join(", "));
            }
        };
    }
    output::write_stdout(&render(page)?)?;
    Ok(Outcome::Success)
}

/// The page's name as SUBCOMMANDS sections refer to it.
pub(crate) fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string()
}

fn render(cmd: &clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("pgharden {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

/// Write the page of `cmd` and of every subcommand below it into `dir`, mode 0644, each
/// atomically and never through a link planted there.
fn write_all(cmd: &clap::Command, dir: &Path, written: &mut Vec<String>) -> anyhow::Result<()> {
    let name = format!("{}.1", page_name(cmd));
    let path = dir.join(&name);
    pgharden_privsep::local::write_named(&path, &render(cmd)?, 0o644).context("writing a man page")?;
    written.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_all(sub, dir, written)?;
    }
    Ok(())
}
