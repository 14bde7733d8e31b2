//! A small sans-IO line editor for the interactive shell.
//!
//! The editor is fed the raw bytes a client's pty sends, one byte at a time, and answers with
//! [`Action`]s: bytes to echo, or a request for the session (run a line, `?` help, Tab
//! completion, Ctrl-C, logout). It never touches the network or the CLI session, and it does
//! not know the prompt: redrawing a prompt after help output is the caller's job.
//!
//! The cursor moves within the line with Ctrl-A / Ctrl-E (start / end of line, as in IOS and
//! WiNG), Ctrl-B / Ctrl-F and the left/right arrows; typing and Backspace work at the cursor.
//! Arrow up/down walk the history, every other escape sequence is swallowed. `?`, Tab, Ctrl-U
//! and Ctrl-W work on the whole line: with the cursor inside the line, `?` and Tab first move
//! it to the end (press again for help or completion), so the caller's redraw of prompt and
//! line always leaves the terminal's cursor where the editor's is.

use std::collections::VecDeque;

/// Longest line the editor will hold, in characters. Further input is refused (bell).
pub const MAX_LINE_CHARS: usize = 4096;
/// How many executed lines arrow-up can recall.
pub const HISTORY_LEN: usize = 50;
/// Longest escape sequence we track before giving up on it.
const MAX_ESCAPE_LEN: usize = 32;

/// What the caller must do after feeding one byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the terminal (echo, erase, redraw).
    Echo(String),
    /// Enter: run this line (already recorded in the history, not yet followed by a newline on
    /// the terminal). The editor's line is now empty.
    Execute(String),
    /// `?` was typed: show help for this partial line, then redraw prompt + partial. The `?` is
    /// not part of the line.
    Help(String),
    /// Tab: complete this partial line (see [`LineEditor::replace_line`]).
    Complete(String),
    /// Ctrl-C: the line was abandoned (the editor's line is now empty).
    Interrupt,
    /// Ctrl-D on an empty line: end the session.
    Logout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// Saw ESC.
    Esc,
    /// Inside `ESC [` (CSI); counts the bytes consumed so far.
    Csi(usize),
    /// Saw `ESC O` (SS3, application cursor keys).
    Ss3,
}

/// The editor state: the current line, history, and partial escape / UTF-8 sequences.
#[derive(Clone, Debug)]
pub struct LineEditor {
    line: String,
    chars: usize,
    /// Cursor position in characters (0..=chars).
    cursor: usize,
    history: VecDeque<String>,
    /// Index into `history` while browsing with the arrows.
    browsing: Option<usize>,
    /// The line being typed before browsing started, restored by arrow-down past the end.
    stash: String,
    escape: Escape,
    utf8: Vec<u8>,
    last_was_cr: bool,
    /// Ctrl-V: the next character is inserted as is (a `?` in a passphrase).
    literal_next: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub fn new() -> LineEditor {
        LineEditor {
            line: String::new(),
            chars: 0,
            cursor: 0,
            history: VecDeque::with_capacity(HISTORY_LEN),
            browsing: None,
            stash: String::new(),
            escape: Escape::None,
            utf8: Vec::new(),
            last_was_cr: false,
            literal_next: false,
        }
    }

    /// The line typed so far.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// Feeds one byte from the client.
    pub fn feed(&mut self, byte: u8) -> Option<Action> {
        let was_cr = std::mem::replace(&mut self.last_was_cr, false);
        match self.escape {
            Escape::None => {}
            Escape::Esc => {
                self.escape = match byte {
                    b'[' => Escape::Csi(0),
                    b'O' => Escape::Ss3,
                    // ESC ESC: stay in escape state for the second one.
                    0x1b => Escape::Esc,
                    // Alt-<key> or a lone ESC followed by something: drop both.
                    _ => Escape::None,
                };
                return None;
            }
            Escape::Csi(n) => {
                // Parameter and intermediate bytes are 0x20..=0x3f; a final byte ends it.
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                    return self.cursor_key(byte, n == 0);
                }
                if (0x20..=0x3f).contains(&byte) && n < MAX_ESCAPE_LEN {
                    self.escape = Escape::Csi(n + 1);
                } else {
                    // Malformed or endless: abandon the sequence.
                    self.escape = Escape::None;
                }
                return None;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                return self.cursor_key(byte, true);
            }
        }

