#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HostCheck { pub matched: bool, pub matched_name: Option<String>, pub used_cn_fallback: bool, pub libpq_message: Option<String> }
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HostnameError { #[error("x")] X }
pub fn check_host(_c: &x509_parser::certificate::X509Certificate<'_>, _h: &str) -> Result<HostCheck, HostnameError> { Err(HostnameError::X) }
