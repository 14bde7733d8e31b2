//! What a fleet reports: a live [`Progress`] and the final [`Summary`] (also its JSON form,
//! for scripts: the field names below are that format).

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Percentiles of a set of durations, in milliseconds (nearest rank); `None` without samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub min_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Percentiles {
        let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            Some((v[i] * 1000.0).round() / 1000.0)
        };
        Percentiles {
            count: v.len(),
            min_ms: v.first().map(|m| (m * 1000.0).round() / 1000.0),
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: rank(1.0),
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        write!(
            f,
            "n={}  p50 {}  p90 {}  p99 {}  max {} (ms)",
            self.count,
            ms(self.p50_ms),
            ms(self.p90_ms),
            ms(self.p99_ms),
            ms(self.max_ms)
        )
    }
}

/// The fleet right now, published about four times a second.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Progress {
    pub elapsed_s: f64,
    pub aps: usize,
    pub started: usize,
    pub idle: usize,
    pub discovering: usize,
    pub sulking: usize,
    pub joining: usize,
    /// Configure and Data Check.
    pub configuring: usize,
    pub run: usize,
    /// APs in Run per AC (its address as in the controller list).
    pub run_per_controller: BTreeMap<String, usize>,
    /// APs that reached Run at least once.
    pub adopted: usize,
    pub refusals: u64,
    pub losses: u64,
    pub dropped: u64,
}

impl fmt::Display for Progress {
    /// The live line: `12.3s started 100/100 discovering 0 joining 0 configuring 0 run 100
    /// [127.0.0.1 60, 127.0.0.2 40] refused 0 lost 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}s  started {}/{}  discovering {}  joining {}  configuring {}  run {}",
            self.elapsed_s,
            self.started,
            self.aps,
            self.discovering,
            self.joining,
            self.configuring,
            self.run
        )?;
        if !self.run_per_controller.is_empty() {
            let per: Vec<String> = self
                .run_per_controller
                .iter()
                .map(|(ac, n)| format!("{ac} {n}"))
                .collect();
            write!(f, " [{}]", per.join(", "))?;
        }
        if self.idle + self.sulking > 0 {
            write!(f, "  idle {}  sulking {}", self.idle, self.sulking)?;
        }
        write!(f, "  refused {}  lost {}", self.refusals, self.losses)?;
        if self.dropped > 0 {
            write!(f, "  dropped {}", self.dropped)?;
        }
        Ok(())
    }
}

/// APs refused for one reason and not in Run at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The Join Response Result Code.
    pub code: u32,
    pub reason: String,
    pub aps: usize,
}

/// Datagram and error counts over the whole fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub control_sent: u64,
    pub control_received: u64,
    pub data_sent: u64,
    pub data_received: u64,
    pub retransmits: u64,
    pub malformed: u64,
    pub unexpected: u64,
    pub duplicates: u64,
    pub stale: u64,
    /// Sends the kernel refused (a full send buffer): lost like any datagram.
    pub send_errors: u64,
    /// Received for an address that is no AP of this fleet.
    pub unroutable: u64,
    /// Datagrams the kernel dropped on the fleet's sockets for want of buffer space
    /// (SO_RXQ_OVFL): losses on this side, as opposed to the controllers'.
    pub kernel_drops: u64,
}

/// The end of a run: `roost ap`'s summary and its `--json` output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub aps: usize,
    pub started: usize,
    pub seed: u64,
    pub duration_s: f64,
    /// The controller list as option 191 text.
    pub controller_list: String,
    /// APs per model.
    pub models: BTreeMap<String, usize>,
    /// APs that reached Run at least once.
    pub adopted: usize,
    /// APs in Run at the end, and per AC.
    pub in_run: usize,
    pub run_per_controller: BTreeMap<String, usize>,
    /// APs not in Run at the end whose last Join was refused, by reason.
    pub refused: Vec<Refused>,
    /// Every Join Response refusal received.
    pub refusals: u64,
    /// Joins that got no usable answer.
    pub join_failures: u64,
    /// ACs lost (detected by an AP).
    pub losses: u64,
    pub fallbacks: u64,
    /// The most fallbacks one AP made (a balancing move is one).
    pub fallbacks_max_per_ap: u32,
    pub resets: u64,
    /// From the fleet's start to an AP's first Run.
    pub time_to_adopt: Percentiles,
    /// From an AP noticing its AC was lost to Run again.
    pub time_to_readopt: Percentiles,
    /// The start delays cold-starting APs waited (the AC's `adoption start-delay`).
    pub start_delays: Percentiles,
    /// When the re-adoptions happened, fleet-wide.
    pub readopt_span_ms: ReadoptSpan,
    /// From an AP leaving for a higher-priority AC (WTP Fallback) to Run on it: the gap in
    /// service a fallback costs.
    pub time_to_fall_back: Percentiles,
    /// WLANs the APs serve at the end: SSID → APs.
    pub wlans: BTreeMap<String, usize>,
    pub wlan_changes: WlanChanges,
    pub traffic: Traffic,
    /// The receive buffer the kernel granted each socket, in bytes as `SO_RCVBUF` reports it
    /// (Linux reports twice what was set, the bookkeeping overhead included).
    pub receive_buffer: usize,
}

