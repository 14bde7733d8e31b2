//! `roost bench`: see README (filled in below).

#[derive(clap::Args)]
pub struct BenchArgs {}

pub fn run(_a: BenchArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not yet")
}
