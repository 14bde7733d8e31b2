//! The controller's TLS identity: one self-signed certificate, created at first start and kept
//! in the data directory, serving both the HTTPS API and the join-cluster TLS server (TCP 5349).
//!
//! There is no CA: like WiNG's `join-cluster`, peers trust on first use. A client sees the
//! certificate's SHA-256 fingerprint ([`TlsIdentity::fingerprint_sha256`], lowercase hex, no
//! separators), can show it to the operator, and can pin it for later connections
//! ([`TofuVerifier::pinned`]).

use crate::ApiError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// File names inside the data directory.
pub const CERT_FILE: &str = "api-cert.pem";
pub const KEY_FILE: &str = "api-key.pem";

/// The ring crypto provider, explicitly (never the process default, which may be unset or
/// ambiguous when several providers are linked).
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a DER certificate as lowercase hex (64 characters).
pub fn fingerprint_sha256(cert_der: &[u8]) -> String {
    hex::encode(Sha256::digest(cert_der))
}

/// A certificate (DER) and its PKCS#8 private key (DER).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    /// SHA-256 of `cert_der`, lowercase hex.
    pub fingerprint_sha256: String,
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint_sha256", &self.fingerprint_sha256)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Builds an identity from a DER certificate and PKCS#8 DER key; fails if rustls refuses
    /// them (e.g. the key does not match the certificate).
    pub fn from_der(cert_der: Vec<u8>, key_der: Vec<u8>) -> Result<TlsIdentity, ApiError> {
        let config = rustls::ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ApiError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.clone())),
            )
            .map_err(|e| ApiError::Tls(format!("certificate/key rejected: {e}")))?;
        let fingerprint_sha256 = fingerprint_sha256(&cert_der);
        Ok(TlsIdentity {
            cert_der,
            key_der,
            fingerprint_sha256,
            config: Arc::new(config),
        })
    }

    /// A rustls server config (ring provider, TLS 1.2 + 1.3, no client auth, no ALPN) for this
    /// identity. The HTTPS server adds ALPN on a copy; the join server uses it as is.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }

    /// The certificate in PEM form.
    pub fn cert_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.cert_der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }
}

/// Loads `DIR/api-cert.pem` + `DIR/api-key.pem`, or, if neither exists, creates a self-signed
/// ECDSA P-256 certificate whose subject alternative names are `names` (IP addresses become IP
/// SANs, anything else a DNS SAN) and saves it (the key file with mode 0600). An existing
/// identity is reused as is even if `names` changed: clients pin the fingerprint, not the names.
/// Exactly one of the two files present, or an unreadable one, is an error (nothing is
/// overwritten).
pub fn load_or_create_identity(dir: &Path, names: &[String]) -> Result<TlsIdentity, ApiError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let ctx = |p: &Path, e: &dyn std::fmt::Display| ApiError::Tls(format!("{}: {e}", p.display()));
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let cert =
                CertificateDer::from_pem_file(&cert_path).map_err(|e| ctx(&cert_path, &e))?;
            let key =
                PrivatePkcs8KeyDer::from_pem_file(&key_path).map_err(|e| ctx(&key_path, &e))?;
            TlsIdentity::from_der(cert.to_vec(), key.secret_pkcs8_der().to_vec())
        }
        (false, false) => {
            std::fs::create_dir_all(dir).map_err(|e| ctx(dir, &e))?;
            let (cert_pem, key_pem, identity) = generate(names)?;
            // The data dir's one crash-safe writer; the key before the certificate, so a crash
            // in between leaves "key without certificate", which is refused, not a new key.
            roost_store::fs::write_private(&key_path, key_pem.as_bytes())
                .map_err(|e| ctx(&key_path, &e))?;
            roost_store::fs::write_atomic(&cert_path, cert_pem.as_bytes())
                .map_err(|e| ctx(&cert_path, &e))?;
            tracing::info!(fingerprint = %identity.fingerprint_sha256, "created TLS identity");
            Ok(identity)
        }
        (true, false) => Err(ApiError::Tls(format!(
            "{} exists but {} is missing; remove the certificate to create a new identity",
            cert_path.display(),
            key_path.display()
        ))),
        (false, true) => Err(ApiError::Tls(format!(
            "{} exists but {} is missing; remove the key to create a new identity",
            key_path.display(),
            cert_path.display()
        ))),
    }
}

