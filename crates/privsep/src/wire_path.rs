//! Paths as bytes on the wire: Unix paths need not be UTF-8, and serde's own `PathBuf` support
//! refuses those that are not.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(path.as_os_str().as_bytes())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let bytes: Vec<u8> = Deserialize::deserialize(d)?;
    Ok(PathBuf::from(OsString::from_vec(bytes)))
}

/// The same for `Option<PathBuf>`.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match path {
            Some(p) => s.serialize_some(p.as_os_str().as_bytes()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        let bytes: Option<Vec<u8>> = Deserialize::deserialize(d)?;
        Ok(bytes.map(|b| PathBuf::from(OsString::from_vec(b))))
    }
}
