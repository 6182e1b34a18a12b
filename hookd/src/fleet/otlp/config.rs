//! The OTLP sink's configuration: the endpoint (settings or the standard `OTEL_EXPORTER_OTLP_*`
//! variables, plain HTTP refused off loopback), the token file, extra headers, and TLS (roots,
//! `ca_file`, mTLS).

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use crate::settings::SinkSettings;

/// Reads the environment variable `name` (empty counts as unset).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret file (bearer token, password): it must be a regular file readable by its owner
/// only (0600 or stricter); its content, trimmed.
///
/// # Errors
///
/// Why the file is refused or cannot be read.
pub fn read_secret(path: &str) -> Result<String, String> {
    let path = crate::fleet::expand_home(path);
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: mode {mode:04o} lets other users read it; chmod 600 it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("{}: empty", path.display()));
    }
    Ok(text)
}

/// Whether `host` (from a URI: a name or an IP, IPv6 in brackets) is on the loopback
/// interface.
fn loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint to post to: `endpoint` from hookd.toml, else
/// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (as is), else `OTEL_EXPORTER_OTLP_ENDPOINT` with
/// `/v1/logs`. An endpoint from hookd.toml without a path gets `/v1/logs`.
///
/// # Errors
///
/// None given, not a URL, or plain `http://` to a host outside the loopback range without
/// `allow_plaintext`.
pub fn endpoint(s: &SinkSettings) -> Result<hyper::Uri, String> {
    let base = |e: String| {
        let trimmed = e.trim_end_matches('/');
        format!("{trimmed}/v1/logs")
    };
    let text = match (&s.endpoint, env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")) {
        (Some(e), _) => {
            let uri: hyper::Uri = e.parse().map_err(|err| format!("endpoint {e:?}: {err}"))?;
            if uri.path() == "/" || uri.path().is_empty() {
                base(e.clone())
            } else {
                e.clone()
            }
        }
        (None, Some(e)) => e,
        (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(e) => base(e),
            None => {
                return Err(
                    "no endpoint: set `endpoint` or OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT".into(),
                );
            }
        },
    };
    let uri: hyper::Uri = text
        .parse()
        .map_err(|err| format!("endpoint {text:?}: {err}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("endpoint {text:?}: no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback(host) || s.allow_plaintext => {}
        Some("http") => {
            return Err(format!(
                "endpoint {text:?}: plain http:// to {host}, which is not a loopback address, would \
                 send events unencrypted; use https://, or set allow_plaintext = true under \
                 [sink.{}] if you really mean it",
                s.name
            ));
        }
        _ => {
            return Err(format!(
                "endpoint {text:?}: use https:// (or http:// on loopback)"
            ));
        }
    }
    Ok(uri)
}

/// `OTEL_EXPORTER_OTLP_HEADERS` / `…_LOGS_HEADERS` (`k=v,k2=v2`, values percent-decoded).
pub(super) fn env_headers() -> Vec<(String, String)> {
    let decode = |v: &str| {
        let b = v.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    ]
    .iter()
    .filter_map(|n| env(n))
    .flat_map(|h| {
        h.split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), decode(v.trim())))
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The TLS client configuration: the system roots (or `ca_file` /
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`), and a client certificate for mTLS when given.
pub(super) fn tls(s: &SinkSettings) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // ring, not aws-lc-rs (a C/cmake build): rustls 0.23.48 deprecates ring's provider for its
    // lack of post-quantum key exchange; the classical suites it offers are what OTLP
    // receivers take today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = s
        .ca_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"))
        .or_else(|| env("OTEL_EXPORTER_OTLP_CERTIFICATE"));
    if let Some(ca) = ca {
        let path = crate::fleet::expand_home(&ca);
        for cert in CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("ca_file {}: no certificates", path.display()));
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                errors = ?found.errors,
                "no system root certificates found: https endpoints will fail; set ca_file"
            );
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cert = s
        .cert_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"));
    let key = s
        .key_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_KEY"));
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let cert_path = crate::fleet::expand_home(&cert);
            let chain = CertificateDer::pem_file_iter(&cert_path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("cert_file {}: {e}", cert_path.display()))?;
            // The key is a secret: 0600 like the token.
            read_secret(&key).map_err(|e| format!("key_file {e}"))?;
            let key_path = crate::fleet::expand_home(&key);
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| format!("key_file {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("cert_file/key_file: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("mTLS needs both cert_file and key_file".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        let mut s = SinkSettings::new("otel");
        s.endpoint = Some("http://127.0.0.1:4318".into());
        assert_eq!(endpoint(&s).unwrap().path(), "/v1/logs");
        s.endpoint = Some("http://[::1]:4318/custom".into());
        assert_eq!(endpoint(&s).unwrap().path(), "/custom");
        s.endpoint = Some("http://collector.corp:4318".into());
        let e = endpoint(&s).unwrap_err();
        assert!(e.contains("allow_plaintext"), "{e}");
        s.allow_plaintext = true;
        assert!(endpoint(&s).is_ok());
        s.allow_plaintext = false;
        s.endpoint = Some("https://collector.corp:4318".into());
        assert!(endpoint(&s).is_ok());
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "secret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret(p.to_str().unwrap()).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret(p.to_str().unwrap()).unwrap(), "secret");
    }
}
