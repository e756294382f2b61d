//! A test CA and a server certificate for 127.0.0.1/localhost, made at test time (rcgen).
//!
//! Nothing is checked in: each test that needs TLS gets its own CA, so a client that
//! verifies against [`TestPki::ca_file`] proves it checks the chain (and not a system CA).

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files of a test CA and of a server certificate it signed.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate: what clients trust.
    pub ca_file: PathBuf,
    /// The server certificate (leaf), for `127.0.0.1` and `localhost`.
    pub cert_file: PathBuf,
    /// The server's private key (PKCS#8).
    pub key_file: PathBuf,
    /// Leaf followed by the CA certificate.
    pub chain_file: PathBuf,
}

impl TestPki {
    /// Generates the CA and the server certificate (ECDSA P-256) into `dir`.
    #[track_caller]
    pub fn generate(dir: &Path) -> TestPki {
        Self::try_generate(dir).unwrap_or_else(|e| panic!("cannot make test certificates: {e}"))
    }

    fn try_generate(dir: &Path) -> Result<TestPki, Box<dyn std::error::Error>> {
        fs::create_dir_all(dir)?;

        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Parley e2e test CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "Parley tests");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let server_cert = params.signed_by(&server_key, &issuer)?;

        let pki = TestPki {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server.key"),
            chain_file: dir.join("server-chain.pem"),
        };
        fs::write(&pki.ca_file, ca_cert.pem())?;
        fs::write(&pki.cert_file, server_cert.pem())?;
        fs::write(&pki.key_file, server_key.serialize_pem())?;
        fs::write(
            &pki.chain_file,
            format!("{}{}", server_cert.pem(), ca_cert.pem()),
        )?;
        Ok(pki)
    }
}
