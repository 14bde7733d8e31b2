//! The login-flood part of `roost bench`: 200 clients from 127.0.0.200-249 send wrong
//! passwords to the master's API, SSH and join-cluster port (a third each) while the right
//! user logs in over SSH from 127.0.0.1 with OpenSSH.
//!
//! * `flood_spurious_failovers`: failovers on either member during the flood (target 0).
//! * `flood_master_rss_kib_peak`: the master's peak resident memory (VmHWM) by the end of the
//!   flood (target ≤ 256 MB).
//! * `flood_ssh_login_ms`: the slowest of the SSH logins (`ssh admin@master 'show clock'`,
//!   login and command) made from 127.0.0.1 during the flood (target ≤ 2000).
//! * `flood_attempts_api` / `flood_attempts_ssh` / `flood_attempts_join`: wrong-password
//!   attempts the clients completed (refused at once or after a check), for context.

use anyhow::{Context, Result};
use roost_testkit::ControllerProcess;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 200;
const SOURCES: u8 = 50;
const WRONG: &str = "not-the-password";

fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 200 + (i as u8 % SOURCES)))
}

/// VmHWM (peak resident set) of a process, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn connect_from(src: IpAddr, to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src, 0))?;
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect"))?
}

/// One wrong-password API request (a fresh connection each time, like a naive script).
async fn api_attempt(client: &reqwest::Client, url: &str) -> bool {
    client
        .get(url)
        .basic_auth("admin", Some(WRONG))
        .send()
        .await
        .is_ok()
}

struct AnyHostKey;

impl russh::client::Handler for AnyHostKey {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// One SSH connection trying wrong passwords until the server gives up on it.
async fn ssh_attempt(src: IpAddr, to: SocketAddr, done: &AtomicU64) -> bool {
    let Ok(stream) = connect_from(src, to).await else {
        return false;
    };
    let config = Arc::new(russh::client::Config::default());
    let Ok(Ok(mut handle)) = tokio::time::timeout(
        Duration::from_secs(10),
        russh::client::connect_stream(config, stream, AnyHostKey),
    )
    .await
    else {
        return false;
    };
    for _ in 0..3 {
        match tokio::time::timeout(
            Duration::from_secs(10),
            handle.authenticate_password("admin", WRONG),
        )
        .await
        {
            Ok(Ok(_)) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            _ => break,
        }
    }
    true
}

/// One join-cluster attempt with the right release but a wrong password, over TLS on 5349, as
/// an attacker without the password can make it: a real OPAQUE KE1 (cheap: the KSF runs only
/// when a client finishes), then, since no KE3 can be computed without the password, a KE3 of
/// the right size that cannot verify. That is the primary's whole work per attempt.
async fn join_attempt(src: IpAddr, to: SocketAddr, tls: &tokio_rustls::TlsConnector) -> bool {
    use roost_wire::join::{decode_json, decode_len, encode_json, JoinChallenge, JoinHello};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(stream) = connect_from(src, to).await else {
        return false;
    };
    let name = rustls::pki_types::ServerName::IpAddress(to.ip().into());
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(10), tls.connect(name, stream)).await
    else {
        return false;
    };
    let Ok((_state, ke1)) = roost_wire::pake::client_start(WRONG) else {
        return false;
    };
    let hello = JoinHello {
        protocol_version: roost_wire::PROTOCOL_VERSION,
        software_version: roost_daemon::member::software_version(),
        user: "admin".into(),
        ke1: hex(&ke1),
    };
    if s.write_all(&encode_json(&hello)).await.is_err() {
        return false;
    }
    let read = async {
        let mut prefix = [0u8; 4];
        s.read_exact(&mut prefix).await.ok()?;
        let len = decode_len(prefix).ok()?;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.ok()?;
        decode_json::<JoinChallenge>(&body).ok()
    };
    let Ok(Some(JoinChallenge::Challenge { .. })) =
        tokio::time::timeout(Duration::from_secs(15), read).await
    else {
        return true; // refused at once (backoff, busy): the primary did its part
    };
    let proof = roost_wire::join::JoinProof {
        ke3: hex(&[0x5a; 64]),
        sealed_request: hex(&[0xa5; 64]),
    };
    if s.write_all(&encode_json(&proof)).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut answer))
        .await
        .is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OpenSSH login of the right user from 127.0.0.1, running one command; its duration.
