//! What the rehearsal reads back from the database after a step: the parameters after every
//! step, the jobs when they moved since the world last wrote them (an operator's patch, a
//! restore, a new volume), and what the simulated system takes of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use hrsi_sim::{
    snapshot::{Job, ResumePoints, Snapshot},
    world::Skipped,
};

use super::{FIRST_HAND_JOB_ID, Fingerprint, Truth, count_by_status, fingerprint, kept_snapshot};
use crate::{
    rehearse::{steps::Outcome, transcript::redact, world::World},
    world as dbworld,
};

impl Truth {
    /// After a step that may have changed the database: the jobs as the database holds them, if
    /// they moved since the last export (a hand patch, a restore).
    pub async fn import_jobs(w: &mut World, out: &mut Outcome) -> Result<(), String> {
        if w.truth.base.is_none() {
            return Ok(());
        }
        let (epoch, at) = (w.start, w.now);
        let known = w.truth.fingerprint.clone();
        let r = w
            .with_session(
                async |c: &mut tokio_postgres::Client|
                       -> Result<Option<(dbworld::Imported, Fingerprint)>, String> {
                    let fp = fingerprint(c).await?;
                    if Some(&fp) == known.as_ref() {
                        return Ok(None);
                    }
                    let i = dbworld::import(c, epoch, at)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Some((i, fp)))
                },
            )
            .await;
        let (imported, fp) = match r {
            Ok(Ok(Some(x))) => x,
            Ok(Ok(None)) => return Ok(()),
            // A restore that did not finish (PostgreSQL killed mid-load) leaves rows without
            // their parents: the world does not take them, the restore is to be run again.
            Ok(Err(e)) if w.truth.restore_pending.is_some() => {
                w.truth.stale = true;
                out.observed.push(format!(
                    "the database holds a partial restore ({e}): the simulated system does not take it (the restore is to be run again)"
                ));
                return Ok(());
            }
            Ok(Err(e)) => {
                w.truth.stale = true;
                return Err(format!(
                    "reading the jobs back from the database failed: {e}"
                ));
            }
            // Not reachable: read when it is again (the fingerprint still differs then).
            Err(_) => {
                w.truth.stale = true;
                return Ok(());
            }
        };
        let old = w.truth.base.take().expect("checked");
        let db = &imported.snapshot;
        // What the database holds differently from what it was given.
        let mut differs: BTreeMap<i64, Option<&Arc<Job>>> = BTreeMap::new();
        {
            let mut by_id: BTreeMap<i64, &Arc<Job>> = old.jobs.iter().map(|j| (j.id, j)).collect();
            for j in &db.jobs {
                match by_id.remove(&j.id) {
                    Some(b) if b == j => {}
                    _ => {
                        differs.insert(j.id, Some(j));
                    }
                }
            }
            for id in by_id.into_keys() {
                differs.insert(id, None);
            }
        }
        let at = w.now;
        // A restore of a backup the rehearsal took: the world is rebuilt from it.
        let restored = w
            .truth
            .restore_pending
            .take()
            .and_then(|f| w.backup_at.get(&f).copied());
        if let Some(backup_at) = restored.filter(|_| !differs.is_empty()) {
            let mut backup = db.clone();
            backup.at = backup_at;
            match tokio::task::block_in_place(|| w.course.reset(at, &backup)) {
                Ok(r) => {
                    out.observed.push(format!(
                        "the simulated system is reset to the backup of {}: {} job(s) it created since are gone, {} in flight in the backup run again, {} unit(s) published since are to be processed again (reprocessed); services {}",
                        hrsi_sim::time::Instant(w.start.0 + backup_at).iso(),
                        r.jobs_removed,
                        r.in_flight,
                        r.units_to_redo,
                        if w.course.up { "up" } else { "down until the next start" }
                    ));
                    w.truth.held.clear();
                    w.truth.rebased.clear();
                    // The world's history was rebuilt: its snapshot is built whole again.
                    w.truth.kept.forget();
                    // What the rebuilt world holds differently from the database stays as the
                    // database has it.
                    let mine = kept_snapshot(&mut w.truth.kept, &w.course)?;
                    let mut same = 0usize;
                    let mine_by: BTreeMap<i64, &Arc<Job>> =
                        mine.jobs.iter().map(|j| (j.id, j)).collect();
                    for j in &db.jobs {
                        if mine_by.get(&j.id) == Some(&j) {
                            same += 1;
                        } else {
                            w.truth.held.insert(j.id, Some(Arc::clone(j)));
                        }
                    }
                    for id in mine_by.keys() {
                        if db.job(*id).is_none() {
                            w.truth.held.insert(*id, None);
                        }
                    }
                    if !w.truth.held.is_empty() {
                        out.observed.push(format!(
                            "{} job(s) of the database are the rebuilt world's; {} held as the database has them",
                            same,
                            w.truth.held.len()
                        ));
                    }
                    w.truth.read_back(imported.snapshot, &mine, fp);
                    return Ok(());
                }
                Err(e) => out.observed.push(format!(
                    "the simulated system cannot be reset to that backup ({e}); it reads the jobs as changed by hand"
                )),
            }
        }
        // The world takes what the services would take (statuses changed by hand). Jobs it
        // took by hand before hold the operator's rows at the database's instants: the world
        // is shown its own rows for them, and the database's rows after those.
        let mapped;
        let for_world = if w.truth.rebased.is_empty() {
            db
        } else {
            let mine = kept_snapshot(&mut w.truth.kept, &w.course)?;
            let mut m = db.clone();
            for j in &mut m.jobs {
                if let (Some((k, prefix)), Some(own)) = (w.truth.rebased.get(&j.id), mine.job(j.id))
                    && j.history.starts_with(prefix)
                    && own.history.len() >= *k
                {
                    let j = Arc::make_mut(j);
                    let rest = j.history[prefix.len()..].to_vec();
                    j.history = own.history[..*k].to_vec();
                    j.history.extend(rest);
                }
            }
            mapped = m;
            &mapped
        };
        let sum = tokio::task::block_in_place(|| w.course.import(at, for_world));
        let taken: Vec<i64> = sum.statuses.iter().map(|p| p.id).collect();
        if !taken.is_empty() {
            // The world's own history of those jobs now ends with the operator's rows at its
            // own instant; the database keeps them at the instants it gave them.
            let mine = kept_snapshot(&mut w.truth.kept, &w.course)?;
            for id in &taken {
                if let (Some(Some(j)), Some(m)) = (differs.get(id), mine.job(*id)) {
                    w.truth.held.remove(id);
                    w.truth
                        .rebased
                        .insert(*id, (m.history.len(), j.history.clone()));
                }
            }
            let patched: Vec<Arc<Job>> = taken
                .iter()
                .filter_map(|id| differs.get(id).copied().flatten().cloned())
                .collect();
            out.observed.push(format!(
                "the simulated system takes {} job(s) whose status was changed by hand (now {}): the services act on them as on the database's status",
                taken.len(),
                count_by_status(&patched)
            ));
        }
        // The rest stays as the database holds it, out of the world's exports.
        let (mut kept, mut inserted, mut refused, mut gone) = (Vec::new(), 0usize, 0usize, 0usize);
        for (id, j) in &differs {
            if taken.contains(id) {
                continue;
            }
            match j {
                Some(j) => {
                    w.truth.rebased.remove(id);
                    w.truth.held.insert(*id, Some(Arc::clone(j)));
                    kept.push(Arc::clone(j));
                }
                None => {
                    w.truth.rebased.remove(id);
                    w.truth.held.insert(*id, None);
                    gone += 1;
                }
            }
        }
        for k in &sum.skipped {
            match k {
                Skipped::Unknown { .. } => inserted += 1,
                _ => refused += 1,
            }
        }
        // Jobs with no status yet are not the import's to skip: their ids tell them.
        inserted = inserted.max(kept.iter().filter(|j| j.id >= FIRST_HAND_JOB_ID).count());
        if !kept.is_empty() {
            out.observed.push(format!(
                "{} job(s) the database holds differently stay as it holds them ({}){}{}",
                kept.len(),
                count_by_status(&kept),
                if inserted > 0 {
                    format!("; {inserted} of them the simulated system never created: it does not run them")
                } else {
                    String::new()
                },
                if refused > 0 {
                    format!("; {refused} not taken by the simulated system (a transition the status table refuses, or not its job)")
                } else {
                    String::new()
                }
            ));
        }
        if gone > 0 {
            out.observed.push(format!(
                "{gone} job(s) of the simulated system are no longer in the database (a restore, a new volume?); the world keeps them and does not write them again"
            ));
        }
        if !imported.drift.is_empty() {
            out.observed.push(format!(
                "{} job(s) whose parent_jobs.last_status_id differs from their history's last row (drift)",
                imported.drift.len()
            ));
        }
        w.truth.read_back(imported.snapshot, &old, fp);
        Ok(())
    }
}