        if !self.utf8.is_empty() || byte >= 0x80 {
            return self.feed_utf8(byte);
        }
        if std::mem::take(&mut self.literal_next) && byte >= 0x20 {
            return self.insert(byte as char);
        }

        match byte {
            b'\r' => {
                self.last_was_cr = true;
                Some(self.enter())
            }
            // \r\n (or \r\0 from telnet-ish clients) is one Enter.
            b'\n' if was_cr => None,
            0 if was_cr => None,
            b'\n' => Some(self.enter()),
            0x7f | 0x08 => self.backspace(),
            // Ctrl-U: kill the whole line.
            0x15 => self.kill_line(),
            // Ctrl-W: kill the previous word.
            0x17 => self.kill_word(),
            // Ctrl-C.
            0x03 => {
                self.set_line(String::new());
                self.browsing = None;
                Some(Action::Interrupt)
            }
            // Ctrl-D: logout on an empty line, otherwise ignored.
            0x04 => self.line.is_empty().then_some(Action::Logout),
            // Ctrl-V: quote the next character.
            0x16 => {
                self.literal_next = true;
                None
            }
            // Ctrl-A / Ctrl-E: start / end of line; Ctrl-B / Ctrl-F: one character left / right.
            0x01 => self.home(),
            0x05 => self.end(),
            0x02 => self.left(),
            0x06 => self.right(),
            b'\t' if self.cursor < self.chars => self.end(),
            b'?' if self.cursor < self.chars => self.end(),
            b'\t' => Some(Action::Complete(self.line.clone())),
            b'?' => Some(Action::Help(self.line.clone())),
            0x1b => {
                self.escape = Escape::Esc;
                None
            }
            b if b < 0x20 => None,
            b => self.insert(b as char),
        }
    }

    /// Feeds a slice; convenience for tests and callers that do not need to interleave work
    /// between actions.
    pub fn feed_all(&mut self, bytes: &[u8]) -> Vec<Action> {
        bytes.iter().filter_map(|b| self.feed(*b)).collect()
    }

    /// Replaces the line (Tab completion, history) and returns what to write to the terminal
    /// to show it: the old text erased with backspaces, then the new text.
    pub fn replace_line(&mut self, new: &str) -> String {
        let mut new: String = new
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_LINE_CHARS)
            .collect();
        new.shrink_to_fit();
        let mut out = self.tail_to_end();
        out.push_str(&erase(self.chars));
        out.push_str(&new);
        self.set_line(new);
        out
    }

    fn set_line(&mut self, line: String) {
        self.chars = line.chars().count();
        self.cursor = self.chars;
        self.line = line;
    }

    /// Byte offset of the character at `idx` (the line's length at the end).
    fn byte_at(&self, idx: usize) -> usize {
        self.line
            .char_indices()
            .nth(idx)
            .map_or(self.line.len(), |(b, _)| b)
    }

    /// Moves the cursor to the end of the line; the bytes that do it on the terminal (the
    /// characters after the cursor, written again).
    fn tail_to_end(&mut self) -> String {
        let tail = self.line[self.byte_at(self.cursor)..].to_string();
        self.cursor = self.chars;
        tail
    }

    fn home(&mut self) -> Option<Action> {
        if self.cursor == 0 {
            return None;
        }
        let back = "\x08".repeat(self.cursor);
        self.cursor = 0;
        Some(Action::Echo(back))
    }

    fn end(&mut self) -> Option<Action> {
        if self.cursor == self.chars {
            return None;
        }
        Some(Action::Echo(self.tail_to_end()))
    }

    fn left(&mut self) -> Option<Action> {
        if self.cursor == 0 {
            return None;
        }
        self.cursor -= 1;
        Some(Action::Echo("\x08".into()))
    }

    fn right(&mut self) -> Option<Action> {
        if self.cursor == self.chars {
            return None;
        }
        let at = self.byte_at(self.cursor);
        let c = self.line[at..].chars().next()?;
        self.cursor += 1;
        Some(Action::Echo(c.to_string()))
    }

    fn enter(&mut self) -> Action {
        let line = std::mem::take(&mut self.line);
        self.chars = 0;
        self.cursor = 0;
        self.browsing = None;
        self.stash.clear();
        let trimmed = line.trim();
        if !trimmed.is_empty() && self.history.back().map(String::as_str) != Some(trimmed) {
            if self.history.len() == HISTORY_LEN {
                self.history.pop_front();
            }
            self.history.push_back(trimmed.to_string());
        }
        Action::Execute(line)
    }

    fn insert(&mut self, c: char) -> Option<Action> {
        if c.is_control() {
            return None;
        }
        if self.chars >= MAX_LINE_CHARS {
            return Some(Action::Echo("\x07".into()));
        }
        if self.cursor == self.chars {
            self.line.push(c);
            self.chars += 1;
            self.cursor += 1;
            return Some(Action::Echo(c.to_string()));
        }
        // Inside the line: insert, redraw the tail, step back over it.
        let at = self.byte_at(self.cursor);
        self.line.insert(at, c);
        self.chars += 1;
        self.cursor += 1;
        let tail = &self.line[at + c.len_utf8()..];
        let back = "\x08".repeat(tail.chars().count());
        Some(Action::Echo(format!("{c}{tail}{back}")))
    }

    fn feed_utf8(&mut self, byte: u8) -> Option<Action> {
        // A continuation byte with no lead, or a new lead byte in the middle: resynchronise.
        let is_cont = byte & 0xc0 == 0x80;
        if self.utf8.is_empty() && is_cont {
            return None;
        }
        if !self.utf8.is_empty() && !is_cont {
            self.utf8.clear();
            return self.feed(byte);
        }
        self.utf8.push(byte);
        let want = match self.utf8[0] {
            b if b & 0xe0 == 0xc0 => 2,
            b if b & 0xf0 == 0xe0 => 3,
            b if b & 0xf8 == 0xf0 => 4,
            _ => {
                self.utf8.clear();
                return None;
            }
        };
        if self.utf8.len() < want {
            return None;
        }
        let decoded = std::str::from_utf8(&self.utf8)
            .ok()
            .and_then(|s| s.chars().next());
        self.utf8.clear();
        decoded.and_then(|c| self.insert(c))
    }

    fn backspace(&mut self) -> Option<Action> {
        if self.cursor == 0 {
            return None;
        }
        if self.cursor == self.chars {
            self.line.pop()?;
            self.chars -= 1;
            self.cursor -= 1;
            return Some(Action::Echo(erase(1)));
        }
        // Inside the line: remove the character before the cursor, redraw the tail.
        let at = self.byte_at(self.cursor - 1);
        self.line.remove(at);
        self.chars -= 1;
        self.cursor -= 1;
        let tail = &self.line[at..];
        let back = "\x08".repeat(tail.chars().count() + 1);
        Some(Action::Echo(format!("\x08{tail} {back}")))
    }

    fn kill_line(&mut self) -> Option<Action> {
        if self.line.is_empty() {
            return None;
        }
        Some(Action::Echo(self.replace_line("")))
    }

    fn kill_word(&mut self) -> Option<Action> {
        let moved = self.tail_to_end();
        let kept = self.line.trim_end();
        let kept = &kept[..kept.rfind(' ').map_or(0, |i| i + 1)];
        if kept.len() == self.line.len() {
            return (!moved.is_empty()).then_some(Action::Echo(moved));
        }
        let removed = self.line[kept.len()..].chars().count();
        self.line.truncate(kept.len());
        self.chars -= removed;
        self.cursor = self.chars;
        Some(Action::Echo(moved + &erase(removed)))
    }

    fn cursor_key(&mut self, key: u8, plain: bool) -> Option<Action> {
        if !plain {
            // Modified arrows (ESC [ 1 ; 5 A …) and everything else: ignored.
            return None;
        }
        match key {
            b'A' => self.history_up(),
            b'B' => self.history_down(),
            b'C' => self.right(),
            b'D' => self.left(),
            _ => None,
        }
    }

    fn history_up(&mut self) -> Option<Action> {
        let next = match self.browsing {
            None if self.history.is_empty() => return None,
            None => {
                self.stash = self.line.clone();
                self.history.len() - 1
            }
            Some(0) => return None,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        let entry = self.history[next].clone();
        Some(Action::Echo(self.replace_line(&entry)))
    }

    fn history_down(&mut self) -> Option<Action> {
        let current = self.browsing?;
        let entry = if current + 1 < self.history.len() {
            self.browsing = Some(current + 1);
            self.history[current + 1].clone()
        } else {
            self.browsing = None;
            std::mem::take(&mut self.stash)
        };
        Some(Action::Echo(self.replace_line(&entry)))
    }
}

