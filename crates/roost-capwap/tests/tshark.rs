//! Independent check of the golden vectors with Wireshark's CAPWAP dissector (a decoder no one
//! here wrote). Needs `tshark` (dissecting a file needs no capture rights): CI installs it and
//! must run this; elsewhere the test says it skipped when tshark is missing.
//!
//! Each vector is wrapped in IPv4/UDP (to 5246 for control, 5247 for the keep-alive) in a
//! raw-IPv4 pcap and dissected; the test fails on "Malformed", on any expert item, or if a
//! packet is not recognised as CAPWAP.

mod common;

use common::*;
use std::process::Command;

fn ipv4_udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![
        0x45,
        0xc0, // DSCP CS6, as control traffic should go
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
        192,
        168,
        1,
        20,
        192,
        168,
        1,
        10,
    ];
    let sum = {
        let mut s: u32 = p
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    let udp_len = (8 + payload.len()) as u16;
    p.extend_from_slice(&12345u16.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    p.extend_from_slice(payload);
    p
}

fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&228u32.to_le_bytes()); // LINKTYPE_IPV4
    for (i, p) in packets.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn tshark_present() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the tshark check: tshark is not installed"
        );
        eprintln!("skipping the tshark check: tshark is not installed (apt-get install tshark)");
    }
    ok
}

#[test]
fn golden_vectors_dissect_cleanly() {
    if !tshark_present() {
        return;
    }
    let control = [
        discovery_request_bytes(),
        join_response_bytes(),
        echo_request_bytes(),
        configuration_update_bytes(),
        add_wlan_bytes(),
    ];
    let mut packets: Vec<Vec<u8>> = control.iter().map(|c| ipv4_udp(5246, c)).collect();
    packets.push(ipv4_udp(5247, &keep_alive_bytes()));
    let path = std::env::temp_dir().join(format!("roost-capwap-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap(&packets)).unwrap();

    let run = |args: &[&str]| {
        let out = Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&path)
            .args(["-o", "capwap.swap_fc:FALSE"])
            .args(args)
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let verbose = run(&["-V"]);
    println!("{verbose}");
    let expert = run(&["-q", "-z", "expert"]);
    println!("{expert}");
    let summary = run(&[]);
    println!("{summary}");
    let _ = std::fs::remove_file(&path);

    assert!(!verbose.contains("Malformed"), "malformed packet");
    // `-z expert` prints a "=====" underlined section per severity that has items.
    assert!(
        !expert.lines().any(|l| l.starts_with("====")),
        "expert items:\n{expert}"
    );
    assert_eq!(
        summary.lines().filter(|l| l.contains("CAPWAP")).count(),
        packets.len(),
        "every packet dissected as CAPWAP:\n{summary}"
    );
}
