// Each test binary uses part of the fake AC.
#[allow(dead_code)]
pub mod fake_ac;
