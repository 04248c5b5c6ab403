//! A `redis-server` that speaks only TLS, with a CA made for it in-process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use skillup_common::config::RedisConfig;

use crate::ports::{free_port, wait_for_port};

/// A `redis-server` of this test's own that speaks only TLS, with a certificate
/// (SAN `127.0.0.1` and `localhost`) signed by a CA made for it at test time
/// (with `rcgen`), as Redis Cloud's servers are signed by Redis's private CA.
/// Killed and its files removed on drop.
pub struct TlsRedis {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl TlsRedis {
    pub fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("skillup-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the certificate dir");
        let ca = make_ca(&dir, "ca", "SkillUp test CA");
        // A CA nobody signed the server with: trusting it must not be enough.
        make_ca(&dir, "other-ca", "SkillUp other CA");
        make_server_cert(&dir, &ca);
        let port = free_port();
        let child = Command::new("redis-server")
            .current_dir(&dir)
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.pem",
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        wait_for_port(port, "TLS redis (is redis-server built with TLS?)");
        Self { port, dir, child }
    }

    /// `rediss://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> String {
        self.dir.join("ca.pem").to_string_lossy().into_owned()
    }

    /// The PEM of another CA, which signed nothing this server presents.
    pub fn other_ca_file(&self) -> String {
        self.dir.join("other-ca.pem").to_string_lossy().into_owned()
    }

    /// A Redis config for this server under `prefix`, trusting `ca_file` (or the
    /// system's roots with `None`).
    pub fn config(&self, prefix: &str, ca_file: Option<&str>) -> RedisConfig {
        let url = self.url();
        let mut env: std::collections::HashMap<&str, &str> = [
            ("REDIS_URL", url.as_str()),
            ("REDIS_KEY_PREFIX", prefix),
            ("REDIS_COMMAND_TIMEOUT_MS", "1000"),
        ]
        .into_iter()
        .collect();
        if let Some(ca) = ca_file {
            env.insert("REDIS_TLS_CA_FILE", ca);
        }
        RedisConfig::from_env(&env).expect("TLS redis config is valid")
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Valid from an hour ago for two days: a certificate made for one test run.
fn validity(params: &mut CertificateParams) {
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(2 * 86_400)).into();
}

/// A self-signed CA (P-256; basic constraints `CA:TRUE` and key usage
/// `keyCertSign, cRLSign`, both critical) written to `{name}.pem` in `dir`; its
/// key stays in memory, in the returned issuer.
fn make_ca(dir: &Path, name: &str, cn: &str) -> Issuer<'static, KeyPair> {
    let key = KeyPair::generate().expect("generate the CA key");
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params);
    let cert = params.self_signed(&key).expect("self-sign the CA");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write the CA");
    Issuer::new(params, key)
}

/// The server's key and certificate (`server.key`, `server.pem` in `dir`): CN and
/// SAN `127.0.0.1`, SAN `localhost`, not a CA, for server authentication, signed
/// by `ca`.
fn make_server_cert(dir: &Path, ca: &Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("generate the server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("valid subject alt names");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params);
    let cert = params
        .signed_by(&key, ca)
        .expect("sign the server certificate");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write the server certificate");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write the server key");
}
