//! Connecting: the password file, the CA roots, and rustls wired into tokio-postgres; and
//! [`apply_sql`], the one-shot connection `hookd sink-init pg` runs its SQL on.

use std::future::Future;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, NoTls, TlsConnect};
use tokio_postgres::{Client, Socket};

use super::config::{PgConfig, TlsMode, parse_url};
use super::errors::{Failure, describe};

/// Connects with `cfg`'s URL, password file and CA file and runs `sql` (several statements),
/// for `hookd sink-init pg` (`hookctl sink init pg` runs it).
///
/// # Errors
///
/// The connection or a statement failing, with PostgreSQL's message and SQLSTATE.
pub async fn apply_sql(cfg: &PgConfig, sql: &str) -> anyhow::Result<()> {
    let (config, tls) = parse_url(&cfg.url)?;
    let (client, driver) = connect(
        &config,
        tls,
        cfg.password_file.as_deref(),
        cfg.ca_file.as_deref(),
    )
    .await
    .map_err(|f| match f {
        Failure::Config(w) | Failure::Tls(w) => anyhow::anyhow!(w),
        Failure::Pg(doing, e) => anyhow::anyhow!("{doing}: {}", describe(&e)),
    })?;
    let result = client.batch_execute(sql).await;
    drop(client);
    driver.abort();
    result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))
}

/// Opens a connection and spawns the task that drives it.
pub(super) async fn connect(
    config: &tokio_postgres::Config,
    tls: TlsMode,
    password_file: Option<&Path>,
    ca_file: Option<&Path>,
) -> Result<(Client, JoinHandle<()>), Failure> {
    let mut config = config.clone();
    if let Some(path) = password_file {
        config.password(read_password(path).map_err(|e| Failure::Config(format!("{e:#}")))?);
    }
    if tls == TlsMode::Disable {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| Failure::Pg("connect", e))?;
        return Ok((client, spawn_driver(connection)));
    }
    let tls_config = client_config(ca_file).map_err(|e| Failure::Tls(format!("{e:#}")))?;
    let (client, connection) = config
        .connect(MakeRustls(Arc::new(tls_config)))
        .await
        .map_err(|e| Failure::Pg("connect", e))?;
    Ok((client, spawn_driver(connection)))
}

fn spawn_driver<S, T>(connection: tokio_postgres::Connection<S, T>) -> JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres sink: connection ended: {e}");
        }
    })
}

/// The password from `path`, refusing a file that group or others may read or write.
fn read_password(path: &Path) -> anyhow::Result<String> {
    let path = expand_home(path);
    let meta =
        std::fs::metadata(&path).with_context(|| format!("password_file {}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        bail!(
            "password_file {}: mode {:o} lets other users read it; chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("password_file {}", path.display()))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("password_file {}: empty", path.display());
    }
    Ok(password.to_string())
}

/// `~/…` → `$HOME/…`.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// rustls with ring, verifying the server against `ca_file` or the system's roots.
fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let path = expand_home(path);
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .with_context(|| format!("ca_file {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("ca_file {}: not PEM certificates", path.display()))?;
            if certs.is_empty() {
                bail!("ca_file {}: no certificate in it", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("ca_file {}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                bail!("no system CA certificates found; set ca_file");
            }
        }
    }
    // ring, not aws-lc-rs (a C/cmake build); rustls 0.23.48 deprecates ring's provider only
    // for lacking post-quantum key exchange, which PostgreSQL clients do not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// tokio-postgres's TLS hook, implemented over tokio-rustls.
#[derive(Clone)]
struct MakeRustls(Arc<rustls::ClientConfig>);

struct RustlsConnect {
    name: rustls::pki_types::ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = rustls::pki_types::ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            name,
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.0)),
        })
    }
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(tls)))
        })
    }
}

/// A TLS connection to the server. No channel binding is offered (SCRAM still authenticates;
/// binding would need the certificate's signature algorithm parsed from DER).
struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_password(&path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&path).unwrap(), "s3cret");
    }
}
