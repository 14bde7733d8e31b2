//! Layer 4: Wireshark's `tshark` (a client no one here wrote) captures two real controllers on
//! loopback and checks on the wire what the docs claim: the member channel (UDP 24576) carries
//! only sealed `RST1` v1 datagrams, in both directions; no SSID or password crosses in clear;
//! after join-cluster, TCP 5349 falls silent and the member channel is the only
//! member-to-member traffic. And CAPWAP between a controller and a `roost ap` fleet: no
//! malformed packet, DSCP CS6 on control, every field tshark decodes as the controller recorded
//! or advertised it.
//!
//! Needs `tshark` and the right to capture on `lo` (root, or capabilities): CI installs tshark
//! (`.ci/run`) and runs as root with CI=true, where both are required; elsewhere the test is
//! skipped with a message.

use roost_testkit as harness;

use harness::{run, wait_for, wait_steady, ControllerProcess, Spec};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const A: &str = "127.0.0.111";
const B: &str = "127.0.0.112";
const SSID: &str = "Secret-SSID-8f3a91";
const PASSWORD: &str = "admin123";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips (returns false) outside CI, fails in CI, where the prerequisite must be met.
fn skip(why: &str) -> bool {
    assert!(!in_ci(), "CI must run the capture test: {why}");
    eprintln!("skipping capture test: {why}");
    false
}

fn tshark_present() -> bool {
    match Command::new("tshark")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => true,
        _ => skip("tshark is not installed (apt-get install tshark; .ci/run does it as root)"),
    }
}

/// A running `tshark` capture, stopped by PID: SIGINT (so it finishes the file), bounded wait,
/// then SIGKILL. tshark runs in its own process group (id = its PID) with its `dumpcap`, which
/// outlives a SIGKILLed tshark, so SIGKILL goes to that group. Drop stops it too, so a failing
/// test leaks no capture.
struct Capture {
    child: Option<Child>,
    file: PathBuf,
    stderr: Arc<Mutex<String>>,
    /// Receives () when tshark's stderr reaches EOF (it exited).
    eof: std::sync::mpsc::Receiver<()>,
}

enum Start {
    Capturing(Capture),
    /// tshark could not capture (permissions): its stderr.
    Refused(String),
}

impl Capture {
    /// [`Capture::start`], or None (the test is skipped) where capturing is not allowed: never
    /// as root, and never in CI.
    fn start_or_skip(file: &Path, filter: &str, marker_to: &str) -> Option<Capture> {
        match Capture::start(file, filter, marker_to) {
            Start::Capturing(c) => Some(c),
            Start::Refused(err) => {
                if nix::unistd::Uid::effective().is_root() {
                    panic!("tshark could not capture on lo as root:\n{err}");
                }
                skip(&format!(
                    "capturing on lo needs root or capabilities:\n{err}"
                ));
                None
            }
        }
    }

