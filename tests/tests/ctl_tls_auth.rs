//! etcdctl-rs's TLS and authentication flags against real etcd 3.4, compared with real
//! etcdctl: certificates made with `openssl` for a TLS etcd that requires client
//! certificates, and users and roles on a plaintext etcd with authentication enabled.
//! Skipped (with a note) where `etcd`, `etcdctl` or `openssl` is not installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_rs_tests::free_port;

/// A real etcd 3.4, killed when dropped.
struct Etcd {
    child: Child,
    log: PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a CLI run produced: stdout, stderr without Go's JSON log lines, exit code.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

fn tools_installed() -> bool {
    let installed = ["etcd", "etcdctl", "openssl"]
        .iter()
        .all(|tool| Command::new(tool).arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok());
    // CI installs them (.ci/run): there, a missing tool is a failure, not a skip.
    assert!(installed || std::env::var_os("CI").is_none(), "etcd, etcdctl and openssl are needed in CI");
    if !installed {
        eprintln!("skipping: etcd, etcdctl and openssl are needed");
    }
    installed
}

/// Runs `program` with `args` and `env`, stdin closed.
fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        // clientv3's zap warnings ("retrying of unary invoker failed") have no counterpart.
        .filter(|l| !l.starts_with("{\"level\""))
        .map(|l| format!("{l}\n"))
        .collect();
    Outcome { stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr, code: out.status.code().unwrap_or(-1) }
}

/// Runs real etcdctl and etcdctl-rs with the same arguments and environment; returns both.
fn both(args: &[&str], env: &[(&str, &str)]) -> (Outcome, Outcome) {
    let etcdctl = run(Path::new("etcdctl"), args, env);
    let ours = run(&etcd_rs_tests::bin("etcdctl-rs"), args, env);
    (etcdctl, ours)
}