/// After every step: the parameters as the database holds them, taken by the world through
/// its import (cheap: the one `system_parameters` row). Returns what the world read.
pub fn import_params(w: &mut World, rows: Vec<(String, Option<String>)>, out: &mut Outcome) {
    let params: BTreeMap<String, Option<String>> = rows
        .into_iter()
        .filter(|(name, _)| hrsi_sim::params::column(name).is_ok())
        .map(|(name, v)| (name, v.map(sim_text)))
        .collect();
    let snap = Snapshot {
        epoch: w.start,
        at: w.now,
        params: Some(params),
        resume: ResumePoints::empty(),
        // Parameters only: the jobs are read when they moved ([`Truth::import_jobs`]).
        jobs: Vec::new(),
    };
    let at = w.now;
    let sum = w.course.import(at, &snap);
    for p in &sum.params_set {
        out.observed.push(format!(
            "the simulated system reads {} = {} from the database",
            p.name,
            redact(p.to.as_deref().unwrap_or("NULL"))
        ));
    }
}

/// Timestamps as `jsonb` gives them (`2025-01-08T00:00:00`), in UTC.
fn sim_text(text: String) -> String {
    if text.len() == 19 && text.as_bytes().get(10) == Some(&b'T') {
        format!("{text}Z")
    } else {
        text
    }
}
