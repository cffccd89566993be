//! The template database every scenario clones: the `cosims` schema holding a production-shaped
//! history (the simulator's warm start plus N days of simulated production), written once per
//! run with [`export`](super::export), then cloned with `STRATEGY FILE_COPY`.

use hrsi_sim::{
    Config,
    snapshot::{BuildOptions, Snapshot},
    time::{DAY, Instant},
};

use super::{Error, Result};
use crate::{
    postgres::{Server, Template, unique_db_name},
    schema::Schema,
};

/// At most this many simulated days in a template (a year and a bit).
pub const MAX_HISTORY_DAYS: u32 = 400;

/// Which history the template holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistorySpec {
    /// Seed of the simulation.
    pub seed: u64,
    /// Days simulated after the warm start.
    pub days: u32,
}

impl Default for HistorySpec {
    fn default() -> Self {
        HistorySpec { seed: 1, days: 10 }
    }
}

impl HistorySpec {
    /// The simulator config of the history: the default world over `days` days.
    pub fn config(&self) -> Config {
        let mut c = Config::new(self.seed);
        c.horizon = i64::from(self.days) * DAY;
        c
    }

    /// The same history placed so that it ends at `end` (the warm start and the `days` before
    /// it): a rehearsal's start, or now for `hrsi patch-test` and `hrsi up`.
    pub fn config_ending_at(&self, end: Instant) -> Config {
        let mut c = self.config();
        c.start = Instant(end.0 - c.horizon);
        c
    }
}

/// A template database and the world it holds.
#[derive(Debug, Clone)]
pub struct HistoryTemplate {
    /// The template (clone it per scenario).
    pub template: Template,
    /// What it holds, at the config's horizon.
    pub snapshot: Snapshot,
}

/// Simulates `cfg` (warm start included, to its horizon), writes the world into a new template
/// database holding `schema`, and returns both. Called once per run by `hrsi up`, `hrsi
/// patch-test` and `hrsi rehearse`.
pub async fn history_template(
    server: &Server,
    schema: &Schema,
    cfg: &Config,
) -> Result<HistoryTemplate> {
    let days = (cfg.horizon.max(0) / DAY) as u32;
    if days > MAX_HISTORY_DAYS || cfg.horizon < 0 {
        return Err(Error::TooManyDays {
            days,
            max: MAX_HISTORY_DAYS,
        });
    }
    let snapshot = Snapshot::record(cfg, &BuildOptions::default())?;
    let admin = server.admin().await?;
    let name = unique_db_name(&format!("h{}", schema.fingerprint()));
    admin.create_database(&name).await?;
    let fill = async {
        let mut client = server.connect(&name).await?;
        schema
            .load(&client)
            .await
            .map_err(|e| crate::postgres::Error::Script(Box::new(e)))?;
        super::export(&mut client, &snapshot).await?;
        // Clones inherit the statistics: the planner sees the history's real size.
        client
            .batch_execute("analyze")
            .await
            .map_err(|e| crate::postgres::Error::sql("analyze the template", &e))?;
        Ok::<(), Error>(())
    };
    if let Err(e) = fill.await {
        let _ = admin.drop_database(&name).await;
        return Err(e);
    }
    admin.wait_until_unused(&name).await?;
    Ok(HistoryTemplate {
        template: Template::existing(name),
        snapshot,
    })
}
