//! Hosts in network namespaces on one switch: a bridge inside a namespace of its own, so that
//! nothing a test sends (DHCP broadcasts above all) reaches the machine's own namespace. Each
//! host gets `eth0` (a veth whose peer is on the bridge) and `lo`, and the address it is given,
//! if any (a DHCP client's host has none). Everything is removed on drop: deleting a namespace
//! deletes its veth ends. Needs root.

use anyhow::{bail, Context, Result};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `args` (program first) and fails with its stderr if it fails.
pub fn sh(args: &[&str]) -> Result<Output> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("cannot run {args:?}"))?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out)
}

/// The namespaces of one switch. See the module docs.
pub struct Switch {
    tag: String,
    switch_ns: String,
    hosts: Vec<(String, String)>,
}

impl Switch {
    /// A switch with `hosts` (name, address with prefix such as `10.77.0.1/16`, or `None`).
    /// Names are short (`srv1`, `cli`): each namespace is `rs<tag>-<name>`.
    pub fn new(hosts: &[(&str, Option<&str>)]) -> Result<Switch> {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{k}", std::process::id() % 100_000);
        let switch_ns = format!("rs{tag}-sw");
        let mut sw = Switch {
            tag,
            switch_ns: switch_ns.clone(),
            hosts: Vec::new(),
        };
        sh(&["ip", "netns", "add", &switch_ns])?;
        sw.in_switch(&["ip", "link", "add", "br0", "type", "bridge"])?;
        sw.in_switch(&["ip", "link", "set", "br0", "up"])?;
        sw.in_switch(&["ip", "link", "set", "lo", "up"])?;
        for (i, (name, addr)) in hosts.iter().enumerate() {
            let ns = format!("rs{}-{name}", sw.tag);
            sh(&["ip", "netns", "add", &ns])?;
            sw.hosts.push((name.to_string(), ns.clone()));
            let port = format!("p{i}");
            sh(&[
                "ip", "-n", &switch_ns, "link", "add", &port, "type", "veth", "peer", "name",
                "eth0", "netns", &ns,
            ])?;
            sw.in_switch(&["ip", "link", "set", &port, "master", "br0"])?;
            sw.in_switch(&["ip", "link", "set", &port, "up"])?;
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
            if let Some(a) = addr {
                sh(&["ip", "-n", &ns, "addr", "add", a, "dev", "eth0"])?;
            }
        }
        Ok(sw)
    }

    fn in_switch(&self, args: &[&str]) -> Result<Output> {
        let mut full = vec!["ip", "netns", "exec", &self.switch_ns];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// The namespace of host `name`.
    pub fn ns(&self, name: &str) -> &str {
        self.hosts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ns)| ns.as_str())
            .unwrap_or_else(|| panic!("no host {name} on this switch"))
    }

    /// A command run inside host `name` (`ip netns exec …`).
    pub fn command(&self, name: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns(name), program]);
        c
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        for (_, ns) in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.switch_ns])
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> bool {
        let root = nix::unistd::Uid::effective().is_root();
        assert!(
            root || std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: namespace tests must run"
        );
        root
    }

    /// Two hosts on a switch reach each other, the machine's namespace sees none of it, and
    /// dropping the switch removes every namespace it made.
    #[test]
    fn hosts_on_a_switch_reach_each_other_and_are_removed_on_drop() {
        if !root() {
            eprintln!("skipping: network namespaces need root");
            return;
        }
        let sw = Switch::new(&[("a", Some("10.77.0.1/16")), ("b", Some("10.77.0.2/16"))]).unwrap();
        // A datagram from a to b (Python's socket module: no ping on these machines).
        let mut listener = sw
            .command("b", "python3")
            .args([
                "-c",
                "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                 s.bind(('10.77.0.2', 9999)); s.settimeout(5); print(s.recv(64).decode())",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        for _ in 0..50 {
            let _ = sw
                .command("a", "python3")
                .args([
                    "-c",
                    "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\
                     .sendto(b'hello', ('10.77.0.2', 9999))",
                ])
                .status();
            std::thread::sleep(std::time::Duration::from_millis(100));
            if listener.try_wait().unwrap().is_some() {
                break;
            }
        }
        let out = listener.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
        let names: Vec<String> = [sw.ns("a"), sw.ns("b"), sw.switch_ns.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        drop(sw);
        let list = String::from_utf8(sh(&["ip", "netns", "list"]).unwrap().stdout).unwrap();
        for n in names {
            assert!(
                !list
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(&n)),
                "{n} left"
            );
        }
    }
}
