//! The one password masker. Every face that repeats a command line (SSH and `roost cli` exec
//! echo above a caret, the API's `command` echo, `show history`, error messages, logs) masks
//! it here, so they cannot disagree.
//!
//! The command grammar decides what is secret: a parameter right after the `password` keyword
//! (`password <pw>`), or after its type keyword (`password 0 <pw>`, `password 1 <hash>`), in
//! any mode, whatever abbreviation was typed (`pass`, `p`): `user … password …` and
//! `join-cluster … password …`. A line that no mode's grammar accepts is masked by a cautious
//! fallback as well: the word after any prefix of `password` (after a one-digit type).

use crate::grammar::{grammar, step, tokenize, Kind, PKind, Step, Tok};

/// What replaces a secret in [`mask_passwords`]: always eight stars, so the length of the
/// password is not given away either.
pub const MASK: &str = "********";

const KINDS: [Kind; 13] = [
    Kind::Exec,
    Kind::Priv,
    Kind::Global,
    Kind::Device,
    Kind::ApDevice,
    Kind::Interface,
    Kind::UserMgmt,
    Kind::Wlan,
    Kind::Profile,
    Kind::Radio,
    Kind::Policy,
    Kind::DhcpPolicy,
    Kind::DhcpPool,
];

/// `line` with every password (or password hash) replaced by [`MASK`]; the rest of the line,
/// spacing included, is kept as typed.
pub fn mask_passwords(line: &str) -> String {
    render(line, |_| MASK.to_string())
}

/// `line` with every password replaced by as many `*` as it has characters, so the columns of
/// the line stay where they were (an invalid-input caret below it still points right).
pub fn mask_passwords_in_place(line: &str) -> String {
    render(line, |secret| "*".repeat(secret.chars().count()))
}

fn render(line: &str, mask: impl Fn(&str) -> String) -> String {
    let toks = tokenize(line);
    let secret = secret_tokens(&toks);
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for (i, t) in toks.iter().enumerate() {
        out.push_str(&line[at..t.byte]);
        if secret[i] {
            out.push_str(&mask(t.text));
        } else {
            out.push_str(t.text);
        }
        at = t.byte + t.text.len();
    }
    out.push_str(&line[at..]);
    out
}

