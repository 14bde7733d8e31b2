//! Per-thread scheduling priority: the member and store threads run raised (nice -10) so a busy
//! machine cannot delay hellos, dead timers and saves; password checks run lowered (+10) so a
//! login flood cannot take the cores they need.

/// Sets the calling thread's nice value (Linux: `setpriority` on the thread id sets that thread
/// only). Raising needs root or CAP_SYS_NICE; without it the thread keeps its priority and the
/// error says why.
pub fn set_thread_nice(nice: i32) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id.
        let r = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice)
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
    Ok(())
}

/// The nice value the member and store threads ask for.
pub const RAISED: i32 = -10;

/// Raises the calling thread (see [`RAISED`]); logs at debug level when it cannot.
pub fn raise(thread: &str) {
    if let Err(e) = set_thread_nice(RAISED) {
        tracing::debug!("{thread} thread keeps the default priority: {e}");
    }
}