    /// Starts tshark and waits (bounded) until it really captures: it prints "Capturing on
    /// 'Loopback: lo'", but does so before `dumpcap` has opened the interface (also when it
    /// then fails for lack of permission), so a marker datagram must also reach the file.
    fn start(file: &Path, filter: &str, marker_to: &str) -> Start {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("tshark")
            .args(["-n", "-i", "lo", "-f", filter, "-F", "pcap", "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start tshark");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, capturing) = std::sync::mpsc::channel();
        let (eof_tx, eof) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            // Ends at EOF, i.e. when tshark exits.
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&line);
                if line.contains("Capturing on 'Loopback: lo'") {
                    let _ = tx.send(());
                }
                line.clear();
            }
            let _ = eof_tx.send(());
        });
        let mut cap = Capture {
            child: Some(child),
            file: file.to_path_buf(),
            stderr,
            eof,
        };
        let live = capturing.recv_timeout(Duration::from_secs(20)).is_ok()
            && cap.marker_reaches_file(marker_to, "start");
        if live {
            Start::Capturing(cap)
        } else {
            cap.kill9();
            Start::Refused(cap.stderr())
        }
    }

    /// Sends marker datagrams (from 127.0.0.1 to a closed port of `to`: captured, yet not
    /// member-to-member) until one is in the file; false if tshark exits or 15 s pass.
    fn marker_reaches_file(&mut self, to: &str, tag: &str) -> bool {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind marker socket");
        let marker = format!("roost-capture-marker-{tag}-{}", std::process::id());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let _ = sock.send_to(marker.as_bytes(), (to, 9));
            let raw = std::fs::read(&self.file).unwrap_or_default();
            if raw.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                return true;
            }
            let exited = match self.child.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => true,
            };
            if exited {
                // Let the reader thread collect tshark's last words (bounded).
                let _ = self.eof.recv_timeout(Duration::from_secs(2));
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The kernel hands captured packets to dumpcap in blocks, and a block not yet handed
    /// over when tshark stops is lost. So before stopping, a marker must reach the file:
    /// everything captured before it is then written too.
    fn wait_flushed(&mut self, to: &str) {
        let ok = self.marker_reaches_file(to, "end");
        assert!(
            ok,
            "capture did not reach the file within 15 s:\n{}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGINT, at most 10 s for tshark to finish the file, then SIGKILL.
    fn stop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("tshark did not stop on SIGINT; killing it");
        }
        self.kill9();
    }

    /// SIGKILL to tshark's process group (tshark and dumpcap), then reaps tshark.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // While tshark is not reaped its PID, the group's id, cannot be reused.
            if let Ok(None) = c.try_wait() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(c.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Capture {
    /// Also on panic: SIGINT first, so tshark reaps its dumpcap; SIGKILL if that fails.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the capture back: one row per frame matching `display_filter`, tab-separated
/// `fields`. The member channel is forced to the data dissector so `data.data` holds the whole
/// UDP payload whatever tshark would otherwise make of port 24576.
fn read_fields(file: &Path, display_filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(file)
        .args(["-d", "udp.port==24576,data", "-o", "capwap.swap_fc:FALSE"])
        .args(["-Y", display_filter])
        .args(["-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run tshark -r");
    assert!(
        out.status.success(),
        "tshark -r -Y {display_filter:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("tshark output is UTF-8")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn spawn(dir: &Path, name: &str, ip: &str, mac: &str) -> ControllerProcess {
    ControllerProcess::spawn(
        &bin(),
        Spec::new(name, ip, &dir.join(name)).arg(&format!("--mac {mac} --hostname {name}")),
    )
    .unwrap()
}

#[test]
fn tshark_sees_only_sealed_member_datagrams_after_join() {
    if !tshark_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c1 = spawn(dir.path(), "capture-1", A, "52-54-00-CA-11-11");
    let c2 = spawn(dir.path(), "capture-2", B, "52-54-00-CA-11-12");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name CAPTURE",
            "cluster master-priority 250",
            "commit write",
        ],
    );

    let pcap = dir.path().join("members.pcap");
    let Some(mut cap) = Capture::start_or_skip(&pcap, &format!("host {A} or host {B}"), A) else {
        return;
    };

    // Join, then a WLAN committed on the standby that must reach the primary.
    let join = format!("join-cluster {A} user admin password {PASSWORD} level 1 mode standby");
    let r = run(&c2, &[&join]);
    assert!(r.ends_with("[OK]\n"), "{r}");
    let joined_at = now_epoch();
    wait_steady(&[&c1, &c2]);
    run(
        &c2,
        &[
            "configure terminal",
            "wlan capture-test",
            &format!("ssid {SSID}"),
            "commit",
        ],
    );
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        run(&c1, &["show running-config"])
            .contains(&format!("ssid {SSID}"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("WLAN did not reach capture-1\n{}", c1.log_tail(30)));

    cap.wait_flushed(A);
    cap.stop();
    let tshark_log = cap.stderr();
    drop(c2);
    drop(c1);

    // 1. The member channel: both directions, every datagram sealed with the RST1 header of
    // this protocol version.
    // ICMP errors quote UDP datagrams; only real UDP frames count.
    let rows = read_fields(
        &pcap,
        "udp.port==24576 && !icmp",
        &[
            "ip.src",
            "ip.dst",
            "udp.srcport",
            "udp.dstport",
            "data.data",
        ],
    );
    let mut per_direction: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut senders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in &rows {
        let [src, dst, sport, dport, payload] = &row[..] else {
            panic!("unexpected row {row:?}");
        };
        assert!(
            [A, B].contains(&src.as_str()) && [A, B].contains(&dst.as_str()) && src != dst,
            "member-channel datagram not between the members: {row:?}"
        );
        assert_eq!(
            (sport.as_str(), dport.as_str()),
            ("24576", "24576"),
            "{row:?}"
        );
        let payload = payload.replace(':', "").to_ascii_lowercase();
        // "RST1" | version | sender u32 | boot u32 | seq u32 | ciphertext | 16-byte tag
        let header = format!("52535431{:02x}", roost_wire::PROTOCOL_VERSION);
        assert!(
            payload.starts_with(&header),
            "datagram without the RST1 header {header}: {row:?}"
        );
        assert!(
            payload.len() >= 2 * (17 + 16),
            "datagram too short: {row:?}"
        );
        senders
            .entry(src.clone())
            .or_default()
            .insert(payload[10..18].to_string());
        *per_direction.entry((src.clone(), dst.clone())).or_default() += 1;
    }
    let a_to_b = per_direction
        .get(&(A.to_string(), B.to_string()))
        .copied()
        .unwrap_or(0);
    let b_to_a = per_direction
        .get(&(B.to_string(), A.to_string()))
        .copied()
        .unwrap_or(0);
    assert!(
        a_to_b > 0 && b_to_a > 0,
        "member channel not seen in both directions: {per_direction:?}\n{tshark_log}"
    );
    // Each member seals with one member id, and the two differ.
    assert!(
        senders.values().all(|ids| ids.len() == 1),
        "a member sealed with several member ids: {senders:?}"
    );
    assert_ne!(senders[A], senders[B], "{senders:?}");

    // 2. Nothing secret in clear: neither in the file's raw bytes nor in any frame per tshark.
    let raw = std::fs::read(&pcap).unwrap();
    for secret in [SSID, PASSWORD] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} in clear in the capture"
        );
        let hits = read_fields(
            &pcap,
            &format!("frame contains \"{secret}\""),
            &["frame.number"],
        );
        assert!(hits.is_empty(), "{secret:?} in clear in frames {hits:?}");
    }
    // The same filter does find what is in clear (the magic), so the check above can fail.
    assert!(!read_fields(&pcap, "frame contains \"RST1\"", &["frame.number"]).is_empty());

    // 3. The join ran on TCP 5349, between the two controllers' own addresses (the joiner
    // binds its --ip, like the member channel), and ended with the join: afterwards only the
    // member channel carries member-to-member traffic.
    //
    // The join's own connection may finish closing just after join-cluster returned: the
    // joiner closes it (FIN) before applying the configuration, and the controller answers
    // with its TLS close_notify (one 24-byte alert record), which the joiner, gone, answers
    // with RST. On a loaded machine those last frames can land after the API answer. That
    // teardown is all that may follow: no new connection, no data record, nothing after 2 s.
    let join_frames = read_fields(
        &pcap,
        "tcp.port==5349",
        &[
            "frame.time_epoch",
            "tcp.stream",
            "tcp.len",
            "tcp.flags.syn",
            "tcp.flags.fin",
            "tcp.flags.reset",
        ],
    );
    let outsiders = read_fields(
        &pcap,
        &format!(
            "tcp.port==5349 && !((ip.src=={A} && ip.dst=={B}) || (ip.src=={B} && ip.dst=={A}))"
        ),
        &["ip.src", "ip.dst"],
    );
    assert!(
        outsiders.is_empty(),
        "join-cluster traffic not between the controllers' addresses: {outsiders:?}"
    );
    let t = |row: &Vec<String>| -> f64 { row[0].parse().expect("frame.time_epoch") };
    // tshark 4.0 prints booleans as 1/0, later versions as True/False.
    let set = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    let join_streams: BTreeSet<&str> = join_frames
        .iter()
        .filter(|r| t(r) < joined_at)
        .map(|r| r[1].as_str())
        .collect();
    assert!(
        !join_streams.is_empty(),
        "no join-cluster traffic captured on TCP 5349"
    );
    let late: Vec<&Vec<String>> = join_frames.iter().filter(|r| t(r) >= joined_at).collect();
    for r in &late {
        let len: usize = r[2].parse().expect("tcp.len");
        assert!(
            join_streams.contains(r[1].as_str())
                && !set(&r[3])
                && len <= 24
                && t(r) < joined_at + 2.0,
            "TCP 5349 after the join completed ({joined_at:.6}) beyond the join's teardown: \
             {r:?}\nall 5349 frames: {join_frames:?}"
        );
    }
    for stream in late.iter().map(|r| r[1].as_str()).collect::<BTreeSet<_>>() {
        assert!(
            join_frames
                .iter()
                .any(|r| r[1] == stream && (set(&r[4]) || set(&r[5]))),
            "join connection {stream} still open: {join_frames:?}"
        );
    }
    let other: Vec<Vec<String>> = read_fields(
        &pcap,
        &format!(
            "(ip.src=={A} || ip.src=={B}) && (ip.dst=={A} || ip.dst=={B}) && ip.src != ip.dst \
             && !(udp.srcport==24576 && udp.dstport==24576 && !icmp)"
        ),
        &[
            "frame.time_epoch",
            "ip.src",
            "ip.dst",
            "_ws.col.Protocol",
            "_ws.col.Info",
        ],
    )
    .into_iter()
    .filter(|r| t(r) >= joined_at)
    .collect();
    assert!(
        other.is_empty(),
        "member-to-member traffic besides the member channel after the join: {other:?}"
    );
    eprintln!(
        "capture: {} member datagrams ({a_to_b} {A}->{B}, {b_to_a} {B}->{A}), {} TCP 5349 frames ({} of its teardown after join-cluster returned), {} bytes of pcap",
        rows.len(),
        join_frames.len(),
        late.len(),
        raw.len()
    );
}

/// Layer 4 for CAPWAP: a real controller with 4 AAP licences, a `roost ap` fleet of 5, and
/// tshark as the third, independent judge of both sides' bytes. It fails on any malformed
/// CAPWAP packet, on any control packet without DSCP CS6, and on any field tshark decodes
/// differently from what the controller recorded (`GET /api/v1/aps`) or advertised (AC Name,
/// AC Descriptor). The licence shortfall shows on the wire: one AP gets Join Responses with
/// Result Code 4 (Resource Depletion), the others 0 and reach Run.
///
/// Honest about what is in clear: CAPWAP control runs without DTLS until a later issue, so
/// the WTP and AC names travel readable (the test finds them); the member channel stays sealed
/// (the test above).
#[test]
fn tshark_decodes_capwap_adoption_as_sent() {
    const AC: &str = "127.0.0.113";
    const FLEET_BASE: [u8; 4] = [127, 26, 0, 1];
    const WLAN_SSID: &str = "Capwap-Corp-5e2d";
    const WLAN_PSK: &str = "Capwap-Passphrase-a41c";
    if !tshark_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = ControllerProcess::spawn(
        &bin(),
        Spec::new("capwap-ac", AC, &dir.path().join("capwap-ac"))
            .arg("--mac 52-54-00-CA-11-13 --hostname capwap-ac --aap-licenses 4"),
    )
    .unwrap();
    let pcap = dir.path().join("capwap.pcap");
    let Some(mut cap) = Capture::start_or_skip(&pcap, &format!("host {AC}"), AC) else {
        return;
    };
    let base = FLEET_BASE.map(|b| b.to_string()).join(".");
    let fleet = Command::new(bin())
        .args(["ap", "--count", "5", "--controller-list"])
        .arg(format!("pool1={AC};level=1"))
        .args([
            "--base-ip",
            &base,
            "--seed",
            "11",
            "--discovery-interval",
            "1",
        ])
        .args(["--duration", "10", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut fleet = roost_testkit::KillOnDrop::new(fleet);
    // Four adopted, one refused for lack of a licence: the API's rows are what tshark must
    // confirm.
    let rows = wait_for(Duration::from_secs(9), Duration::from_millis(100), || {
        let v = c.get_json("/api/v1/aps").ok()?;
        let rows = v.as_array()?.clone();
        let adopted = rows.iter().filter(|r| r["state"] == "adopted").count();
        let refused = rows.iter().filter(|r| r["state"] == "refused").count();
        (adopted == 4 && refused == 1).then_some(rows)
    })
    .unwrap_or_else(|| {
        panic!(
            "4 adopted and 1 refused: {:?}\n{}",
            c.get_json("/api/v1/aps"),
            c.log_tail(30)
        )
    });
    // A WPA2-PSK WLAN for AP7532s: the Add WLAN goes to the 4 adopted APs.
    let out = run(
        &c,
        &[
            "configure terminal",
            "wlan capwap",
            &format!("ssid {WLAN_SSID}"),
            "encryption-type ccmp",
            &format!("wpa-wpa2 psk 0 {WLAN_PSK}"),
            "exit",
            "profile ap7532 default-ap7532",
            "interface radio1",
            "wlan capwap bss 1 primary",
            "end",
            "commit",
        ],
    );
    assert!(!out.contains("Error"), "{out}");
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&c, &["show adoption status"])
            .contains("WLAN changes confirmed       : 4\n")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show adoption status"])));
    let out = fleet.take().wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(summary["in_run"], 4, "{summary:#}");
    assert_eq!(summary["wlans"][WLAN_SSID], 4, "{summary:#}");
    cap.wait_flushed(AC);
    cap.stop();
    drop(c);

    // 1. Nothing tshark calls malformed or an error, on either port.
    let bad = read_fields(
        &pcap,
        "(udp.port==5246 || udp.port==5247) && !icmp && (_ws.malformed || _ws.expert.severity >= error)",
        &["frame.number", "_ws.col.Info"],
    );
    assert!(bad.is_empty(), "malformed CAPWAP per tshark: {bad:?}");

    // 2. Every control packet, both ways, carries DSCP CS6 (RFC 5415 4.5.2.1).
    let control = read_fields(
        &pcap,
        "udp.port==5246 && capwap && !icmp",
        &["ip.dsfield.dscp"],
    );
    assert!(
        control.len() > 20,
        "too few control packets: {}",
        control.len()
    );
    assert!(
        control.iter().all(|r| r[0] == "48"),
        "control packets without DSCP CS6: {:?}",
        control.iter().filter(|r| r[0] != "48").collect::<Vec<_>>()
    );

    // 3. The whole conversation, as tshark names the message types (RFC 5415 4.5.3):
    // Discovery, Join, Configuration Status, Change State Event, Echo and IEEE 802.11 WLAN
    // Configuration (RFC 5416), each with its response.
    let types: BTreeSet<u32> = read_fields(
        &pcap,
        "udp.port==5246 && capwap && !icmp",
        &["capwap.control.header.message_type.enterprise_specific"],
    )
    .iter()
    .map(|r| r[0].parse().expect("message type"))
    .collect();
    for t in [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 3_398_913, 3_398_914] {
        assert!(
            types.contains(&t),
            "no message type {t} on the wire: {types:?}"
        );
    }

    // 4. Discovery Responses: the AC Name is the controller's hostname; the AC Descriptor
    // advertises the VX9000's platform maximum and a load within what it holds.
    let discovery = read_fields(
        &pcap,
        &format!(
            "ip.src=={AC} && !icmp && capwap.control.header.message_type.enterprise_specific==2"
        ),
        &[
            "capwap.control.message_element.ac_name",
            "capwap.control.message_element.ac_descriptor.active_wtp",
            "capwap.control.message_element.ac_descriptor.max_wtp",
        ],
    );
    assert!(!discovery.is_empty(), "no Discovery Response captured");
    for r in &discovery {
        assert_eq!(r[0], "capwap-ac", "{r:?}");
        let active: u32 = r[1].parse().expect("active WTPs");
        assert!(active <= 4, "{r:?}");
        assert_eq!(r[2], "25600", "{r:?}");
    }

    // 5. Join Requests decode to the rows the controller shows: MAC, model, serial, name, IP.
    let joins = read_fields(
        &pcap,
        &format!(
            "ip.dst=={AC} && !icmp && capwap.control.header.message_type.enterprise_specific==3"
        ),
        &[
            "ip.src",
            "capwap.control.message_element.wtp_board_data.wtp_model_number",
            "capwap.control.message_element.wtp_board_data.wtp_serial_number",
            "capwap.control.message_element.wtp_board_data.base_mac_address",
            "capwap.control.message_element.wtp_name",
        ],
    );
    let mut joined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &joins {
        if let Some(seen) = joined.insert(r[0].clone(), r.clone()) {
            assert_eq!(&seen, r, "one AP's Join Requests differ");
        }
    }
    assert_eq!(joined.len(), 5, "Join Requests from {:?}", joined.keys());
    for row in &rows {
        let ip = row["ip"].as_str().unwrap();
        let j = joined
            .get(ip)
            .unwrap_or_else(|| panic!("no Join Request from {ip}: {row:#}"));
        let mac = row["mac"]
            .as_str()
            .unwrap()
            .replace('-', ":")
            .to_ascii_lowercase();
        assert_eq!(j[1], row["model"].as_str().unwrap(), "{j:?} vs {row:#}");
        assert_eq!(j[2], row["serial"].as_str().unwrap(), "{j:?} vs {row:#}");
        assert_eq!(j[3].to_ascii_lowercase(), mac, "{j:?} vs {row:#}");
        assert_eq!(j[4], row["hostname"].as_str().unwrap(), "{j:?} vs {row:#}");
    }

    // 6. Join Responses: Success (0) to each adopted AP, Resource Depletion (4) to the
    // refused one, and nothing else.
    let responses = read_fields(
        &pcap,
        &format!(
            "ip.src=={AC} && !icmp && capwap.control.header.message_type.enterprise_specific==4"
        ),
        &["ip.dst", "capwap.control.message_element.result_code"],
    );
    let mut codes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &responses {
        codes.entry(r[0].clone()).or_default().insert(r[1].clone());
    }
    for row in &rows {
        let ip = row["ip"].as_str().unwrap();
        let want = if row["state"] == "refused" { "4" } else { "0" };
        assert_eq!(
            codes
                .get(ip)
                .map(|s| s.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(vec![want]),
            "Join Response codes to {ip} ({row:#}); all: {codes:?}"
        );
    }
    // 7. Add WLAN (IEEE 802.11 WLAN Configuration Request) to each adopted AP, as tshark
    // reads it: the SSID (in clear: no DTLS yet, and an SSID is broadcast in beacons anyway),
    // Privacy set, a 16-byte group key, and an RSN element whose AKM is PSK (00-0F-AC:2).
    let adds = read_fields(
        &pcap,
        &format!("ip.src=={AC} && !icmp && capwap.control.message_element.ieee80211_add_wlan.ssid"),
        &[
            "ip.dst",
            "capwap.control.message_element.ieee80211_add_wlan.ssid",
            "capwap.control.message_element.ieee80211_add_wlan.capability.p",
            "capwap.control.message_element.ieee80211_add_wlan.key_length",
            "wlan.rsn.gcs.type",
            "wlan.rsn.pcs.type",
            "wlan.rsn.akms.type",
        ],
    );
    let add_to: BTreeSet<&str> = adds.iter().map(|r| r[0].as_str()).collect();
    let adopted_ips: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["state"] == "adopted")
        .map(|r| r["ip"].as_str().unwrap())
        .collect();
    assert_eq!(add_to, adopted_ips, "Add WLAN to: {adds:?}");
    let set = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    for r in &adds {
        assert_eq!(r[1], WLAN_SSID, "{r:?}");
        assert!(set(&r[2]), "Privacy not set: {r:?}");
        assert_eq!(r[3], "16", "{r:?}");
        // Group and pairwise CCMP (4), AKM PSK (2).
        assert_eq!(&r[4..7], ["4", "4", "2"], "RSN element not WPA2-PSK: {r:?}");
    }
    // The passphrase never crosses the wire (the AC keeps it), nor does any face print it.
    let raw = std::fs::read(&pcap).unwrap();
    assert!(
        !raw.windows(WLAN_PSK.len())
            .any(|w| w == WLAN_PSK.as_bytes()),
        "the PSK is on the wire"
    );
    assert!(raw
        .windows(WLAN_SSID.len())
        .any(|w| w == WLAN_SSID.as_bytes()));

    let refused = rows.iter().find(|r| r["state"] == "refused").unwrap();
    assert!(
        refused["reason"].as_str().unwrap_or("").contains("licen"),
        "{refused:#}"
    );
    eprintln!(
        "capwap capture: {} control packets, message types {types:?}, {} Join Requests, codes {codes:?}",
        control.len(),
        joins.len()
    );
}
