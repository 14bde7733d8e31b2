//! The force-configured-state delay rule, over plain values so that both the daemon (through
//! `roost_config::settings`) and the simulation run it.

use std::time::Duration;

/// The delay a member waits, after failing over, before it falls back to its configured state.
///
/// `own` is this member's (force-configured-state enabled, delay), its defaults if it has no
/// device section; `cluster` the same pair for every member of the cluster configuration.
/// WiNG's guide enables force-configured-state on the primary only, while the member that
/// failed over is the one that must wait: so a member that does not enable it itself uses the
/// shortest delay of the members that do, and its own delay if none does.
pub fn fallback_delay(
    own: (bool, Duration),
    cluster: impl IntoIterator<Item = (bool, Duration)>,
) -> Duration {
    if own.0 {
        return own.1;
    }
    cluster
        .into_iter()
        .filter(|(enabled, _)| *enabled)
        .map(|(_, delay)| delay)
        .min()
        .unwrap_or(own.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_member_that_enables_it_uses_its_own_delay() {
        assert_eq!(fallback_delay((true, S(10)), [(true, S(3))]), S(10));
    }

    #[test]
    fn a_member_that_does_not_uses_the_shortest_delay_of_those_that_do() {
        let cluster = [(true, S(30)), (false, S(1)), (true, S(20))];
        assert_eq!(fallback_delay((false, S(300)), cluster), S(20));
    }

    #[test]
    fn without_any_member_enabling_it_a_member_keeps_its_own_delay() {
        assert_eq!(fallback_delay((false, S(300)), [(false, S(5))]), S(300));
        assert_eq!(fallback_delay((false, S(7)), []), S(7));
    }
}
