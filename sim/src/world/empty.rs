//! A fresh database volume under the world (the runbook's trap: no backup is re-used
//! automatically): the engine's side is `engine/empty.rs`.

use super::World;
use crate::config::Action;
use crate::engine::EmptySummary;

impl World {
    /// The database becomes an empty `cosims` at [`World::now`]: no job, the schema's default
    /// parameters. What lives outside the database stays (the catalogues, the worker VMs, the
    /// plan and the record of the operation). The services, stopped around it if they ran,
    /// resume by their empty-database rules: FSC/RLIE and SWS/WDS look back
    /// `s2_`/`s1_search_default_duration_in_days` (7 d), RLIE-S1 and GFSC to yesterday 00:00,
    /// RLIE-S1-S2 pairs only products published again, SWS/WDS pairs the FSCs the Finder
    /// published in the last 7 days again with their day's S1 data, and the first FSC/RLIE
    /// job of every tile waits for a backward initialisation that never comes while
    /// `activate_backward_reprocessing` is on (jobs.md §0.2, §1, §3, §4.1).
    ///
    /// Recorded as an executed step ([`Action::EmptyDatabase`]), so a later
    /// [`World::reset`] to a backup taken after it rebuilds the same world. Job ids start
    /// again at 1, as the fresh table's sequence does.
    pub fn empty_database(&mut self) -> EmptySummary {
        self.act(Action::EmptyDatabase);
        self.engine.emptied().cloned().unwrap_or_default()
    }
}