/// Asserts that etcdctl-rs behaves exactly as etcdctl for `args`; returns the outcome.
fn same(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let (etcdctl, ours) = both(args, env);
    assert_eq!(ours, etcdctl, "etcdctl-rs {args:?} differs from etcdctl");
    ours
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for IP 127.0.0.1 and a client certificate, in `dir`.
fn make_certs(dir: &Path) {
    let subj = |cn: &str| format!("/CN={cn}");
    openssl(
        dir,
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt"]
            .iter()
            .copied()
            .chain(["-days", "2", "-subj", &subj("test-ca")])
            .collect::<Vec<_>>(),
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
        .expect("write server.ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("write client.ext");
    for name in ["server", "client"] {
        let (key, csr, crt, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
        openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj(name)]);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

/// Starts a one-member etcd on free loopback ports (`scheme` for clients) with `extra` flags,
/// and waits until `ready_args` (etcdctl flags) reach it.
fn start_etcd(dir: &Path, scheme: &str, extra: &[&str], ready_args: &[&str]) -> (Etcd, String) {
    let (client_port, peer_port) = (free_port(), free_port());
    let client_url = format!("{scheme}://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let log = dir.join("etcd.log");
    let log_file = std::fs::File::create(&log).expect("create etcd log");
    let child = Command::new("etcd")
        .args(["--name", "m", "--data-dir"])
        .arg(dir.join("m.etcd"))
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("m={peer_url}")])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn etcd");
    let etcd = Etcd { child, log };
    let endpoint = format!("127.0.0.1:{client_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut args = vec!["--endpoints", &endpoint];
        args.extend_from_slice(ready_args);
        args.extend_from_slice(&["endpoint", "health"]);
        if run(Path::new("etcdctl"), &args, &[]).code == 0 {
            break;
        }
        let log = std::fs::read_to_string(&etcd.log).unwrap_or_default();
        assert!(Instant::now() < deadline, "etcd did not become healthy:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    (etcd, endpoint)
}

#[test]
fn tls_flags_match_etcdctl_against_etcd_with_client_cert_auth() {
    if !tools_installed() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_certs(d);
    let path = |f: &str| d.join(f).to_string_lossy().into_owned();
    let (ca, cert, key, server_key) = (path("ca.crt"), path("client.crt"), path("client.key"), path("server.key"));
    let tls = ["--cacert", &ca, "--cert", &cert, "--key", &key];
    let server_flags = ["--cert-file", "server.crt", "--key-file", "server.key", "--trusted-ca-file", "ca.crt"];
    let server_flags: Vec<&str> = server_flags.iter().copied().chain(["--client-cert-auth"]).collect();
    let (_etcd, ep) = start_etcd(d, "https", &server_flags, &tls);

    let with = |extra: &[&str], cmd: &[&str]| -> Vec<String> {
        ["--endpoints", ep.as_str()].iter().chain(extra).chain(cmd).map(|s| s.to_string()).collect()
    };
    let check = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        same(&args, env)
    };

    // Client-certificate TLS with a bare endpoint: put and get.
    let put = check(with(&tls, &["put", "tls-key", "v1"]), &[]);
    assert_eq!((put.stdout.as_str(), put.code), ("OK\n", 0));
    let get = check(with(&tls, &["get", "tls-key"]), &[]);
    assert_eq!(get.stdout, "tls-key\nv1\n");
    // The same from ETCDCTL_* variables.
    let env = [("ETCDCTL_CACERT", ca.as_str()), ("ETCDCTL_CERT", cert.as_str()), ("ETCDCTL_KEY", key.as_str())];
    assert_eq!(check(with(&[], &["get", "tls-key", "--print-value-only"]), &env).stdout, "v1\n");
    // An https:// endpoint, the server certificate not verified (no CA given).
    let https = format!("https://{ep}");
    let skip = ["--endpoints", &https, "--insecure-skip-tls-verify", "--cert", &cert, "--key", &key, "get", "tls-key"];
    assert_eq!(same(&skip, &[]).stdout, "tls-key\nv1\n");
    // TLS asked for by --insecure-transport=false alone.
    let secure = with(
        &["--insecure-transport=false", "--insecure-skip-tls-verify", "--cert", &cert, "--key", &key],
        &["get", "tls-key"],
    );
    assert_eq!(check(secure, &[]).code, 0);

    // Unusable TLS files: etcdctl's words, exit 128.
    let missing =
        check(with(&["--cacert", &ca, "--cert", &cert, "--key", "/nonexistent/client.key"], &["get", "k"]), &[]);
    assert_eq!(
        (missing.stderr.as_str(), missing.code),
        ("Error: open /nonexistent/client.key: no such file or directory\n", 128)
    );
    let half = check(with(&["--cert", &cert], &["get", "k"]), &[]);
    assert_eq!(half.code, 128);
    let mismatch = check(with(&["--cert", &cert, "--key", &server_key], &["get", "k"]), &[]);
    assert_eq!(mismatch.stderr, "Error: tls: private key does not match public key\n");

    // Known difference: a connection the server drops before its first HTTP/2 frame (TLS
    // 1.3's late rejection of a missing client certificate; plaintext sent to the TLS port).
    // etcdctl keeps redialing until the command timeout ("context deadline exceeded");
    // etcdctl-rs reports the transport error at once. Both exit 1 with nothing on stdout.
    for extra in [&["--cacert", ca.as_str()][..], &[]] {
        let args = with(&[extra, &["--command-timeout", "2s"]].concat(), &["get", "tls-key"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (etcdctl, ours) = both(&args, &[]);
        assert_eq!(etcdctl.stderr, "Error: context deadline exceeded\n");
        assert_eq!((ours.code, ours.stdout.as_str()), (etcdctl.code, ""));
        assert!(ours.stderr.starts_with("Error: "), "{ours:?}");
    }
}

#[test]
fn auth_flags_match_etcdctl_for_users_and_roles() {
    if !tools_installed() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_etcd, ep) = start_etcd(dir.path(), "http", &[], &[]);
    let ctl = |args: &[&str]| {
        let mut all = vec!["--endpoints", ep.as_str()];
        all.extend_from_slice(args);
        let out = run(Path::new("etcdctl"), &all, &[]);
        assert_eq!(out.code, 0, "etcdctl {args:?}: {out:?}");
    };
    ctl(&["user", "add", "root:rootpw"]);
    ctl(&["auth", "enable"]);
    let root = ["--user", "root:rootpw"];
    for setup in [
        &["user", "add", "alice:apw"][..],
        &["role", "add", "r"],
        &["role", "grant-permission", "r", "read", "/a"],
        &["user", "grant-role", "alice", "r"],
    ] {
        ctl(&[&root[..], setup].concat());
    }
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--endpoints", ep.as_str()];
        all.extend_from_slice(args);
        same(&all, env)
    };

    assert_eq!(check(&["--user", "root:rootpw", "put", "/a", "x"], &[]).stdout, "OK\n");
    assert_eq!(check(&["--user", "alice:apw", "get", "/a"], &[]).stdout, "/a\nx\n");
    assert_eq!(check(&["--user", "alice", "--password", "apw", "get", "/a"], &[]).stdout, "/a\nx\n");
    let env = [("ETCDCTL_USER", "alice"), ("ETCDCTL_PASSWORD", "apw")];
    assert_eq!(check(&["get", "/a", "--print-value-only"], &env).stdout, "x\n");

    let denied = check(&["--user", "alice:apw", "put", "/a", "y"], &[]);
    assert_eq!((denied.stderr.as_str(), denied.code), ("Error: etcdserver: permission denied\n", 1));
    let wrong = check(&["--user", "alice:nope", "get", "/a"], &[]);
    assert_eq!(
        (wrong.stderr.as_str(), wrong.code),
        ("Error: etcdserver: authentication failed, invalid user ID or password\n", 2)
    );
    let anonymous = check(&["get", "/a"], &[]);
    assert_eq!((anonymous.stderr.as_str(), anonymous.code), ("Error: etcdserver: user name is empty\n", 1));
}