/// Fleet-wide times of the re-adoptions after lost ACs, in ms since the Unix epoch: the first
/// loss an AP noticed, the first Join an AP sent after a loss, and the last AP back in Run.
/// From the first Join to the last Run is the controllers' share of a failover.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReadoptSpan {
    pub first_loss_epoch_ms: Option<f64>,
    pub first_join_epoch_ms: Option<f64>,
    pub last_run_epoch_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WlanChanges {
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let models: Vec<String> = self
            .models
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        writeln!(
            f,
            "roost ap: {} APs ({}), seed {}, {:.1} s",
            self.aps,
            models.join(", "),
            self.seed,
            self.duration_s
        )?;
        writeln!(f, "  controller list    {}", self.controller_list)?;
        writeln!(f, "  started            {}", self.started)?;
        writeln!(f, "  adopted            {}", self.adopted)?;
        let per: Vec<String> = self
            .run_per_controller
            .iter()
            .map(|(ac, n)| format!("{ac} {n}"))
            .collect();
        if per.is_empty() {
            writeln!(f, "  in run             {}", self.in_run)?;
        } else {
            writeln!(
                f,
                "  in run             {} ({})",
                self.in_run,
                per.join(", ")
            )?;
        }
        let refused: usize = self.refused.iter().map(|r| r.aps).sum();
        writeln!(
            f,
            "  refused            {refused} ({} refusals)",
            self.refusals
        )?;
        for r in &self.refused {
            writeln!(f, "    {} APs: {} {}", r.aps, r.code, r.reason)?;
        }
        writeln!(
            f,
            "  lost AC            {} (fallbacks {}, resets {}, failed joins {})",
            self.losses, self.fallbacks, self.resets, self.join_failures
        )?;
        writeln!(f, "  time to adopt      {}", self.time_to_adopt)?;
        writeln!(f, "  time to re-adopt   {}", self.time_to_readopt)?;
        if self.start_delays.count > 0 {
            writeln!(f, "  start delays       {}", self.start_delays)?;
        }
        let s = &self.readopt_span_ms;
        if let (Some(l), Some(j), Some(r)) = (
            s.first_loss_epoch_ms,
            s.first_join_epoch_ms,
            s.last_run_epoch_ms,
        ) {
            writeln!(
                f,
                "  re-adoption span   first loss to first Join {:.1} ms, first Join to last Run {:.1} ms",
                j - l,
                r - j
            )?;
        }
        writeln!(f, "  time to fall back  {}", self.time_to_fall_back)?;
        let wlans: Vec<String> = self.wlans.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(
            f,
            "  WLANs              {} (added {}, updated {}, deleted {})",
            if wlans.is_empty() {
                "none".to_owned()
            } else {
                wlans.join(", ")
            },
            self.wlan_changes.added,
            self.wlan_changes.updated,
            self.wlan_changes.deleted
        )?;
        let t = &self.traffic;
        write!(
            f,
            "  datagrams          control {} sent / {} received, data {} sent / {} received, {} retransmits; dropped: {} malformed, {} unexpected, {} stale, {} duplicate, {} unroutable, {} by the kernel; {} send errors",
            t.control_sent,
            t.control_received,
            t.data_sent,
            t.data_received,
            t.retransmits,
            t.malformed,
            t.unexpected,
            t.stale,
            t.duplicates,
            t.unroutable,
            t.kernel_drops,
            t.send_errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&s);
        assert_eq!(
            (p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (100, Some(50.0), Some(90.0), Some(99.0), Some(100.0))
        );
        let one = Percentiles::of(&[Duration::from_micros(1500)]);
        assert_eq!((one.p50_ms, one.max_ms), (Some(1.5), Some(1.5)));
        assert_eq!(
            Percentiles::of(&[]).to_string(),
            "n=0  p50 -  p90 -  p99 -  max - (ms)"
        );
    }
}
