//! Members in network namespaces of their own, so that a test can cut the links between
//! members (a network partition) while its clients still reach every member.
//!
//! Layout, all made by [`Network::create`] and removed when the [`Network`] is dropped: a
//! switch namespace holding a bridge; one namespace per member, its `eth0` a veth into the
//! bridge with address `10.213.N.(10 + i)`; and a veth from the test's namespace into the
//! bridge with `10.213.N.1`, through which the test's clients connect. No traffic leaves
//! these namespaces. The bridge sits in a namespace of its own so that the host's firewall
//! (Docker, say, sets its `FORWARD` policy to drop) never sees the members' traffic.
//! [`Network::isolate`] drops, inside one member's namespace, every packet to or from the
//! other members' addresses ([`Network::cut`] those of one other member, [`Network::deafen`]
//! only those coming in), and [`Network::heal`] removes those rules.
//!
//! Needs root (`CAP_NET_ADMIN`), `ip` and `iptables`.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Host;

/// A test's private network of member namespaces.
pub struct Network {
    /// Prefix of every namespace and interface name, unique to this process.
    prefix: String,
    /// The /24's first three octets.
    subnet: String,
    members: usize,
}

/// Runs `ip`/`iptables` arguments, in namespace `ns` when given; panics with the command's
/// output when it fails.
fn run(ns: Option<&str>, args: &[&str]) {
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]);
            c.args(args);
            c
        }
        None => {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        }
    };
    let out = command.output().unwrap_or_else(|e| panic!("run {args:?}: {e} (this test needs ip and iptables)"));
    assert!(
        out.status.success(),
        "{ns:?} {args:?} failed (this test needs root for network namespaces): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Network {
    /// Creates the namespaces and links for `members` members.
    pub fn create(members: usize) -> Network {
        // Names and subnet unique to this process, and to this network within it.
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let (pid, n) = (std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
        let net = Network {
            prefix: format!("l{}n{n}", pid % 100_000),
            subnet: format!("10.213.{}", 20 + (pid + n) % 200),
            members,
        };
        let sw = net.switch();
        run(None, &["ip", "netns", "add", &sw]);
        run(Some(&sw), &["ip", "link", "add", "br0", "type", "bridge"]);
        run(Some(&sw), &["ip", "link", "set", "br0", "up"]);
        let uplink = format!("{}h", net.prefix);
        run(None, &["ip", "link", "add", &uplink, "type", "veth", "peer", "name", "uplink", "netns", &sw]);
        run(None, &["ip", "addr", "add", &format!("{}.1/24", net.subnet), "dev", &uplink]);
        run(None, &["ip", "link", "set", &uplink, "up"]);
        run(Some(&sw), &["ip", "link", "set", "uplink", "master", "br0"]);
        run(Some(&sw), &["ip", "link", "set", "uplink", "up"]);
        for i in 0..members {
            let ns = net.namespace(i);
            let port = format!("{}{i}", net.prefix);
            run(None, &["ip", "netns", "add", &ns]);
            run(
                None,
                &["ip", "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns", &ns],
            );
            run(Some(&sw), &["ip", "link", "set", &port, "master", "br0"]);
            run(Some(&sw), &["ip", "link", "set", &port, "up"]);
            run(Some(&ns), &["ip", "addr", "add", &format!("{}/24", net.address(i)), "dev", "eth0"]);
            run(Some(&ns), &["ip", "link", "set", "eth0", "up"]);
            run(Some(&ns), &["ip", "link", "set", "lo", "up"]);
        }
        net
    }

    fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    fn namespace(&self, i: usize) -> String {
        format!("{}m{i}", self.prefix)
    }

    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// Where member `i` runs.
    pub fn host(&self, i: usize) -> Host {
        Host { ip: self.address(i), netns: Some(self.namespace(i)) }
    }

    /// Cuts member `i` off from every other member, both ways; the test's clients still
    /// reach it.
    pub fn isolate(&self, i: usize) {
        for j in (0..self.members).filter(|&j| j != i) {
            self.cut(i, j);
        }
    }

    /// Cuts the link between members `i` and `j` alone, both ways: each still reaches every
    /// other member. With three members the third is then a bridge between the two.
    pub fn cut(&self, i: usize, j: usize) {
        self.drop_from(i, j, true);
    }

    /// Member `i` hears no other member, yet what it sends still leaves. Over TCP this is
    /// not one-way for long: the acknowledgements of what it sends are lost too, so its
    /// connections stall after a retransmission timeout and no new one opens; an
    /// isolation that starts from one side.
    pub fn deafen(&self, i: usize) {
        for j in (0..self.members).filter(|&j| j != i) {
            self.drop_from(i, j, false);
        }
    }

    /// Drops, inside member `i`'s namespace, what comes from member `j` and, if `both`, what
    /// goes to it.
    fn drop_from(&self, i: usize, j: usize, both: bool) {
        let ns = self.namespace(i);
        let other = self.address(j);
        run(Some(&ns), &["iptables", "-A", "INPUT", "-s", &other, "-j", "DROP"]);
        if both {
            run(Some(&ns), &["iptables", "-A", "OUTPUT", "-d", &other, "-j", "DROP"]);
        }
    }

    /// Undoes [`Network::isolate`], [`Network::deafen`] or [`Network::cut`] of member `i`
    /// (for a cut, the member named first).
    pub fn heal(&self, i: usize) {
        let ns = self.namespace(i);
        run(Some(&ns), &["iptables", "-F", "INPUT"]);
        run(Some(&ns), &["iptables", "-F", "OUTPUT"]);
    }
}

impl Drop for Network {
    /// Removes the namespaces; their interfaces, the test side's included, go with them.
    /// Processes still running in a namespace keep it alive until they exit, so drop the
    /// members first.
    fn drop(&mut self) {
        for ns in (0..self.members).map(|i| self.namespace(i)).chain([self.switch()]) {
            Command::new("ip").args(["netns", "del", &ns]).output().ok();
        }
    }
}
