//! Where the CA key passphrase comes from: `--passphrase-file`, else `PGHARDEN_CA_PASSPHRASE`, else
//! the systemd credential [`CREDENTIAL`] (in `$CREDENTIALS_DIRECTORY`, where systemd puts what a
//! unit's `LoadCredential=` loads), else a prompt on the terminal (never echoed). Without any of
//! them and no terminal, a clear error that names them all.
//! The server key's passphrase (`apply --server-key-passphrase-file`) comes from that file, else
//! the systemd credential [`SERVER_KEY_CREDENTIAL`], else nowhere (the key is not newly encrypted).
//! Must not: print, log or keep the passphrase beyond the [`Passphrase`] it returns.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use pgharden_pki::Passphrase;

/// The environment variable holding the CA passphrase.
pub(crate) const ENV: &str = "PGHARDEN_CA_PASSPHRASE";

/// The name of the systemd credential holding the CA passphrase (`LoadCredential=NAME:FILE`).
pub(crate) const CREDENTIAL: &str = "pgharden-ca-passphrase";

/// The name of the systemd credential holding the server key's passphrase.
pub(crate) const SERVER_KEY_CREDENTIAL: &str = "pgharden-server-key-passphrase";

/// The variable systemd sets to the directory holding a service's credentials.
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// A passphrase for an existing encrypted CA.
pub(crate) fn obtain(file: Option<&Path>) -> anyhow::Result<Passphrase> {
    if let Some(path) = file {
        return Ok(Passphrase::from_file(path)?);
    }
    if let Ok(value) = std::env::var(ENV) {
        return Passphrase::new(value).with_context(|| format!("{ENV} is set but empty"));
    }
    if let Some(dir) = std::env::var_os(CREDENTIALS_DIRECTORY)
        && let Some(pass) = from_credentials(Path::new(&dir))?
    {
        return Ok(pass);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the CA keys are encrypted: give --passphrase-file FILE, set {ENV}, or load the systemd \
             credential {CREDENTIAL} (LoadCredential=, found in ${CREDENTIALS_DIRECTORY}); there is no \
             terminal to ask on"
        );
    }
    let secret = rpassword::prompt_password("CA key passphrase: ").context("reading the passphrase")?;
    Ok(Passphrase::new(secret)?)
}

/// The passphrase to encrypt the server key under: the first line of `file`, else the systemd
/// credential [`SERVER_KEY_CREDENTIAL`]; `None` when neither is given.
pub(crate) fn server_key(file: Option<&Path>) -> anyhow::Result<Option<Passphrase>> {
    if let Some(path) = file {
        return Passphrase::from_file(path)
            .map(Some)
            .with_context(|| format!("reading the server key passphrase from {}", path.display()));
    }
    match std::env::var_os(CREDENTIALS_DIRECTORY) {
        Some(dir) => credential(Path::new(&dir), SERVER_KEY_CREDENTIAL),
        None => Ok(None),
    }
}

/// The credential file in a service's credentials directory.
#[cfg(test)]
fn credential_file(dir: &Path) -> std::path::PathBuf {
    dir.join(CREDENTIAL)
}

/// The passphrase in `dir`'s [`CREDENTIAL`] file (its first line, as `--passphrase-file` reads),
/// or `None` when the directory holds no such credential (the service was given others).
fn from_credentials(dir: &Path) -> anyhow::Result<Option<Passphrase>> {
    credential(dir, CREDENTIAL)
}

/// The passphrase in credential `name` of `dir`, `None` when there is no such credential.
fn credential(dir: &Path, name: &str) -> anyhow::Result<Option<Passphrase>> {
    let path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the systemd credential {}", path.display())),
        Ok(_) => Passphrase::from_file(&path)
            .map(Some)
            .with_context(|| format!("reading the systemd credential {name}")),
    }
}

/// A new passphrase for `pki init`, asked twice on a terminal.
pub(crate) fn choose(file: Option<&Path>) -> anyhow::Result<Passphrase> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use pgharden_pki::KeyType;
    use pgharden_pki::key::{key_pem, load_key};

    /// A key file encrypted with `secret`: a passphrase is right when it opens it.
    fn key_locked_with(dir: &Path, secret: &str) -> std::path::PathBuf {
        let key = KeyType::P256.generate().unwrap();
        let pem = key_pem(&key, Some(&Passphrase::new(secret).unwrap())).unwrap();
        let path = dir.join("ca.key");
        std::fs::write(&path, pem.as_bytes()).unwrap();
        path
    }

    #[test]
    fn the_credential_is_the_first_line_of_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let key = key_locked_with(tmp.path(), "correct horse battery");
        let creds = tmp.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(credential_file(&creds), "correct horse battery\nnot part of it\n").unwrap();
        let pass = from_credentials(&creds).unwrap().expect("the credential is found");
        load_key(&key, Some(&pass)).expect("the credential's first line opens the key");

        std::fs::write(credential_file(&creds), "correct horse battery staple\n").unwrap();
        let other = from_credentials(&creds).unwrap().unwrap();
        assert!(load_key(&key, Some(&other)).is_err(), "a different line is a different passphrase");
    }

    #[test]
    fn the_server_key_credential_is_its_own_and_a_file_wins() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(CREDENTIAL), "the CA's\n").unwrap();
        assert!(credential(tmp.path(), SERVER_KEY_CREDENTIAL).unwrap().is_none(), "not the CA's");
        std::fs::write(tmp.path().join(SERVER_KEY_CREDENTIAL), "server key passphrase\n").unwrap();
        let pass = credential(tmp.path(), SERVER_KEY_CREDENTIAL).unwrap().unwrap();
        assert_eq!(pass.file_contents().as_slice(), b"server key passphrase\n");
        let file = tmp.path().join("given");
        std::fs::write(&file, "from the file\n").unwrap();
        let pass = server_key(Some(&file)).unwrap().unwrap();
        assert_eq!(pass.file_contents().as_slice(), b"from the file\n");
        let err = format!("{:#}", server_key(Some(&tmp.path().join("absent"))).unwrap_err());
        assert!(err.contains("absent"), "{err}");
    }

    #[test]
    fn a_directory_without_the_credential_gives_none_and_an_empty_one_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(from_credentials(tmp.path()).unwrap().is_none());
        std::fs::write(credential_file(tmp.path()), "\n").unwrap();
        let err = format!("{:#}", from_credentials(tmp.path()).unwrap_err());
        assert!(err.contains(CREDENTIAL) && err.contains("empty"), "{err}");
    }
}
