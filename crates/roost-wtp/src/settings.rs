//! The AP's timers and counters: the RFC 5415 defaults (4.7, 4.8), configurable, and which of
//! them an AC may override.

use roost_capwap::defaults;
use roost_capwap::vendor::FastTimers;
use std::time::Duration;

const fn secs(s: u32) -> Duration {
    Duration::from_secs(s as u64)
}

/// How an AP runs CAPWAP. [`WtpSettings::default`] is the RFC's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WtpSettings {
    /// DiscoveryInterval (5 s): how long to wait after the first Discovery Response for
    /// more, and the period between Discovery rounds (which the RFC wants below
    /// MaxDiscoveryInterval, 20 s). The AP decides at once when every controller it asked
    /// has answered: no more responses can come.
    pub discovery_interval: Duration,
    /// MaxDiscoveries (10): rounds without any response before the AP sulks.
    pub max_discoveries: u32,
    /// SilentInterval (30 s): how long it sulks.
    pub silent_interval: Duration,
    /// RetransmitInterval (3 s): the first retransmission of an unanswered request; it
    /// doubles after each, capped at half the echo interval.
    pub retransmit_interval: Duration,
    /// MaxRetransmit (5): retransmissions before the AC is given up.
    pub max_retransmit: u8,
    /// EchoInterval (30 s) until the AC says otherwise (CAPWAP Timers, whole seconds).
    pub echo_interval: Duration,
    /// DataChannelKeepAlive (30 s).
    pub keep_alive_interval: Duration,
    /// DataChannelDeadInterval (60 s): no keep-alive echoed for this long loses the AC.
    pub data_channel_dead_interval: Duration,
    /// After every AC refused the Join, the wait before a new Discovery round:
    /// DiscoveryInterval by default. (The RFC goes back to Discovery at once; the wait keeps
    /// refused APs from hammering a full controller, and a refusal for a transient reason,
    /// such as too many Joins at once, is retried soon.)
    pub refused_retry: Duration,
    /// WTP Fallback (enabled) until the AC says otherwise.
    pub fallback: bool,
    /// After a failed move back to a higher-priority AC, how long not to try that AC again
    /// (against flapping); SilentInterval by default.
    pub fallback_holddown: Duration,
    /// Honour and announce Roost's [`FastTimers`] element (a Roost WTP announces it in its
    /// Join Request; an AC that knows it sends its timers back). Off: behave as a foreign WTP.
    pub fast_timers: bool,
    /// UDP port of an AC known only by its IP (from an AC IPv4 List) and not in the
    /// controller list: 5246.
    pub control_port: u16,
}

impl Default for WtpSettings {
    fn default() -> WtpSettings {
        WtpSettings {
            discovery_interval: secs(defaults::DISCOVERY_INTERVAL),
            max_discoveries: defaults::MAX_DISCOVERIES,
            silent_interval: secs(defaults::SILENT_INTERVAL),
            retransmit_interval: secs(defaults::RETRANSMIT_INTERVAL),
            max_retransmit: defaults::MAX_RETRANSMIT as u8,
            echo_interval: secs(defaults::ECHO_INTERVAL),
            keep_alive_interval: secs(defaults::DATA_CHANNEL_KEEP_ALIVE),
            data_channel_dead_interval: secs(defaults::DATA_CHANNEL_DEAD_INTERVAL),
            refused_retry: secs(defaults::DISCOVERY_INTERVAL),
            fallback: true,
            fallback_holddown: secs(defaults::SILENT_INTERVAL),
            fast_timers: true,
            control_port: roost_capwap::CONTROL_PORT,
        }
    }
}

impl WtpSettings {
    /// The same with every interval at least 1 ms: a zero interval would make a deadline
    /// that is always due, and the driver spin.
    pub fn floored(mut self) -> WtpSettings {
        let floor = Duration::from_millis(1);
        for d in [
            &mut self.discovery_interval,
            &mut self.silent_interval,
            &mut self.retransmit_interval,
            &mut self.echo_interval,
            &mut self.keep_alive_interval,
            &mut self.data_channel_dead_interval,
            &mut self.refused_retry,
        ] {
            *d = (*d).max(floor);
        }
        self
    }
}

/// The timers in force for the current AC: the settings, overridden by what the AC sent
/// (CAPWAP Timers, [`FastTimers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub echo_interval: Duration,
    pub retransmit_interval: Duration,
    pub max_retransmit: u8,
    /// MaxDiscoveryInterval (20 s), from CAPWAP Timers; caps the Discovery round period.
    pub max_discovery_interval: Duration,
    /// Whether the AC's [`FastTimers`] are in force.
    pub fast: bool,
}

impl Timers {
    pub fn from_settings(s: &WtpSettings) -> Timers {
        Timers {
            echo_interval: s.echo_interval,
            retransmit_interval: s.retransmit_interval,
            max_retransmit: s.max_retransmit,
            max_discovery_interval: secs(defaults::MAX_DISCOVERY_INTERVAL),
            fast: false,
        }
    }

    /// The AC's sub-second timers replace echo, retransmit and the retransmission count.
    pub fn apply_fast(&mut self, f: FastTimers) {
        self.echo_interval = f.echo_interval;
        self.retransmit_interval = f.retransmit_interval;
        self.max_retransmit = f.max_retransmit;
        self.fast = true;
    }

    /// What a Roost WTP announces in its Join Request: the timers it runs now.
    pub fn as_fast(&self) -> FastTimers {
        let clamp = |d: Duration| d.clamp(FastTimers::MIN_INTERVAL, FastTimers::MAX_INTERVAL);
        FastTimers {
            echo_interval: clamp(self.echo_interval),
            retransmit_interval: clamp(self.retransmit_interval),
            max_retransmit: self.max_retransmit,
        }
    }

    /// The wait after a retransmission that waited `current`: doubled, but no more than half
    /// the echo interval (RFC 5415 4.5.3), and never shorter than `current`.
    pub fn next_retransmit(&self, current: Duration) -> Duration {
        let cap = self.echo_interval / 2;
        current.max((current * 2).min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_double_up_to_half_the_echo_interval() {
        let t = Timers::from_settings(&WtpSettings::default());
        let mut waits = vec![t.retransmit_interval];
        for _ in 0..5 {
            waits.push(t.next_retransmit(*waits.last().unwrap()));
        }
        assert_eq!(waits, [3, 6, 12, 15, 15, 15].map(Duration::from_secs));
        let mut fast = t;
        fast.apply_fast(FastTimers {
            echo_interval: Duration::from_millis(1000),
            retransmit_interval: Duration::from_millis(300),
            max_retransmit: 1,
        });
        assert_eq!(
            fast.next_retransmit(Duration::from_millis(300)),
            Duration::from_millis(500)
        );
        // A first interval already above the cap is kept, not shortened.
        fast.retransmit_interval = Duration::from_millis(800);
        assert_eq!(
            fast.next_retransmit(Duration::from_millis(800)),
            Duration::from_millis(800)
        );
    }
}
