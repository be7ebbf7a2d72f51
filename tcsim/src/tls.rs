//! `--tls`: a throwaway CA and a server certificate for 127.0.0.1, localhost and any
//! `--tls-san` names, because tccli and the SDKs speak only HTTPS by default.
//!
//! The CA (not the leaf) is what `--tls-cert-out` writes: OpenSSL, rustls/webpki and Go all
//! accept a CA as a trust anchor, while a self-signed leaf is rejected by some of them.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// Generates the certificates, writes the CA PEM to `cert_out` if given, and returns the
/// acceptor (ALPN h2 and http/1.1) and the CA PEM.
pub fn acceptor(extra_sans: &[String], cert_out: Option<&Path>) -> Result<(TlsAcceptor, String)> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "tcsim test CA");
    ca_params.distinguished_name = dn;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    for s in extra_sans {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(sans).context("invalid --tls-san name")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "tcsim");
    leaf_params.distinguished_name = dn;
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params.signed_by(&leaf_key, &ca_issuer)?;

    if let Some(path) = cert_out {
        std::fs::write(path, ca_cert.pem())
            .with_context(|| format!("writing the certificate to {}", path.display()))?;
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), ca_cert.pem()))
}
