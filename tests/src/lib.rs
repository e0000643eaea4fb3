//! Test harness: real `etcd-rs` processes on free loopback ports (or in network namespaces
//! of their own, [`netns`]), and helpers to drive them. Every process a test starts is
//! killed when its [`Member`] is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Path to a binary of this workspace, built once per test run if needed. `ETCD_RS_BIN_DIR`
/// points at a directory of prebuilt binaries instead.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    if let Ok(dir) = std::env::var("ETCD_RS_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    BUILT.get_or_init(|| {
        // Integration tests live in their own crate, so cargo does not build the binaries
        // for them; build them here (a no-op when they are fresh).
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "etcd-rs-server", "-p", "etcdctl-rs"])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target"));
    target.join("debug").join(name)
}

/// A port on 127.0.0.1 that is free now. Chosen below Linux's ephemeral range (32768 and
/// up), where the kernel picks the local ports of outgoing connections: a port it handed
/// out (as `bind(0)` would) could be taken by some test's client connection before the
/// member binds it. Parallel tests in one binary take ports in turn from a counter; the
/// start depends on the process id so that test binaries run side by side spread out.
pub fn free_port() -> u16 {
    const FIRST: u32 = 15_000;
    const COUNT: u32 = 17_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919);
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + start.wrapping_add(n) % COUNT).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

pub mod cluster;
pub mod grpc;
pub mod key_client;
pub mod linearizability;
pub mod nemesis;
pub mod netns;

/// Where a member runs: the address it listens on, and the network namespace it runs in
/// (`None`: the test's own, on loopback).
#[derive(Clone, Debug)]
pub struct Host {
    /// The IPv4 address of its client and peer URLs.
    pub ip: String,
    /// The network namespace (`ip netns` name) it is started in.
    pub netns: Option<String>,
}

impl Host {
    /// 127.0.0.1 in the test's own namespace.
    pub fn loopback() -> Host {
        Host { ip: "127.0.0.1".to_string(), netns: None }
    }
}

/// One running `etcd-rs` member.
pub struct Member {
    child: Option<Child>,
    /// Member name.
    pub name: String,
    /// Arguments it was started with (for restarts).
    args: Vec<String>,
    /// Where it runs.
    pub host: Host,
    /// Client port on its host's address.
    pub client_port: u16,
    /// Peer port on its host's address.
    pub peer_port: u16,
    /// Its data directory.
    pub data_dir: PathBuf,
    log: PathBuf,
}

impl Member {
    /// Starts a single-member cluster with its data under `dir`, and waits until it serves.
    pub fn start(dir: &Path, name: &str) -> Member {
        let (client_port, peer_port) = (free_port(), free_port());
        let cluster = format!("{name}=http://127.0.0.1:{peer_port}");
        let mut m = Member::new(dir, name, client_port, peer_port, &cluster, "new", &[]);
        m.spawn();
        m.wait_healthy();
        m
    }

    /// Describes a member on loopback without starting it.
    pub fn new(
        dir: &Path,
        name: &str,
        client_port: u16,
        peer_port: u16,
        initial_cluster: &str,
        state: &str,
        extra: &[&str],
    ) -> Member {
        Member::new_on(Host::loopback(), dir, name, (client_port, peer_port), initial_cluster, state, extra)
    }

    /// Describes a member on `host` without starting it; `ports` are its client and peer
    /// ports.
    pub fn new_on(
        host: Host,
        dir: &Path,
        name: &str,
        (client_port, peer_port): (u16, u16),
        initial_cluster: &str,
        state: &str,
        extra: &[&str],
    ) -> Member {
        let data_dir = dir.join(format!("{name}.etcd"));
        let client = format!("http://{}:{client_port}", host.ip);
        let peer = format!("http://{}:{peer_port}", host.ip);
        let mut args = vec![
            format!("--name={name}"),
            format!("--data-dir={}", data_dir.display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={initial_cluster}"),
            format!("--initial-cluster-state={state}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Member {
            child: None,
            name: name.to_string(),
            args,
            host,
            client_port,
            peer_port,
            data_dir,
            log: dir.join(format!("{name}.log")),
        }
    }

    /// Starts the process (without waiting for it to serve).
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open member log");
        let err = log.try_clone().expect("clone log handle");
        let mut command = match &self.host.netns {
            // `ip netns exec` enters the namespace and then execs the member, so the child's
            // process id is the member's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin("etcd-rs"));
                c
            }
            None => Command::new(bin("etcd-rs")),
        };
        let child =
            command.args(&self.args).env_remove("ETCD_RS_LOG").stdout(log).stderr(err).spawn().expect("spawn etcd-rs");
        self.child = Some(child);
    }

    /// The process id (0 when not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Waits until `/health` answers 200 (the member sees a leader).
    pub fn wait_healthy(&self) {
        wait_healthy(&self.host.ip, self.client_port, &self.log);
    }

    /// `address:port` (`127.0.0.1:port` on loopback), as etcdctl's `--endpoints` takes it.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host.ip, self.client_port)
    }

    /// `http://address:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint())
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }

    /// SIGSTOP: the process freezes (a stand-in for a long pause or a stalled VM) until
    /// [`Member::resume`]; its sockets stay open, so peers and clients see it hang.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`Member::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let status = Command::new("kill").args([sig, &c.id().to_string()]).status().expect("run kill");
            assert!(status.success(), "kill {sig} {} failed", c.id());
        }
    }

    /// SIGTERM, then wait for a clean exit; returns whether it exited with status 0.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else { return false };
        Command::new("kill").args(["-TERM", &c.id().to_string()]).status().ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        c.kill().ok();
        c.wait().ok();
        false
    }

    /// Waits up to `timeout` for the process to exit by itself; returns whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        self.child.is_none() || self.exit_status_within(timeout).is_some()
    }

    /// Waits up to `timeout` for the process to exit by itself; returns how it exited, if
    /// it did.
    pub fn exit_status_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.as_mut()?.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Starts the member again on the same ports and data dir and waits until it serves.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_healthy();
    }

    /// The member's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_healthy(ip: &str, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http_at(ip, port, "GET", "/health") {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("etcd-rs on {ip}:{port} did not become healthy; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// A plain HTTP/1.1 GET to 127.0.0.1; returns status and body.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http(port, "GET", path)
}

/// A plain HTTP/1.1 request without body to 127.0.0.1; returns status and body.
pub fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_at("127.0.0.1", port, method, path)
}

/// A plain HTTP/1.1 request without body to `ip`; returns status and body.
pub fn http_at(ip: &str, port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect((ip, port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Runs `etcd-rs` with `args` to completion (for configurations that must be refused).
pub fn run_server_expecting_exit(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = Command::new(bin("etcd-rs"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn etcd-rs");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() > deadline {
            child.kill().ok();
            let out = child.wait_with_output().expect("collect output");
            panic!("etcd-rs {args:?} did not exit; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