/// Which tokens of a line are secrets.
fn secret_tokens(toks: &[Tok<'_>]) -> Vec<bool> {
    let mut secret = vec![false; toks.len()];
    // `do <exec command>` in config modes; output modifiers (`| include …`) carry no secret.
    let start = usize::from(
        toks.first()
            .is_some_and(|t| t.text.eq_ignore_ascii_case("do")),
    );
    let end = toks
        .iter()
        .position(|t| t.text == "|")
        .unwrap_or(toks.len());
    let body = &toks[start.min(end)..end];
    let mut any_full = false;
    let mut partial = vec![false; body.len()];
    let mut full = vec![false; body.len()];
    for kind in KINDS {
        let (marks, walked) = walk_marks(kind, body);
        let into = if walked { &mut full } else { &mut partial };
        any_full |= walked;
        for (m, s) in marks.iter().zip(into.iter_mut()) {
            *s |= *m;
        }
    }
    let chosen = if any_full {
        full
    } else {
        let fallback = fallback_marks(body);
        partial.iter().zip(fallback).map(|(a, b)| *a || b).collect()
    };
    secret[start.min(end)..end].copy_from_slice(&chosen);
    if end < toks.len() {
        // Whatever follows a `|` is a filter, but never repeat a password typed there either.
        let tail = fallback_marks(&toks[end..]);
        secret[end..].copy_from_slice(&tail);
    }
    secret
}

/// Walks `toks` through one mode's grammar, marking the parameters that are secrets; `true`
/// if every token matched.
fn walk_marks(kind: Kind, toks: &[Tok<'_>]) -> (Vec<bool>, bool) {
    let mut marks = vec![false; toks.len()];
    let mut node = grammar(kind);
    let mut prev: [Option<&str>; 2] = [None, None];
    for (i, t) in toks.iter().enumerate() {
        let Step::Found(c) = step(node, t.text) else {
            return (marks, false);
        };
        if c.param.is_some_and(|(k, _)| k == PKind::Line) {
            // A comment or a filter: the rest of the line, never a secret.
            return (marks, true);
        }
        if c.kw.is_none() {
            let after_password = prev[1] == Some("password");
            // `password 0 <pw>`, and a WLAN's `wpa-wpa2 psk 0 <key>`.
            let after_type = matches!(prev[0], Some("password" | "psk"))
                && prev[1].is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
            marks[i] = after_password || after_type;
        }
        prev = [prev[1], Some(c.kw.unwrap_or(""))];
        node = c;
    }
    (marks, true)
}

/// For lines no grammar accepts: the word after a prefix of `password` (skipping a one-digit
/// type before a further word) is a secret.
fn fallback_marks(toks: &[Tok<'_>]) -> Vec<bool> {
    let mut marks = vec![false; toks.len()];
    let mut i = 0;
    while i < toks.len() {
        let w = toks[i].text.to_ascii_lowercase();
        let keyword = "password".starts_with(&w) || (w.len() >= 2 && "psk".starts_with(&w));
        if !w.is_empty() && keyword && i + 1 < toks.len() {
            let next = toks[i + 1].text;
            let typed = next.len() == 1 && next.as_bytes()[0].is_ascii_digit();
            let at = if typed && i + 2 < toks.len() {
                i + 2
            } else {
                i + 1
            };
            marks[at] = true;
            i = at + 1;
            continue;
        }
        i += 1;
    }
    marks
}

/// Configuration text as every face shows it: a WLAN's pre-shared key is [`MASK`]
/// (`wpa-wpa2 psk 0 ********`), for every role; the startup-config file and the replicated
/// configuration keep the key. Applying the masked line keeps the key a WLAN has.
pub fn mask_config_secrets(config_text: &str) -> String {
    let mut out = String::with_capacity(config_text.len());
    for line in config_text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let t = body.trim_start();
        if let Some(rest) = t.strip_prefix("wpa-wpa2 psk ") {
            let indent = &body[..body.len() - t.len()];
            let ty = rest.split_whitespace().next().unwrap_or("0");
            out.push_str(&format!("{indent}wpa-wpa2 psk {ty} {MASK}"));
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Configuration text as a `monitor` user may see it: on every `user` line of the
/// `user-management` section, everything but the user name, its role and its (public) SSH keys
/// is replaced by [`MASK`]: `user noc password 1 ******** role monitor`. Anything else that may
/// appear on a user line (another credential form) is hidden too, by default.
pub fn hide_credentials(config_text: &str) -> String {
    let mut out = String::with_capacity(config_text.len());
    let mut in_users = false;
    for line in config_text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        if !body.starts_with(' ') {
            in_users = body.trim() == "user-management";
        }
        let words: Vec<&str> = body.split_whitespace().collect();
        match words.as_slice() {
            ["user", name, rest @ ..] if in_users => {
                let indent = &body[..body.len() - body.trim_start().len()];
                out.push_str(&format!("{indent}user {name}"));
                let mut hide = false;
                let mut i = 0;
                while i < rest.len() {
                    let w = rest[i];
                    match w {
                        "ssh-key" => {
                            // A public key: not secret; shown as it is.
                            for k in &rest[i..] {
                                out.push(' ');
                                out.push_str(k);
                            }
                            break;
                        }
                        "role" | "password" => {
                            out.push(' ');
                            out.push_str(w);
                            hide = w == "password";
                            if w == "role" {
                                if let Some(r) = rest.get(i + 1) {
                                    out.push(' ');
                                    out.push_str(r);
                                    i += 1;
                                }
                            }
                        }
                        "opaque" => {
                            // join-cluster's OPAQUE record: a verifier, not for monitors; the
                            // line reads as it would without one.
                            i += 1;
                        }
                        _ if hide && w.len() == 1 && w.as_bytes()[0].is_ascii_digit() => {
                            out.push(' ');
                            out.push_str(w);
                        }
                        _ => {
                            // A credential value or an unknown credential form.
                            if !out.ends_with(MASK) {
                                out.push(' ');
                                out.push_str(MASK);
                            }
                        }
                    }
                    i += 1;
                }
                out.push_str(ending);
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

    #[test]
    fn every_password_form_is_masked() {
        for (line, want) in [
            (
                "user bob password hunter2 role superuser".to_string(),
                "user bob password ******** role superuser".to_string(),
            ),
            (
                "user bob password 0 hunter2 role superuser".into(),
                "user bob password 0 ******** role superuser".into(),
            ),
            (
                format!("user bob password 1 {H} role monitor"),
                "user bob password 1 ******** role monitor".into(),
            ),
            (
                "user bob pass 0 hunter2 role superuser".into(),
                "user bob pass 0 ******** role superuser".into(),
            ),
            (
                "USER bob P hunter2 r m".into(),
                "USER bob P ******** r m".into(),
            ),
            (
                "join-cluster 10.0.0.1 user admin password hunter2 level 1 mode standby".into(),
                "join-cluster 10.0.0.1 user admin password ******** level 1 mode standby".into(),
            ),
            (
                "join-cl 10.0.0.1 u admin pa hunter2 l 1 m s".into(),
                "join-cl 10.0.0.1 u admin pa ******** l 1 m s".into(),
            ),
            (
                "do join-cluster 10.0.0.1 user admin password hunter2 level 1 mode active".into(),
                "do join-cluster 10.0.0.1 user admin password ******** level 1 mode active".into(),
            ),
            // A user called "password" is not a secret; a password "role" is.
            (
                "user password password role role monitor".into(),
                "user password password ******** role monitor".into(),
            ),
            // Lines no grammar accepts: the cautious fallback.
            (
                "user bob password hunter2 rolex superuser".into(),
                "user bob password ******** rolex superuser".into(),
            ),
            (
                "bogus passw 0 hunter2 x".into(),
                "bogus passw 0 ******** x".into(),
            ),
            // Incomplete: `0` is the type keyword, no password was typed yet.
            ("user bob password 0".into(), "user bob password 0".into()),
            // Nothing secret: unchanged, spacing included.
            (
                "show  cluster status | include pass".into(),
                "show  cluster status | include pass".into(),
            ),
            ("".into(), "".into()),
        ] {
            assert_eq!(mask_passwords(&line), want, "{line}");
            assert!(!mask_passwords(&line).contains("hunter2"));
        }
    }

    #[test]
    fn in_place_masking_keeps_the_columns() {
        let line = "user bob  password 0 hünter2 role superuser bogus";
        assert_eq!(
            mask_passwords_in_place(line),
            "user bob  password 0 ******* role superuser bogus"
        );
        assert_eq!(
            mask_passwords_in_place(line).chars().count(),
            line.chars().count()
        );
    }

    #[test]
    fn monitors_see_no_credential_on_user_lines() {
        let text = format!(
            "!\nuser-management\n user admin password 1 {H} role superuser\n user admin ssh-key ssh-ed25519 AAAAC3Nz\n user x opaque 3 c2VjcmV0 role monitor\n user j password 1 {H} role monitor opaque 0a1b2c\n!\nwlan user\n ssid password\n!\nend\n"
        );
        assert_eq!(
            hide_credentials(&text),
            "!\nuser-management\n user admin password 1 ******** role superuser\n user admin ssh-key ssh-ed25519 AAAAC3Nz\n user x ******** role monitor\n user j password 1 ******** role monitor\n!\nwlan user\n ssid password\n!\nend\n"
        );
    }
}
