//! Helpers for writing datagrams by hand in tests.

#![allow(dead_code)]

/// Hex bytes with any whitespace between them, plus `"text"` segments taken literally:
/// `wire(r#"00 06 "AP7532""#)`.
pub fn wire(spec: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = spec;
    while let Some(start) = rest.find('"') {
        out.extend(hex(&rest[..start]));
        let after = &rest[start + 1..];
        let end = after.find('"').expect("unterminated text segment");
        out.extend_from_slice(&after.as_bytes()[..end]);
        rest = &after[end + 1..];
    }
    out.extend(hex(rest));
    out
}

fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits in {s:?}");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The 8-byte control CAPWAP header: HLEN 2, RID 0, WBID 1, no flags.
pub const CONTROL_HEADER: &str = "00 10 02 00 00 00 00 00";

/// The example of the facts file (ap-dhcp-wing.md 4.6): 116 bytes, Message Element Length
/// 103 = 3 + 100.
pub fn discovery_request_bytes() -> Vec<u8> {
    wire(&format!(
        r#"{CONTROL_HEADER}
        00 00 00 01  00  00 67  00
        00 14 00 01 01
        00 26 00 19 00 00 7e d9  00 00 00 06 "AP7532"  00 01 00 07 "SIM0001"
        00 27 00 2b 01 01 01 01 00 00
            00 00 00 00 00 00 00 03 "1.0"
            00 00 00 00 00 01 00 07 "5.9.1.0"
            00 00 00 00 00 02 00 03 "1.0"
        00 29 00 01 02
        00 2c 00 01 00
        04 18 00 05 01 00 00 00 05"#
    ))
}

/// A successful Join Response from AC "roost" (VX9000, 5.9.1.0) at 192.168.1.10 with 3 WTPs.
pub fn join_response_bytes() -> Vec<u8> {
    wire(&format!(
        r#"{CONTROL_HEADER}
        00 00 00 04  07  00 61  00
        00 21 00 04 00 00 00 00
        00 01 00 29  00 00 04 00 00 01 02 00  06 02 00 02
            00 00 00 00 00 04 00 06 "VX9000"
            00 00 00 00 00 05 00 07 "5.9.1.0"
        00 04 00 05 "roost"
        04 18 00 05 01 00 00 00 05
        00 35 00 01 00
        00 0a 00 06 c0 a8 01 0a 00 03
        00 1e 00 04 c0 a8 01 0a"#
    ))
}

pub fn echo_request_bytes() -> Vec<u8> {
    wire(&format!("{CONTROL_HEADER} 00 00 00 0d 05 00 03 00"))
}

/// Discovery interval 20 s, echo interval 30 s, fallback enabled.
pub fn configuration_update_bytes() -> Vec<u8> {
    wire(&format!(
        "{CONTROL_HEADER} 00 00 00 07 09 00 0e 00  00 0c 00 02 14 1e  00 28 00 01 01"
    ))
}

/// WLAN 1 "roost-lab" on radio 1, WPA2-PSK: a 16-byte CCMP group key in Add WLAN and the RSN
/// IE (group CCMP, pairwise CCMP, AKM PSK, capabilities 0x000c) in an Information Element.
pub fn add_wlan_bytes() -> Vec<u8> {
    wire(&format!(
        r#"{CONTROL_HEADER}
        00 33 dd 01  2a  00 50  00
        04 00 00 2c  01 01 88 00  02 00 00 10
            00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
            00 00 00 00 00 00
            00 00 00 00 01 "roost-lab"
        04 05 00 19  01 01 c0
            30 14 01 00 00 0f ac 04 01 00 00 0f ac 04 01 00 00 0f ac 02 0c 00"#
    ))
}

/// HLEN 2 and K set, every other header field 0; Msg Element Length 22 counts itself.
pub fn keep_alive_bytes() -> Vec<u8> {
    wire(
        "00 10 00 08 00 00 00 00  00 16  00 23 00 10 \
         10 32 54 76 98 ba dc fe 01 23 45 67 89 ab cd ef",
    )
}
