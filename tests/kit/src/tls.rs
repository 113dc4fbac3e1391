//! Throwaway TLS material: a private CA and a server certificate for
//! 127.0.0.1/localhost, made with the openssl CLI at test time.

use crate::{run_cmd, write_public};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh CA and a server certificate it signed; the files go away on drop.
pub struct TestCa {
    /// The CA certificate (PEM): what a client passes as `--ca-file`.
    pub ca_cert: PathBuf,
    /// Server certificate (PEM) for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server certificate's private key (PEM, unencrypted).
    pub server_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// Generates a P-256 CA and a server certificate valid for one day.
    pub fn generate() -> anyhow::Result<TestCa> {
        let dir = crate::server_dir("tls")?;
        let d = dir.path();
        let openssl = |args: &[&str]| -> anyhow::Result<()> {
            run_cmd(Command::new("openssl").args(args).current_dir(d))
                .map(|_| ())
                .context("openssl (is the openssl package installed?)")
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=cutover test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&ca)?;
        let mut csr = vec!["req", "-nodes"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&csr)?;
        write_public(
            &d.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ])?;
        make_readable(d, &["ca.pem", "server.pem", "server.key"])?;
        Ok(TestCa {
            ca_cert: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            _dir: dir,
        })
    }
}

/// Dovecot reads the files as root or as the invoking user; throwaway keys
/// may be world-readable.
fn make_readable(d: &Path, files: &[&str]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for f in files {
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("chmod {f}"))?;
    }
    Ok(())
}