/// Terminal bytes that erase `n` characters before the cursor.
fn erase(n: usize) -> String {
    "\x08 \x08".repeat(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_of(actions: &[Action]) -> String {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Echo(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn printable_chars_are_echoed_and_enter_executes() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"show ver\r");
        assert_eq!(echo_of(&actions), "show ver");
        assert_eq!(actions.last(), Some(&Action::Execute("show ver".into())));
        assert_eq!(ed.line(), "");
    }

    #[test]
    fn crlf_and_cr_nul_are_one_enter_but_lf_alone_is_enter() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"a\r\nb\r\0c\n\n");
        let executes: Vec<_> = actions
            .iter()
            .filter(|a| matches!(a, Action::Execute(_)))
            .collect();
        assert_eq!(
            executes,
            vec![
                &Action::Execute("a".into()),
                &Action::Execute("b".into()),
                &Action::Execute("c".into()),
                &Action::Execute("".into()),
            ]
        );
    }

    #[test]
    fn backspace_and_delete_erase_one_char() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"shox\x7fw\x08w");
        assert_eq!(ed.line(), "show");
        assert!(actions.contains(&Action::Echo("\x08 \x08".into())));
        // Backspace on an empty line does nothing.
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(0x7f), None);
    }

    #[test]
    fn ctrl_u_kills_the_line_and_ctrl_w_the_last_word() {
        let mut ed = LineEditor::new();
        ed.feed_all(b"show cluster status");
        assert_eq!(
            ed.feed(0x17),
            Some(Action::Echo("\x08 \x08".repeat("status".len())))
        );
        assert_eq!(ed.line(), "show cluster ");
        let actions = ed.feed_all(b"\x15");
        assert_eq!(echo_of(&actions), "\x08 \x08".repeat("show cluster ".len()));
        assert_eq!(ed.line(), "");
        assert_eq!(ed.feed(0x15), None);
    }

    #[test]
    fn ctrl_c_abandons_and_ctrl_d_logs_out_only_on_empty_line() {
        let mut ed = LineEditor::new();
        ed.feed_all(b"conf");
        assert_eq!(ed.feed(0x04), None);
        assert_eq!(ed.feed(0x03), Some(Action::Interrupt));
        assert_eq!(ed.line(), "");
        assert_eq!(ed.feed(0x04), Some(Action::Logout));
        // Ctrl-C'd lines are not history.
        assert_eq!(ed.history().count(), 0);
    }

    #[test]
    fn question_mark_asks_for_help_without_entering_the_line() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"sh?");
        assert_eq!(actions.last(), Some(&Action::Help("sh".into())));
        assert_eq!(ed.line(), "sh");
    }

    #[test]
    fn ctrl_v_inserts_a_literal_question_mark() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"passphrase why\x16?\x16");
        assert_eq!(ed.line(), "passphrase why?");
        assert_eq!(echo_of(&actions), "passphrase why?");
        assert!(!actions.iter().any(|a| matches!(a, Action::Help(_))));
        // Ctrl-V before a control character does not insert it.
        ed.feed_all(b"\x16\x01");
        assert_eq!(ed.line(), "passphrase why?");
    }

    #[test]
    fn tab_asks_for_completion_and_replace_line_redraws() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(b"conf\t");
        assert_eq!(actions.last(), Some(&Action::Complete("conf".into())));
        let redraw = ed.replace_line("configure ");
        assert_eq!(redraw, format!("{}configure ", "\x08 \x08".repeat(4)));
        assert_eq!(ed.line(), "configure ");
        ed.feed_all(b"terminal");
        assert_eq!(
            ed.feed(b'\r'),
            Some(Action::Execute("configure terminal".into()))
        );
    }

    #[test]
    fn arrows_walk_history_and_restore_the_typed_line() {
        let mut ed = LineEditor::new();
        ed.feed_all(b"one\rtwo\rtwo\r  \rthree\rpart");
        assert_eq!(ed.history().collect::<Vec<_>>(), ["one", "two", "three"]);
        ed.feed_all(b"\x1b[A");
        assert_eq!(ed.line(), "three");
        ed.feed_all(b"\x1bOA"); // SS3 form
        assert_eq!(ed.line(), "two");
        ed.feed_all(b"\x1b[A\x1b[A\x1b[A");
        assert_eq!(ed.line(), "one");
        ed.feed_all(b"\x1b[B");
        assert_eq!(ed.line(), "two");
        ed.feed_all(b"\x1b[B\x1b[B");
        assert_eq!(ed.line(), "part");
        assert_eq!(ed.feed_all(b"\x1b[B"), vec![]);
        assert_eq!(ed.feed(b'\r'), Some(Action::Execute("part".into())));
    }

    #[test]
    fn history_keeps_the_last_fifty() {
        let mut ed = LineEditor::new();
        for i in 0..60 {
            ed.feed_all(format!("cmd{i}\r").as_bytes());
        }
        let h: Vec<_> = ed.history().collect();
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h[0], "cmd10");
        assert_eq!(h[49], "cmd59");
    }

    #[test]
    fn other_escape_sequences_are_ignored() {
        let mut ed = LineEditor::new();
        // Home, F5, modified arrow, Alt-x, Delete key.
        let actions = ed.feed_all(b"ab\x1b[H\x1b[15~\x1b[1;5A\x1bx\x1b[3~c");
        assert_eq!(ed.line(), "abc");
        assert_eq!(echo_of(&actions), "abc");
    }

    #[test]
    fn endless_or_malformed_escapes_do_not_swallow_everything() {
        let mut ed = LineEditor::new();
        let mut bytes = b"\x1b[".to_vec();
        bytes.extend(std::iter::repeat_n(b'1', 1000));
        bytes.extend(b"ok");
        ed.feed_all(&bytes);
        assert!(ed.line().ends_with("ok"), "{:?}", ed.line());
        let mut ed = LineEditor::new();
        ed.feed_all(b"\x1b[\x01xy");
        assert_eq!(ed.line(), "xy");
    }

    #[test]
    fn utf8_is_assembled_and_invalid_bytes_dropped() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all("wlan café".as_bytes());
        assert_eq!(ed.line(), "wlan café");
        assert_eq!(echo_of(&actions), "wlan café");
        let mut ed = LineEditor::new();
        ed.feed_all(&[0xff, 0xfe, b'a', 0x80, 0xc3, b'b', 0xe2, 0x82]);
        assert_eq!(ed.line(), "ab");
        ed.feed(0x7f);
        assert_eq!(ed.line(), "a");
    }

    #[test]
    fn garbage_never_panics_and_controls_never_enter_the_line() {
        let mut ed = LineEditor::new();
        let mut x: u32 = 12345;
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ed.feed((x >> 16) as u8);
            assert!(!ed.line().chars().any(char::is_control));
            assert!(ed.line().chars().count() <= MAX_LINE_CHARS);
        }
    }

    #[test]
    fn huge_lines_are_capped() {
        let mut ed = LineEditor::new();
        let actions = ed.feed_all(&[b'x'; 5000]);
        assert_eq!(ed.line().len(), MAX_LINE_CHARS);
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == Action::Echo("\x07".into()))
                .count(),
            5000 - MAX_LINE_CHARS
        );
        ed.replace_line(&"y".repeat(10_000));
        assert_eq!(ed.line().len(), MAX_LINE_CHARS);
    }

    /// What a terminal shows after `echo`: a tiny model (printable characters overwrite at the
    /// cursor, backspace moves left), to check the redraw bytes.
    fn screen(echo: &str) -> (String, usize) {
        let mut cells: Vec<char> = Vec::new();
        let mut at: usize = 0;
        for c in echo.chars() {
            if c == '\x08' {
                at = at.saturating_sub(1);
            } else if at < cells.len() {
                cells[at] = c;
                at += 1;
            } else {
                cells.push(c);
                at += 1;
            }
        }
        (
            cells.into_iter().collect::<String>().trim_end().to_string(),
            at,
        )
    }

    #[test]
    fn ctrl_a_and_ctrl_e_move_to_start_and_end_and_typing_works_there() {
        let mut ed = LineEditor::new();
        let mut echo = echo_of(&ed.feed_all(b"how cluster"));
        // Ctrl-A, type the missing "s": the line and the screen agree.
        echo += &echo_of(&ed.feed_all(b"\x01s"));
        assert_eq!(ed.line(), "show cluster");
        assert_eq!(screen(&echo), ("show cluster".into(), 1));
        // Ctrl-E, then more text at the end.
        echo += &echo_of(&ed.feed_all(b"\x05 status"));
        assert_eq!(ed.line(), "show cluster status");
        assert_eq!(screen(&echo), ("show cluster status".into(), 19));
        // Left arrow / Ctrl-B, Backspace inside the line, Ctrl-F / right arrow.
        echo += &echo_of(&ed.feed_all(b"\x01\x06\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x7f\x7fx"));
        assert_eq!(ed.line(), "showxluster status");
        assert_eq!(screen(&echo), ("showxluster status".into(), 5));
        echo += &echo_of(&ed.feed_all(b"\x02\x1b[D\x05"));
        assert_eq!(screen(&echo).1, 18);
        // At the edges nothing happens.
        assert_eq!(ed.feed(0x05), None);
        ed.feed(0x01);
        assert_eq!(ed.feed(0x01), None);
        assert_eq!(ed.feed(0x02), None);
        // Enter runs the whole line wherever the cursor is.
        assert_eq!(
            ed.feed(b'\r'),
            Some(Action::Execute("showxluster status".into()))
        );
        // UTF-8 inside the line.
        let mut ed = LineEditor::new();
        let mut echo = echo_of(&ed.feed_all("wlan caf".as_bytes()));
        echo += &echo_of(&ed.feed_all(b"\x01\x06\x06\x06\x06\x06"));
        echo += &echo_of(&ed.feed_all("é".as_bytes()));
        assert_eq!(ed.line(), "wlan écaf");
        assert_eq!(screen(&echo), ("wlan écaf".into(), 6));
    }

    #[test]
    fn help_and_tab_inside_the_line_first_move_to_the_end() {
        let mut ed = LineEditor::new();
        let mut echo = echo_of(&ed.feed_all(b"show clu\x01"));
        let first = ed.feed(b'?');
        assert_eq!(first, Some(Action::Echo("show clu".into())));
        echo += "show clu";
        assert_eq!(screen(&echo), ("show clu".into(), 8));
        assert_eq!(ed.feed(b'?'), Some(Action::Help("show clu".into())));
        ed.feed(0x01);
        assert!(matches!(ed.feed(b'\t'), Some(Action::Echo(_))));
        assert_eq!(ed.feed(b'\t'), Some(Action::Complete("show clu".into())));
        // Completion from inside the line: replace_line moves to the end before erasing.
        let mut ed = LineEditor::new();
        let mut echo = echo_of(&ed.feed_all(b"sh cl\x01"));
        echo += &ed.replace_line("show cluster ");
        assert_eq!(screen(&echo), ("show cluster".into(), 13));
        assert_eq!(ed.line(), "show cluster ");
        // Ctrl-W from inside the line kills the last word.
        let mut ed = LineEditor::new();
        let mut echo = echo_of(&ed.feed_all(b"show cluster\x01\x17"));
        echo += "";
        assert_eq!(ed.line(), "show ");
        assert_eq!(screen(&echo), ("show".into(), 5));
    }
}
