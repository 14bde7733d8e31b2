//! The tasks behind one SSH session channel: an exec request or an interactive shell.
//!
//! `CliService` / `CliSession` calls may block (a commit waits for the cluster), so they run on
//! tokio's blocking pool; the session object is moved into the blocking closure and back. If
//! the channel goes away meanwhile the task stops waiting and the blocking call finishes on
//! its own, dropping the session there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use roost_config::{CliService, CliSession, Completion, Role};
use russh::server::Handle;
use russh::ChannelId;
use tokio::sync::{mpsc, watch};

use crate::editor::{Action, LineEditor, MAX_LINE_CHARS};

/// Async (debug) lines queued while the terminal is slow; further lines are dropped.
const ASYNC_QUEUE: usize = 1024;

/// The write side of a channel, plus the signal that the channel (or connection) is gone.
pub(crate) struct Io {
    pub handle: Handle,
    pub id: ChannelId,
    /// Output for a pty: `\r\n` line endings.
    pub pty: bool,
    /// Its sender is dropped when the channel is closed or the connection ends.
    pub closed: watch::Receiver<()>,
}

/// Writes to the channel; false if the client is gone.
async fn send(handle: &Handle, id: ChannelId, text: String) -> bool {
    text.is_empty() || handle.data(id, text.into_bytes()).await.is_ok()
}

impl Io {
    async fn write(&self, text: impl Into<String>) -> bool {
        send(&self.handle, self.id, text.into()).await
    }

    /// Writes; `Flow::Gone` if the client is gone.
    async fn written(&self, text: String) -> Flow {
        if self.write(text).await {
            Flow::Continue
        } else {
            Flow::Gone
        }
    }

    /// Exit status, EOF, close.
    async fn finish(&self, status: u32) {
        let _ = self.handle.exit_status_request(self.id, status).await;
        let _ = self.handle.eof(self.id).await;
        let _ = self.handle.close(self.id).await;
    }

    /// Output text with the channel's line endings, ending in a newline unless empty.
    fn text(&self, text: &str) -> String {
        normalise(text, self.pty)
    }
}

pub(crate) fn normalise(text: &str, crlf: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = text.replace("\r\n", "\n");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

/// Runs `f` on the session in the blocking pool. While waiting, async lines (if a queue is
/// given) are written as they arrive. `None` if the channel went away or the session panicked;
/// the caller must then stop.
async fn call<T, F>(
    io: &mut Io,
    slot: &mut Option<Box<dyn CliSession>>,
    mut asyncs: Option<&mut mpsc::Receiver<String>>,
    f: F,
) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn CliSession) -> T + Send + 'static,
{
    let mut session = slot.take()?;
    let mut job = tokio::task::spawn_blocking(move || {
        let result = f(session.as_mut());
        (session, result)
    });
    loop {
        tokio::select! {
            joined = &mut job => {
                return match joined {
                    Ok((session, result)) => {
                        *slot = Some(session);
                        Some(result)
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "CLI session call failed");
                        None
                    }
                };
            }
            _ = io.closed.changed() => {
                tracing::debug!("SSH channel closed while a CLI call was running");
                return None;
            }
            Some(line) = recv_opt(asyncs.as_deref_mut()) => {
                if !send(&io.handle, io.id, normalise(&line, io.pty)).await {
                    return None;
                }
            }
        }
    }
}

async fn recv_opt(rx: Option<&mut mpsc::Receiver<String>>) -> Option<String> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Opens a CLI session in the blocking pool (the service may block), unless the channel goes
/// away first.
async fn open(
    io: &mut Io,
    service: Arc<dyn CliService>,
    user: String,
    role: Role,
    privileged: bool,
    async_output: Box<dyn Fn(String) + Send + Sync>,
) -> Option<Box<dyn CliSession>> {
    let job = tokio::task::spawn_blocking(move || {
        service.open_session(&user, role, privileged, async_output)
    });
    tokio::select! {
        opened = job => match opened {
            Ok(session) => Some(session),
            Err(e) => {
                tracing::error!(error = %e, "opening CLI session failed");
                None
            }
        },
        _ = io.closed.changed() => None,
    }
}

