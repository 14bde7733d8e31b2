//! Change text: what `commit` sends through the master, and the builder for programmatic
//! commits.
//!
//! A change text is a replayable list of config commands with their context given by
//! indentation, exactly like config text: section header lines (`vx9000 52-54-00-E1-EE-16`,
//! `wlan corp`, `user-management`, ` interface vlan 1`) then the indented commands (including
//! `no …` lines). Headers create the object if it does not exist. A whole-config replacement
//! is the line `replace-config` followed by a complete config text.

use crate::model::{device_header, REPLACE_CONFIG};
use crate::ClusterConfig;
use roost_wire::{Mac, Model};

/// A change under construction (see the module docs for the text form).
///
/// ```
/// use roost_config::Change;
/// use roost_wire::{Mac, Model};
/// let mac: Mac = "52-54-00-3A-A1-17".parse().unwrap();
/// let text = Change::new()
///     .device(Model::Vx9000, mac, |d| d.line("hostname vx9000-2").line("cluster member ip 127.0.0.11 level 1"))
///     .to_text();
/// assert_eq!(text, "vx9000 52-54-00-3A-A1-17\n hostname vx9000-2\n cluster member ip 127.0.0.11 level 1\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// (context headers, command line).
    entries: Vec<(Vec<String>, String)>,
}

/// Commands inside one section of a [`Change`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    ctx: Vec<String>,
    entries: Vec<(Vec<String>, String)>,
}

impl Section {
    /// A command in this section (e.g. `hostname vx9000-2`, `no cluster handle-stp`).
    pub fn line(mut self, line: impl Into<String>) -> Section {
        self.entries
            .push((self.ctx.clone(), line.into().trim().to_string()));
        self
    }
    /// A nested section (e.g. `interface vlan 1` inside a device).
    pub fn section(
        mut self,
        header: impl Into<String>,
        f: impl FnOnce(Section) -> Section,
    ) -> Section {
        let header = header.into().trim().to_string();
        self.entries.push((self.ctx.clone(), header.clone()));
        let mut ctx = self.ctx.clone();
        ctx.push(header);
        let inner = f(Section {
            ctx,
            entries: Vec::new(),
        });
        self.entries.extend(inner.entries);
        self
    }
}

impl Change {
    pub fn new() -> Change {
        Change::default()
    }
    /// A top-level command (e.g. `no wlan guest`).
    pub fn line(mut self, line: impl Into<String>) -> Change {
        self.entries
            .push((Vec::new(), line.into().trim().to_string()));
        self
    }
    /// A section: its header line (which creates the object if needed) and its commands.
    pub fn section(
        mut self,
        header: impl Into<String>,
        f: impl FnOnce(Section) -> Section,
    ) -> Change {
        let s = Section {
            ctx: Vec::new(),
            entries: Vec::new(),
        }
        .section(header, f);
        self.entries.extend(s.entries);
        self
    }
    /// The device section `<model> <MAC>`.
    pub fn device(self, model: Model, mac: Mac, f: impl FnOnce(Section) -> Section) -> Change {
        self.section(device_header(model, mac), f)
    }
    /// The `wlan <name>` section.
    pub fn wlan(self, name: &str, f: impl FnOnce(Section) -> Section) -> Change {
        self.section(format!("wlan {name}"), f)
    }
    /// The `user-management` section. Passwords must be given hashed
    /// (`user NAME password 1 <hash> role ROLE`, see [`crate::hash_password`]).
    pub fn user_management(self, f: impl FnOnce(Section) -> Section) -> Change {
        self.section("user-management", f)
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub(crate) fn push(&mut self, ctx: Vec<String>, line: String) {
        self.entries.push((ctx, line));
    }
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
    /// The change text: headers are written when the context changes, commands are indented
    /// one space per level.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut emitted: Vec<String> = Vec::new();
        for (ctx, line) in &self.entries {
            let k = emitted
                .iter()
                .zip(ctx.iter())
                .take_while(|(a, b)| a == b)
                .count();
            for (depth, h) in ctx.iter().enumerate().skip(k) {
                out.push_str(&" ".repeat(depth));
                out.push_str(h);
                out.push('\n');
            }
            out.push_str(&" ".repeat(ctx.len()));
            out.push_str(line);
            out.push('\n');
            emitted = ctx.clone();
            emitted.push(line.clone());
        }
        out
    }
    /// The whole-config replacement change restoring `config` (`replace-config` + its text).
    pub fn replace_config(config: &ClusterConfig) -> String {
        format!("{REPLACE_CONFIG}\n{}", config.to_text())
    }
}