fn operator_ssh_login(master: &ControllerProcess, askpass: &std::path::Path) -> Result<Duration> {
    let t = Instant::now();
    let out = roost_testkit::openssh(
        master,
        askpass,
        &[
            "-F",
            "/dev/null",
            "-b",
            "127.0.0.1",
            "-o",
            "PubkeyAuthentication=no",
        ],
    )
    .arg("show clock")
    .output()
    .context("running ssh (is openssh-client installed?)")?;
    let took = t.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "the operator's SSH login failed after {took:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// Runs the flood against `master` (its peer is `standby`) for `secs` seconds and prints the
/// figures.
pub fn run(
    master: &ControllerProcess,
    standby: &ControllerProcess,
    secs: u64,
    dir: &std::path::Path,
) -> Result<()> {
    let failovers = |c: &ControllerProcess| crate::bench::failovers(c).map(|v| v.len());
    let before = failovers(master)? + failovers(standby)?;
    let askpass =
        roost_testkit::askpass_script(dir, "askpass-flood.sh", &master.spec.admin_password)?;
    let pid = master.pid().context("master has no pid")?;
    let api_url = format!("{}/api/v1/cluster/status", master.api_url());
    let ssh_addr = SocketAddr::new(master.spec.ip, master.spec.ssh_port);
    let join_port: u16 = master
        .field("join")
        .and_then(|j| j.rsplit(':').next()?.parse().ok())
        .unwrap_or(5349);
    let join_addr = SocketAddr::new(master.spec.ip, join_port);

    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tls = tokio_rustls::TlsConnector::from(roost_api::tls::insecure_client_config());
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (stop, counts, api_url, tls) =
            (stop.clone(), counts.clone(), api_url.clone(), tls.clone());
        let src = source(i);
        tasks.push(rt.spawn(async move {
            let api = reqwest::Client::builder()
                .use_preconfigured_tls((*roost_api::tls::insecure_client_config()).clone())
                .local_address(src)
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(15))
                .build();
            let Ok(api) = api else { return };
            while !stop.load(Ordering::Relaxed) {
                let ok = match i % 3 {
                    0 => {
                        let ok = api_attempt(&api, &api_url).await;
                        if ok {
                            counts[0].fetch_add(1, Ordering::Relaxed);
                        }
                        ok
                    }
                    1 => ssh_attempt(src, ssh_addr, &counts[1]).await,
                    _ => {
                        let ok = join_attempt(src, join_addr, &tls).await;
                        if ok {
                            counts[2].fetch_add(1, Ordering::Relaxed);
                        }
                        ok
                    }
                };
                if !ok {
                    // Refused at the door (e.g. over the SSH connection caps): try again soon.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    // The operator logs in every few seconds while the flood runs (the first after 2 s, so the
    // flood is in full swing).
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut logins = Vec::new();
    let mut next = start + Duration::from_secs(2.min(secs));
    let mut login_error = None;
    while Instant::now() < deadline {
        if Instant::now() >= next {
            match operator_ssh_login(master, &askpass) {
                Ok(d) => logins.push(d),
                Err(e) => {
                    login_error.get_or_insert(e);
                }
            }
            next = Instant::now() + Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let peak = peak_rss_kib(pid).unwrap_or(0);
    rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    // Let the cluster settle before reading the history (a late failover still counts).
    std::thread::sleep(Duration::from_secs(1));
    let after = failovers(master)? + failovers(standby)?;
    println!("flood_spurious_failovers {}", after.saturating_sub(before));
    println!("flood_master_rss_kib_peak {peak}");
    match (logins.iter().max(), login_error) {
        (_, Some(e)) => {
            println!("flood_ssh_login_ms failed");
            eprintln!("{e:#}");
        }
        (Some(max), None) => println!("flood_ssh_login_ms {:.1}", max.as_secs_f64() * 1000.0),
        (None, None) => println!("flood_ssh_login_ms none"),
    }
    for (name, c) in ["api", "ssh", "join"].iter().zip(counts.iter()) {
        println!("flood_attempts_{name} {}", c.load(Ordering::Relaxed));
    }
    Ok(())
}
