//! TLS settings for the client, checked the way etcdctl 3.4 checks `--cacert`, `--cert` and
//! `--key` (Go's `transport.TLSInfo.ClientConfig`), and applied to tonic endpoints.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::Error;

/// How the client secures its connections: whom it trusts and who it is.
///
/// Build it with [`TlsOptions::new`], which rejects a bad client certificate or key as Go's
/// `tls.X509KeyPair` does; `TlsOptions::default()` trusts the system's roots and presents no
/// client certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    ca_cert: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    insecure_skip_verify: bool,
}

impl TlsOptions {
    /// TLS with the CA certificates `ca_cert` (PEM; `None`: the system's roots), the client
    /// certificate and key `identity` (PEM), and, with `insecure_skip_verify`, no check of the
    /// server's certificate at all.
    ///
    /// Fails with [`Error::Tls`] worded as Go's `crypto/tls`
    /// (`tls: failed to find any PEM data in certificate input`,
    /// `tls: private key does not match public key`, ...). CA data without any certificate is
    /// accepted, as Go's cert pool accepts it: no server is then trusted.
    pub fn new(
        ca_cert: Option<Vec<u8>>,
        identity: Option<(Vec<u8>, Vec<u8>)>,
        insecure_skip_verify: bool,
    ) -> Result<Self, Error> {
        if let Some((cert, key)) = &identity {
            check_key_pair(cert, key)?;
        }
        Ok(TlsOptions { ca_cert, identity, insecure_skip_verify })
    }

    /// `endpoint` with this TLS configuration.
    pub(crate) fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, Error> {
        let mut config = ClientTlsConfig::new();
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        let tls_error = |e: tonic::transport::Error| Error::Tls(source_text(&e));
        if self.insecure_skip_verify {
            let verifier = Arc::new(NoServerVerification(ring::default_provider().signature_verification_algorithms));
            return endpoint.tls_config_with_verifier(config, verifier).map_err(tls_error);
        }
        config = match &self.ca_cert {
            Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config.with_native_roots(),
        };
        endpoint.tls_config(config).map_err(tls_error)
    }
}

/// The innermost message of a tonic error (tonic's own text is only "transport error").
fn source_text(err: &tonic::transport::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// Go's `tls.X509KeyPair` checks: both parse, and the key belongs to the certificate.
fn check_key_pair(cert: &[u8], key: &[u8]) -> Result<(), Error> {
    let tls = |m: &str| Error::Tls(format!("tls: {m}"));
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| tls("failed to find any PEM data in certificate input"))?;
    if chain.is_empty() {
        return Err(tls("failed to find any PEM data in certificate input"));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| tls("failed to find any PEM data in key input"))?;
    CertifiedKey::from_der(chain, key, &ring::default_provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => tls("private key does not match public key"),
        other => Error::Tls(other.to_string()),
    })?;
    Ok(())
}

/// Accepts any server certificate (Go's `InsecureSkipVerify`), while still checking that
/// the server signed the handshake with the key of the certificate it sent.
#[derive(Debug)]
struct NoServerVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoServerVerification {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_key_pairs_are_worded_like_go() {
        let err = TlsOptions::new(None, Some((b"garbage".to_vec(), b"garbage".to_vec())), false).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("tls: failed to find any PEM data in certificate input")
        );
    }

    #[test]
    fn ca_without_certificates_is_accepted() {
        let opts = TlsOptions::new(Some(b"garbage".to_vec()), None, false);
        assert!(opts.is_ok());
    }
}