/// An exec request: run each non-empty line of `command` in a privileged session, then report
/// exit status 1 if any line failed.
pub(crate) async fn run_exec(
    mut io: Io,
    service: Arc<dyn CliService>,
    user: String,
    role: Role,
    command: String,
) {
    let Some(session) = open(
        &mut io,
        service,
        user,
        role,
        true,
        Box::new(|_line: String| {
            // Exec sessions are one-shot: the debug stream has nowhere to go.
        }),
    )
    .await
    else {
        return;
    };
    let mut slot = Some(session);
    let mut failed = false;
    for line in command.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if line.chars().count() > MAX_LINE_CHARS {
            failed = true;
            let msg = format!("% Command line too long (maximum {MAX_LINE_CHARS} characters)");
            if !io.write(io.text(&msg)).await {
                return;
            }
            continue;
        }
        let line = line.to_owned();
        let Some(out) = call(&mut io, &mut slot, None, move |s| {
            let prompt = s.prompt();
            let mut out = s.execute(&line);
            // No terminal echoes exec lines: put the line above an invalid-input caret.
            out.text = roost_config::exec_output(&prompt, &line, &out.text);
            out
        })
        .await
        else {
            return;
        };
        if !io.write(io.text(&out.text)).await {
            return;
        }
        failed |= out.error;
        if out.close {
            break;
        }
    }
    drop(slot);
    io.finish(u32::from(failed)).await;
}

/// How processing a chunk of input ended.
enum Flow {
    Continue,
    /// The session asked to end (or Ctrl-D): exit status 0 and close.
    Close,
    /// The channel is gone: just stop.
    Gone,
}

struct Shell {
    io: Io,
    slot: Option<Box<dyn CliSession>>,
    asyncs: mpsc::Receiver<String>,
    dropped: Arc<AtomicUsize>,
    prompt: String,
    editor: LineEditor,
    width: watch::Receiver<u32>,
    /// Non-pty mode: the partial line read so far, and whether it overflowed.
    raw_line: Vec<u8>,
    raw_overflow: bool,
}

/// An interactive shell: a user-exec session behind the line editor (with a pty), or a plain
/// line reader (without).
pub(crate) async fn run_shell(
    mut io: Io,
    service: Arc<dyn CliService>,
    user: String,
    role: Role,
    mut input: mpsc::Receiver<Vec<u8>>,
    width: watch::Receiver<u32>,
) {
    let (async_tx, asyncs) = mpsc::channel::<String>(ASYNC_QUEUE);
    let dropped = Arc::new(AtomicUsize::new(0));
    let dropped_in_cb = dropped.clone();
    let callback = Box::new(move |line: String| {
        if async_tx.try_send(line).is_err() {
            dropped_in_cb.fetch_add(1, Ordering::Relaxed);
        }
    });
    let Some(session) = open(&mut io, service, user, role, false, callback).await else {
        return;
    };
    let mut shell = Shell {
        io,
        slot: Some(session),
        asyncs,
        dropped,
        prompt: String::new(),
        editor: LineEditor::new(),
        width,
        raw_line: Vec::new(),
        raw_overflow: false,
    };
    let Some(prompt) = shell.call(|s| s.prompt()).await else {
        return;
    };
    shell.prompt = prompt;
    if !shell.io.write(shell.prompt.clone()).await {
        return;
    }

    let flow = loop {
        tokio::select! {
            _ = shell.io.closed.changed() => break Flow::Gone,
            data = input.recv() => match data {
                // EOF from the client (or the channel is closing).
                None => break Flow::Close,
                Some(bytes) => match shell.process(&bytes).await {
                    Flow::Continue => {}
                    other => break other,
                },
            },
            Some(line) = shell.asyncs.recv() => {
                if !shell.show_async(line).await {
                    break Flow::Gone;
                }
            }
        }
    };
    if let Flow::Close = flow {
        shell.slot = None;
        shell.io.finish(0).await;
    }
}

impl Shell {
    async fn call<T, F>(&mut self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn CliSession) -> T + Send + 'static,
    {
        call(&mut self.io, &mut self.slot, Some(&mut self.asyncs), f).await
    }

    /// An async line while at the prompt: replace the prompt line with it, then redraw.
    async fn show_async(&mut self, line: String) -> bool {
        let mut out = String::new();
        if self.io.pty {
            out.push_str("\r\x1b[K");
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            out.push_str(&self.io.text(&format!("% {dropped} debug messages dropped")));
        }
        out.push_str(&self.io.text(&line));
        if self.io.pty {
            out.push_str(&self.prompt);
            out.push_str(self.editor.line());
        }
        self.io.write(out).await
    }

    async fn process(&mut self, bytes: &[u8]) -> Flow {
        if self.io.pty {
            self.process_pty(bytes).await
        } else {
            self.process_raw(bytes).await
        }
    }

