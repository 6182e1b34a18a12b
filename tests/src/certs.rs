//! Throw-away certificates for the TLS tests, made with the `openssl` command: a CA, a server
//! certificate for `127.0.0.1` and `localhost`, and a client certificate (for mTLS), both
//! signed by the CA. EC P-256 keys, valid two days.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

/// The files [`make`] wrote.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA certificate (what a client trusts).
    pub ca: PathBuf,
    /// The server's certificate and key (`server.crt`, `server.key`).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate and key signed by the same CA (`client.crt`, `client.key`).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Writes a CA, a server and a client certificate into `dir` (keys 0600). `None` after
/// printing `SKIPPED: …` when openssl is missing.
///
/// # Errors
///
/// openssl failing, or the files not written.
pub fn make(dir: &Path) -> anyhow::Result<Option<Certs>> {
    let openssl = |args: &[&str]| -> anyhow::Result<bool> {
        match Command::new("openssl").args(args).current_dir(dir).output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
            Ok(out) if out.status.success() => Ok(true),
            Ok(out) => bail!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca: Vec<&str> = ["req", "-x509", "-days", "2", "-subj", "/CN=hookd test CA"]
        .into_iter()
        .chain(ec)
        .chain(["-keyout", "ca.key", "-out", "ca.crt"])
        .chain(["-addext", "basicConstraints=critical,CA:TRUE"])
        .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .collect();
    if !openssl(&ca)? {
        eprintln!("SKIPPED: openssl is missing (the TLS tests make their certificates with it)");
        return Ok(None);
    }
    let signed = |name: &str, subject: &str, ext: &str| -> anyhow::Result<()> {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let req: Vec<&str> = ["req", "-subj", subject]
            .into_iter()
            .chain(ec)
            .chain(["-keyout", &key, "-out", &csr])
            .collect();
        openssl(&req)?;
        std::fs::write(dir.join(&extfile), ext)?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &extfile,
            "-out",
            &crt,
        ])?;
        let mut perms = std::fs::metadata(dir.join(&key))?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(dir.join(&key), perms)?;
        Ok(())
    };
    signed(
        "server",
        "/CN=localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )?;
    signed(
        "client",
        "/CN=hookd test client",
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )?;
    Ok(Some(Certs {
        ca: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    }))
}
