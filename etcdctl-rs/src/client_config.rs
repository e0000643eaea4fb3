//! etcdctl's `clientConfigFromCmd` beyond endpoints and timeouts: the `--debug` flag dump,
//! DNS discovery (refused), TLS (`secureCfgFromCmd`) and authentication (`authCfgFromCmd`),
//! turned into the client crate's [`ClientOptions`].

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use etcd_rs_client::{ClientOptions, Credentials, TlsOptions};

use crate::cli::GlobalArgs;
use crate::error::{CtlError, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::go;

/// The client settings the global flags ask for. Errors are etcdctl's: a TLS file that
/// cannot be read or used is a bad argument (exit 128), a failed password prompt exit 1.
pub fn resolve(g: &GlobalArgs) -> Result<ClientOptions, CtlError> {
    if g.debug {
        print_flags(g);
    }
    if !g.discovery_srv.is_empty() {
        return Err(CtlError::new(
            EXIT_ERROR,
            "DNS SRV discovery (--discovery-srv) is not supported by etcdctl-rs; give --endpoints instead",
        ));
    }
    let mut options = ClientOptions::new(g.dial_timeout);
    options.keepalive_time = g.keepalive_time;
    options.keepalive_timeout = g.keepalive_timeout;
    options.credentials = credentials(g)?;
    options.tls = tls(g)?;
    Ok(options)
}

/// `--debug`: every global flag as `ETCDCTL_<NAME>=<value>` on stderr, in flag-name order,
/// as etcdctl prints them (its gRPC logging is not reproduced).
fn print_flags(g: &GlobalArgs) {
    let duration = |d| go::duration::format(d);
    let flags = [
        ("CACERT", g.cacert.clone()),
        ("CERT", g.cert.clone()),
        ("COMMAND_TIMEOUT", duration(g.command_timeout)),
        ("DEBUG", g.debug.to_string()),
        ("DIAL_TIMEOUT", duration(g.dial_timeout)),
        ("DISCOVERY_SRV", g.discovery_srv.clone()),
        ("DISCOVERY_SRV_NAME", g.discovery_srv_name.clone()),
        ("ENDPOINTS", format!("[{}]", g.endpoints.join(","))),
        ("HEX", g.hex.to_string()),
        ("INSECURE_DISCOVERY", g.insecure_discovery.to_string()),
        ("INSECURE_SKIP_TLS_VERIFY", g.insecure_skip_tls_verify.to_string()),
        ("INSECURE_TRANSPORT", g.insecure_transport.to_string()),
        ("KEEPALIVE_TIME", duration(g.keepalive_time)),
        ("KEEPALIVE_TIMEOUT", duration(g.keepalive_timeout)),
        ("KEY", g.key.clone()),
        ("PASSWORD", g.password.clone()),
        ("USER", g.user.clone()),
        ("WRITE_OUT", g.write_out.clone()),
    ];
    let text: String = flags.iter().map(|(name, value)| format!("ETCDCTL_{name}={value}\n")).collect();
    crate::commands::write_stderr(text.as_bytes());
}

/// TLS when a certificate, key or CA file is given or `--insecure-transport=false`, as in
/// etcdctl 3.4; `--insecure-skip-tls-verify` only applies then.
fn tls(g: &GlobalArgs) -> Result<Option<TlsOptions>, CtlError> {
    let files_given = !g.cacert.is_empty() || !g.cert.is_empty() || !g.key.is_empty();
    if !files_given && g.insecure_transport {
        return Ok(None);
    }
    if g.cert.is_empty() != g.key.is_empty() {
        return Err(CtlError::bad_args(format!(
            "KeyFile and CertFile must both be present[key: {}, cert: {}]",
            g.key, g.cert
        )));
    }
    let identity = match g.cert.is_empty() {
        true => None,
        false => Some((read(&g.cert)?, read(&g.key)?)),
    };
    let ca = match g.cacert.is_empty() {
        true => None,
        false => Some(read(&g.cacert)?),
    };
    TlsOptions::new(ca, identity, g.insecure_skip_tls_verify).map(Some).map_err(CtlError::bad_args)
}

/// A TLS file's contents; failures worded as Go's `os.ReadFile`.
fn read(path: &str) -> Result<Vec<u8>, CtlError> {
    std::fs::read(path).map_err(|e| CtlError::new(EXIT_BAD_ARGS, go::os::path_error("open", path, &e)))
}

/// `--user name[:password]` and `--password`. As in clientv3, no authentication happens
/// unless both the name and the password are non-empty.
fn credentials(g: &GlobalArgs) -> Result<Option<Credentials>, CtlError> {
    if g.user.is_empty() {
        return Ok(None);
    }
    let (user, password) = match (g.password.is_empty(), g.user.split_once(':')) {
        (false, _) => (g.user.clone(), g.password.clone()),
        (true, Some((user, password))) => (user.to_string(), password.to_string()),
        (true, None) => (g.user.clone(), prompt_password()?),
    };
    Ok((!user.is_empty() && !password.is_empty()).then_some(Credentials { user, password }))
}

/// Asks for the password as etcdctl's speakeasy does: `Password: ` on stdout, the reply
/// read from stdin without echo (via `stty`) when it is a terminal, then a newline.
fn prompt_password() -> Result<String, CtlError> {
    let failed = |e: std::io::Error| CtlError::new(EXIT_ERROR, e);
    let mut out = std::io::stdout().lock();
    out.write_all(b"Password: ").and_then(|()| out.flush()).map_err(failed)?;
    let terminal = std::io::stdin().is_terminal();
    if terminal {
        stty("-echo");
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if terminal {
        stty("echo");
    }
    read.map_err(failed)?;
    out.write_all(b"\n").and_then(|()| out.flush()).map_err(failed)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `stty <mode>` on the terminal behind stdin; without `stty` the reply is echoed.
fn stty(mode: &str) {
    let _ = Command::new("stty").arg(mode).stdin(Stdio::inherit()).status();
}