fn generate(names: &[String]) -> Result<(String, String, TlsIdentity), ApiError> {
    let names: Vec<String> = if names.is_empty() {
        vec!["roost".to_string()]
    } else {
        names.to_vec()
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| ApiError::Tls(format!("key generation: {e}")))?;
    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| ApiError::Tls(format!("certificate names {names:?}: {e}")))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("roost {}", names[0]));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Roost");
    let cert = params
        .self_signed(&key)
        .map_err(|e| ApiError::Tls(format!("self-signing: {e}")))?;
    let identity = TlsIdentity::from_der(cert.der().to_vec(), key.serialize_der())?;
    Ok((cert.pem(), key.serialize_pem(), identity))
}

/// Server-certificate verifier for trust-on-first-use.
///
/// It accepts any certificate chain (there is no CA and the names are not checked) but still
/// verifies the handshake signature, so the peer proves it holds the key of the certificate it
/// presented. It records that certificate's SHA-256 fingerprint ([`TofuVerifier::fingerprint`]);
/// when created with [`TofuVerifier::pinned`] it rejects any other certificate.
///
/// On its own it defeats passive eavesdropping but not an active man-in-the-middle on the very
/// first connection: `roost cli` therefore remembers the fingerprint (`crate::known`) and pins
/// it later, and join-cluster does not rely on it at all (its OPAQUE exchange authenticates
/// the primary; `fingerprint <sha256>` pins it on top).
#[derive(Debug)]
pub struct TofuVerifier {
    provider: Arc<CryptoProvider>,
    pinned: Option<String>,
    seen: Mutex<Option<String>>,
}

impl TofuVerifier {
    /// Accepts any certificate.
    pub fn new() -> TofuVerifier {
        TofuVerifier {
            provider: ring_provider(),
            pinned: None,
            seen: Mutex::new(None),
        }
    }
    /// Accepts only the certificate with this SHA-256 fingerprint (hex, case and `:` ignored).
    pub fn pinned(fingerprint: &str) -> TofuVerifier {
        let fp: String = fingerprint
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_lowercase();
        TofuVerifier {
            provider: ring_provider(),
            pinned: Some(fp),
            seen: Mutex::new(None),
        }
    }
    /// Fingerprint of the last server certificate seen.
    pub fn fingerprint(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Default for TofuVerifier {
    fn default() -> Self {
        TofuVerifier::new()
    }
}

impl ServerCertVerifier for TofuVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint_sha256(end_entity);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp.clone());
        match &self.pinned {
            Some(p) if *p != fp => Err(rustls::Error::General(format!(
                "server certificate fingerprint {fp} does not match the pinned {p}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config with the given verifier (ring provider, TLS 1.2 + 1.3, no ALPN).
pub fn client_config_with(verifier: Arc<TofuVerifier>) -> Arc<rustls::ClientConfig> {
    let cfg = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(cfg)
}

/// A client config that accepts any server certificate (trust on first use, see
/// [`TofuVerifier`]). Use [`tofu_client_config`] to learn the fingerprint it saw.
pub fn insecure_client_config() -> Arc<rustls::ClientConfig> {
    tofu_client_config().0
}

/// Like [`insecure_client_config`], plus the verifier that records the server's fingerprint.
pub fn tofu_client_config() -> (Arc<rustls::ClientConfig>, Arc<TofuVerifier>) {
    let v = Arc::new(TofuVerifier::new());
    (client_config_with(v.clone()), v)
}

/// A client config that accepts only the certificate with this fingerprint.
pub fn pinned_client_config(fingerprint: &str) -> (Arc<rustls::ClientConfig>, Arc<TofuVerifier>) {
    let v = Arc::new(TofuVerifier::pinned(fingerprint));
    (client_config_with(v.clone()), v)
}
