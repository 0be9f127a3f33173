//! The database URL and TLS to the database.
//!
//! `sslmode` works as libpq's does: `disable` (plain), `prefer` (the default: TLS when
//! the server offers it), `require` (TLS or nothing; like libpq, the server's
//! certificate is not checked), and `verify-full` (TLS with the certificate checked
//! against the CA in `sslrootcert=PATH` and the host name). `require` and `prefer`
//! with `sslrootcert` check it as `verify-full` does.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::Error;

/// How the connection to the database is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-full" | "verify-ca" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode={other:?}: expected disable, prefer, require or verify-full"
            )),
        }
    }
}

fn bad(msg: String) -> Error {
    Error::Backend(msg.into())
}

/// Reads a database URL (`postgres://USER:PASS@HOST:PORT/DB?sslmode=...`) into a
/// connection configuration and the TLS connector it asks for.
pub fn parse(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), Error> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        bad(format!(
            "the database URL is not a URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        ))
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad(format!(
            "the database URL starts with {}:, expected postgres://",
            parsed.scheme()
        )));
    }
    let mut mode = SslMode::Prefer;
    let mut root: Option<PathBuf> = None;
    let mut rest: Vec<(String, String)> = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslmode" => mode = SslMode::from_str(&v).map_err(bad)?,
            "sslrootcert" => root = Some(PathBuf::from(v.as_ref())),
            _ => rest.push((k.into_owned(), v.into_owned())),
        }
    }
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&rest);
    }
    let mut config = tokio_postgres::Config::from_str(parsed.as_str())
        .map_err(|e| bad(format!("the database URL: {e}")))?;
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    if config.get_application_name().is_none() {
        config.application_name("accolade");
    }
    if mode == SslMode::VerifyFull && root.is_none() {
        return Err(bad(
            "sslmode=verify-full needs sslrootcert=PATH (the CA that signed the server's certificate)"
                .into(),
        ));
    }
    Ok((config, connector(root)?))
}

/// The database URL as it may be shown: the password replaced by `***`.
pub fn describe(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "an unreadable URL".into(),
    }
}

fn connector(root: Option<PathBuf>) -> Result<MakeRustlsConnect, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?;
    let config = match root {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// `sslmode=require` without a CA, as libpq: the channel is encrypted and the
/// handshake's signatures checked, the certificate's issuer is not.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describing_a_url_hides_its_password() {
        let d = describe("postgres://app:s3cret@db.example.edu:5432/badges?sslmode=require");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(d.contains("app:***@db.example.edu:5432/badges"), "{d}");
        assert_eq!(describe("not a url"), "an unreadable URL");
    }

    #[test]
    fn sslmode_and_rootcert_are_read_off_the_url_and_the_rest_passes_on() {
        let (c, _) =
            parse("postgres://u:p@db.example:6543/badges?sslmode=disable&connect_timeout=5")
                .expect("parse");
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
        assert_eq!(c.get_dbname(), Some("badges"));
        assert_eq!(c.get_ports(), &[6543]);
        assert_eq!(
            c.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        let (c, _) = parse("postgres://u@h/db").expect("parse");
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
        assert_eq!(c.get_application_name(), Some("accolade"));
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        let e = |u: &str| parse(u).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e("mysql://h/db").contains("expected postgres://"));
        assert!(e("postgres://h/db?sslmode=maybe").contains("expected disable, prefer"));
        assert!(e("postgres://h/db?sslmode=verify-full").contains("sslrootcert"));
        assert!(e("not a url").contains("not a URL"));
    }
}
