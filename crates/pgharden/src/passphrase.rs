//! Where the CA key passphrase comes from: `--passphrase-file`, else `PGHARDEN_CA_PASSPHRASE`, else a
//! prompt on the terminal (never echoed). Without any of them and no terminal, a clear error.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use pgharden_pki::Passphrase;

/// The environment variable holding the CA passphrase.
pub const ENV: &str = "PGHARDEN_CA_PASSPHRASE";

/// A passphrase for an existing encrypted CA.
pub fn obtain(file: Option<&Path>) -> anyhow::Result<Passphrase> {
    if let Some(path) = file {
        return Ok(Passphrase::from_file(path)?);
    }
    if let Ok(value) = std::env::var(ENV) {
        return Passphrase::new(value).with_context(|| format!("{ENV} is set but empty"));
    }
    if !std::io::stdin().is_terminal() {
        bail!("the CA keys are encrypted: give --passphrase-file FILE or set {ENV} (no terminal to ask on)");
    }
    let secret = rpassword::prompt_password("CA key passphrase: ").context("reading the passphrase")?;
    Ok(Passphrase::new(secret)?)
}

/// A new passphrase for `pki init`, asked twice on a terminal.
pub fn choose(file: Option<&Path>) -> anyhow::Result<Passphrase> {
    if file.is_some() || std::env::var_os(ENV).is_some() {
        return obtain(file);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "choose how to protect the CA keys: --passphrase-file FILE, the {ENV} environment variable, \
             or --no-passphrase (keys stored unencrypted)"
        );
    }
    let first = rpassword::prompt_password("New CA key passphrase: ").context("reading the passphrase")?;
    let again = rpassword::prompt_password("Repeat the passphrase: ").context("reading the passphrase")?;
    if first != again {
        bail!("the two passphrases differ");
    }
    if first.chars().count() < 12 {
        bail!("the passphrase must be at least 12 characters long");
    }
    Ok(Passphrase::new(first)?)
}