    async fn process_pty(&mut self, bytes: &[u8]) -> Flow {
        let mut echo = String::new();
        for &byte in bytes {
            let action = match self.editor.feed(byte) {
                None => continue,
                Some(Action::Echo(text)) => {
                    echo.push_str(&text);
                    continue;
                }
                Some(action) => action,
            };
            if !self.io.write(std::mem::take(&mut echo)).await {
                return Flow::Gone;
            }
            let flow = match action {
                Action::Echo(_) => Flow::Continue,
                Action::Execute(line) => {
                    if !self.io.write("\r\n").await {
                        return Flow::Gone;
                    }
                    self.execute(line).await
                }
                Action::Help(partial) => {
                    let query = partial.clone();
                    match self.call(move |s| s.help(&query)).await {
                        None => Flow::Gone,
                        Some(help) => {
                            let out =
                                format!("?\r\n{}{}{}", self.io.text(&help), self.prompt, partial);
                            self.io.written(out).await
                        }
                    }
                }
                Action::Complete(partial) => match self.call(move |s| s.complete(&partial)).await {
                    None => Flow::Gone,
                    Some(Completion::Line(line)) => {
                        let out = self.editor.replace_line(&line);
                        self.io.written(out).await
                    }
                    Some(Completion::Candidates(list)) if list.is_empty() => {
                        self.io.written("\x07".into()).await
                    }
                    Some(Completion::Candidates(list)) => {
                        let width = (*self.width.borrow() as usize).clamp(20, 1000);
                        let out = format!(
                            "\r\n{}{}{}",
                            columns(&list, width),
                            self.prompt,
                            self.editor.line()
                        );
                        self.io.written(out).await
                    }
                },
                Action::Interrupt => {
                    let out = format!("^C\r\n{}", self.prompt);
                    self.io.written(out).await
                }
                Action::Logout => {
                    if !self.io.write("\r\n").await {
                        return Flow::Gone;
                    }
                    Flow::Close
                }
            };
            if !matches!(flow, Flow::Continue) {
                return flow;
            }
        }
        if self.io.write(echo).await {
            Flow::Continue
        } else {
            Flow::Gone
        }
    }

    /// Without a pty: no echo, no editing; `\n`-terminated lines.
    async fn process_raw(&mut self, bytes: &[u8]) -> Flow {
        for &byte in bytes {
            if byte != b'\n' {
                if self.raw_line.len() < MAX_LINE_CHARS * 4 {
                    self.raw_line.push(byte);
                } else {
                    self.raw_overflow = true;
                }
                continue;
            }
            let raw = std::mem::take(&mut self.raw_line);
            let mut line = String::from_utf8_lossy(&raw).into_owned();
            if line.ends_with('\r') {
                line.pop();
            }
            if std::mem::take(&mut self.raw_overflow) || line.chars().count() > MAX_LINE_CHARS {
                let msg = format!(
                    "% Command line too long (maximum {MAX_LINE_CHARS} characters)\n{}",
                    self.prompt
                );
                if !self.io.write(msg).await {
                    return Flow::Gone;
                }
                continue;
            }
            match self.execute(line).await {
                Flow::Continue => {}
                other => return other,
            }
        }
        Flow::Continue
    }

    /// Runs one line and shows its output and the next prompt.
    async fn execute(&mut self, line: String) -> Flow {
        if line.trim().is_empty() {
            let prompt = self.prompt.clone();
            return self.io.written(prompt).await;
        }
        let result = self
            .call(move |s| {
                let out = s.execute(&line);
                let prompt = if out.close { None } else { Some(s.prompt()) };
                (out, prompt)
            })
            .await;
        let Some((out, prompt)) = result else {
            return Flow::Gone;
        };
        if !self.io.write(self.io.text(&out.text)).await {
            return Flow::Gone;
        }
        match prompt {
            None => Flow::Close,
            Some(prompt) => {
                self.prompt = prompt;
                let prompt = self.prompt.clone();
                self.io.written(prompt).await
            }
        }
    }
}

/// Completion candidates in columns, row by row, `\r\n`-terminated.
pub(crate) fn columns(items: &[String], width: usize) -> String {
    let cell = items.iter().map(|s| s.chars().count()).max().unwrap_or(0) + 2;
    let per_row = (width / cell).max(1);
    let mut out = String::new();
    for row in items.chunks(per_row) {
        let mut line = String::new();
        for item in row {
            line.push_str(&format!("{item:<cell$}"));
        }
        out.push_str(line.trim_end());
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_line_endings() {
        assert_eq!(normalise("", true), "");
        assert_eq!(normalise("a\nb", false), "a\nb\n");
        assert_eq!(normalise("a\r\nb\n", false), "a\nb\n");
        assert_eq!(normalise("a\r\nb\nc", true), "a\r\nb\r\nc\r\n");
    }

    #[test]
    fn columns_fill_rows_to_the_width() {
        let items: Vec<String> = ["show", "shutdown", "ssh", "service"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // cell = 8 + 2 = 10: two per row at width 25.
        assert_eq!(
            columns(&items, 25),
            "show      shutdown\r\nssh       service\r\n"
        );
        assert_eq!(columns(&items, 3).lines().count(), 4);
        assert_eq!(
            columns(&items, 200),
            "show      shutdown  ssh       service\r\n"
        );
    }
}
