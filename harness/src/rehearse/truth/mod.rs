//! The database as the truth at every step boundary (design/architecture.md, "One truth during
//! a rehearsal"): after the simulated world ran (`advance`, `run_until`) what it did is written
//! into the scenario's `cosims` ([`export`]); after a step that may have changed the database,
//! the simulated system reads back what the operator changed ([`import`]) before it runs again.
//!
//! - The first export (at the start of a scenario whose world runs) writes the world so far,
//!   its warm start, into the scenario's database *in place of* the history the template or the
//!   own cluster was given: the world's jobs are the database's, ids and status ids as the
//!   simulator numbers them (`Snapshot::from_outcome`'s mapping), so the world's jobs and the
//!   history never overlap in time nor clash on the schema's unique keys, and an operator's SQL
//!   patches jobs the simulated system knows.
//! - Later exports are incremental (`Snapshot::delta_since` of what the database was last
//!   given or read back), through `harness::world::export_delta`, which refuses to write over a
//!   job the database moved since.
//! - The import reads the parameters after every step (cheap) and the jobs only when a
//!   fingerprint of the job tables moved since the last export (a restore, a hand patch): a
//!   job changed by hand is taken from the database and held out of the world's later exports
//!   until the world can take it (`hrsi_sim::World` has no import of job statuses yet), and the
//!   transcript says so.
//! - When the database is not reachable (PostgreSQL killed, a volume gone), nothing is written
//!   and nothing is lost: the next export that reaches it writes all the world did since.

use std::collections::BTreeMap;
use std::sync::Arc;

use hrsi_scenario::StepKind;
use hrsi_sim::{
    snapshot::{BuildOptions, Change, Job, KeptSnapshot, Snapshot},
    status::Status,
};

use super::{course::Course, steps::Outcome, world::World};
use crate::world as dbworld;

mod import;
pub use import::import_params;

/// What the database was given, and what is still to give it.
#[derive(Default)]
pub struct Truth {
    /// What the database holds as far as the world knows: the last export, or the last import
    /// of jobs (the base of the next incremental export). `None`: the world was never written.
    base: Option<Snapshot>,
    /// The fingerprint of the job tables right after the base was written or read.
    fingerprint: Option<Fingerprint>,
    /// Jobs the database holds differently from the world (changed by hand, inserted, or gone
    /// in a restore: `None`), kept as the database has them in every later export.
    held: BTreeMap<i64, Option<Arc<Job>>>,
    /// Jobs whose status an operator changed and the world took: the database's history up
    /// to the import (the operator's rows at the times the database gave them), and how many
    /// rows of the world's own history that prefix stands for. Later exports append the
    /// world's rows after it.
    rebased: BTreeMap<i64, (usize, Vec<Change>)>,
    /// The world ran since the last export reached the database.
    pending: bool,
    /// An import found the fingerprint moved but could not take the database's jobs (not
    /// reachable, a partial restore): the fingerprint is not to be followed by arithmetic.
    stale: bool,
    /// The backup (archive or dump file) a restore step just loaded.
    pub restore_pending: Option<String>,
    /// The world's snapshot as last built, built again only where the world moved.
    kept: KeptSnapshot,
}

/// Cheap summary of the job tables: any insert, delete or status change by hand moves it.
/// `[jobs, sum of last_status_id, status rows, largest status row id, sum of job_status]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint([i64; 5]);

impl Fingerprint {
    /// The fingerprint after an incremental export that started from this one: the export's
    /// transaction checked every job it changed to hold the base's status and history, and
    /// wrote `w`, so the sums follow without a scan. When the database had moved elsewhere
    /// before (rows of jobs the export did not touch), the database's own fingerprint differs
    /// from this one just as it differed from the one before: the next import still sees it.
    fn after(&self, w: &dbworld::DeltaWritten) -> Fingerprint {
        let [jobs, last, rows, max, sum] = self.0;
        Fingerprint([
            jobs + w.summary.jobs_inserted as i64,
            last + w.last_status_sum,
            rows + w.summary.status_changes as i64,
            w.last_status_row.unwrap_or(max),
            sum + w.status_sum,
        ])
    }
}

/// One scan per table (the five figures of two subqueries each scanning their table once).
const FINGERPRINT: &str = "select j.n, j.s, c.n, c.m, c.s
        from (select count(*) as n, coalesce(sum(coalesce(last_status_id, 0)), 0)::bigint as s
                from cosims.parent_jobs) j,
             (select count(*) as n, coalesce(max(id), 0) as m,
                     coalesce(sum(job_status), 0)::bigint as s
                from cosims.job_status_changes) c";

async fn fingerprint(c: &tokio_postgres::Client) -> Result<Fingerprint, String> {
    let r = c
        .query_one(FINGERPRINT, &[])
        .await
        .map_err(|e| format!("read the job tables' fingerprint: {e}"))?;
    Ok(Fingerprint([
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
    ]))
}

/// The database's view of the world as it stands: every job with its history so far (no
/// parameters: the world reads them, it never writes them).
pub fn world_snapshot(course: &Course) -> Result<Snapshot, String> {
    kept_snapshot(&mut KeptSnapshot::default(), course)
}

/// [`world_snapshot`], built again only where the world moved since `kept` was last built.
pub fn kept_snapshot(kept: &mut KeptSnapshot, course: &Course) -> Result<Snapshot, String> {
    let out = course.outcome();
    let mut s = kept
        .build(course.config(), &out, &BuildOptions::default())
        .map_err(|e| format!("the simulated world cannot be written: {e}"))?;
    s.at = course.now();
    // Parameters flow one way, from the database into the world (an operator's value the
    // world refuses stays in the database as the operator wrote it).
    s.params = None;
    Ok(s)
}

/// The first id a job inserted by hand gets: the world numbers its jobs from 1 in creation order
/// (far fewer than this within `MAX_DAYS`), so an operator's `INSERT` never takes an id the world
/// gives its next job (that job would then be held out of the database as the hand one).
pub const FIRST_HAND_JOB_ID: i64 = 1_000_000_000;

/// After an export (which moves the sequence to the world's last id): `parent_jobs`'s sequence
/// is moved into the ids kept for jobs inserted by hand, past any already there.
async fn hand_ids(c: &tokio_postgres::Client) -> Result<(), String> {
    c.batch_execute(&format!(
        "select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'),
                greatest((select max(id) from cosims.parent_jobs) + 1, {FIRST_HAND_JOB_ID}), false)"
    ))
    .await
    .map_err(|e| format!("move the job id sequence past the world's ids: {e}"))
}

/// Whether a step may change what is in the database (the import then reads it back).
pub fn may_write(k: &StepKind) -> bool {
    !matches!(
        k,
        StepKind::Advance(_)
            | StepKind::RunUntil { .. }
            | StepKind::Expect
            | StepKind::PgDumpall { .. }
            | StepKind::Backup
            | StepKind::BorgList
            | StepKind::BorgExtract { .. }
            | StepKind::TfPlan { .. }
            | StepKind::NomadEdit(_)
            | StepKind::NomadJobFile(_)
            | StepKind::NomadRun { .. }
            | StepKind::NomadStop { .. }
            | StepKind::NomadWaitGone { .. }
    )
}

fn count_by_status(jobs: &[Arc<Job>]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for j in jobs {
        let s = j.status().map_or("no status", Status::name);
        *by.entry(s.to_owned()).or_default() += 1;
    }
    by.iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Truth {
    /// Nothing given to the database yet; `kept`: the world's snapshot as built at the start.
    pub fn with_kept(kept: KeptSnapshot) -> Truth {
        Truth {
            kept,
            ..Truth::default()
        }
    }

    /// At the start of a scenario whose world runs: the database's jobs become the world's so
    /// far (its warm start), in place of the history it was given. Returns the setup line.
    pub async fn first_export(w: &mut World) -> Result<String, String> {
        let (snap, holder) = match w.start_world.take() {
            Some(x) => x,
            None => (kept_snapshot(&mut w.truth.kept, &w.course)?, None),
        };
        let s = &snap;
        let summary = w
            .with_session(
                async |c: &mut tokio_postgres::Client|
                       -> Result<(Option<dbworld::ExportSummary>, Fingerprint), String> {
                    if holder.is_some() {
                        // The database already holds this very world: nothing to write but
                        // the sequences' place for jobs inserted by hand.
                        hand_ids(c).await?;
                        return Ok((None, fingerprint(c).await?));
                    }
                    // The history the database was given is replaced, not added to: the
                    // world's warm start covers the same days.
                    c.batch_execute("truncate cosims.parent_jobs cascade")
                        .await
                        .map_err(|e| format!("empty the job tables for the world: {e}"))?;
                    let summary = dbworld::export(c, s)
                        .await
                        .map_err(|e| e.to_string())?;
                    hand_ids(c).await?;
                    Ok((Some(summary), fingerprint(c).await?))
                },
            )
            .await??;
        let days = w.course.config().calibration.warm_start_days;
        let line = match (summary.0, holder) {
            (Some(summary), _) => format!(
                "the simulated system's world at the start (its warm start of {days} days) written into cosims in place of that history: {} jobs ({}), {} status changes",
                summary.jobs_inserted,
                count_by_status(&snap.jobs),
                summary.status_changes
            ),
            (None, holder) => format!(
                "the simulated system's world at the start (its warm start of {days} days) is the one {} holds, nothing written: {} jobs ({}), {} status changes",
                holder.unwrap_or("the database"),
                snap.jobs.len(),
                count_by_status(&snap.jobs),
                snap.status_changes()
            ),
        };
        if summary.0.is_some() {
            w.autoanalyze().await;
        }
        w.truth.base = Some(snap);
        w.truth.fingerprint = Some(summary.1);
        w.truth.pending = false;
        Ok(line)
    }

    /// The world's database was replaced by an empty one (a fresh volume, the world emptied
    /// with it, [`hrsi_sim::World::empty_database`]): the database holds nothing the world
    /// wrote, the world's jobs start again at id 1, and the next export writes them all. A
    /// world that never ran stays unwritten.
    pub fn database_emptied(&mut self, epoch: hrsi_sim::time::Instant, at: hrsi_sim::time::Ms) {
        if self.base.is_none() {
            return;
        }
        self.base = Some(Snapshot {
            epoch,
            at,
            params: None,
            resume: hrsi_sim::snapshot::ResumePoints::empty(),
            jobs: Vec::new(),
        });
        // Read again at the next import: the fresh database's own.
        self.fingerprint = None;
        self.held.clear();
        self.rebased.clear();
        self.pending = false;
        self.stale = false;
        self.restore_pending = None;
        self.kept.forget();
    }

    /// The database's jobs as read back become the base of the next export, each job nobody
    /// changed taking its allocation in `shared` (the world's last build or export), so that
    /// the next export finds what moved by pointer.
    fn read_back(&mut self, mut db: Snapshot, shared: &Snapshot, fp: Fingerprint) {
        db.params = None;
        db.share_unchanged(shared);
        self.base = Some(db);
        self.fingerprint = Some(fp);
        self.stale = false;
    }

    /// Whether the world was ever written (the scenario's world runs).
    pub fn active(&self) -> bool {
        self.base.is_some()
    }

    /// After the world ran: writes what it did since the last export that reached the database.
    pub async fn export(w: &mut World, out: &mut Outcome) -> Result<(), String> {
        let Some(base) = w.truth.base.take() else {
            return Ok(());
        };
        w.truth.pending = true;
        let mut next = kept_snapshot(&mut w.truth.kept, &w.course)?;
        rebase(&mut next, &w.truth.rebased);
        hold(&mut next, &w.truth.held);
        let (b, n) = (&base, &next);
        // A fingerprint that may not be the database's (an import that could not read it)
        // is taken again after the export, as it always was.
        let known = w.truth.fingerprint.clone().filter(|_| !w.truth.stale);
        let r = w
            .with_session(
                async |c: &mut tokio_postgres::Client|
                       -> Result<(dbworld::ExportSummary, Fingerprint), String> {
                    let opts = dbworld::DeltaOptions {
                        job_ids_from: Some(FIRST_HAND_JOB_ID),
                    };
                    let s = dbworld::export_delta_with(c, b, n, &opts)
                        .await
                        .map_err(|e| e.to_string())?;
                    let fp = match &known {
                        Some(fp) => fp.after(&s),
                        None => fingerprint(c).await?,
                    };
                    Ok((s.summary, fp))
                },
            )
            .await;
        match r {
            Ok(Ok((s, fp))) => {
                out.observed.push(format!(
                    "written to the database: {} new job(s), {} job(s) updated, {} status change(s)",
                    s.jobs_inserted, s.jobs_updated, s.status_changes
                ));
                w.truth.base = Some(next);
                w.truth.fingerprint = Some(fp);
                w.truth.stale = false;
                w.truth.pending = false;
                Ok(())
            }
            Ok(Err(e)) => {
                w.truth.base = Some(base);
                Err(format!("writing the simulated system's jobs failed: {e}"))
            }
            Err(e) => {
                let services = if w.course.up && w.course.faults().database_down {
                    "the services can neither read nor write it (the simulated ones feel it: they do nothing until it answers)"
                } else if w.course.up {
                    "the real services can neither read nor write it (they fail; the simulated ones ran on as if they could)"
                } else {
                    "the services are stopped too"
                };
                out.observed.push(format!(
                    "the database is not reachable ({e}): {services}; what the simulated system did is not written yet, the next export that reaches the database writes it"
                ));
                w.truth.base = Some(base);
                Ok(())
            }
        }
    }
}

/// The jobs whose status an operator changed keep the database's history, the world's rows
/// since follow it.
fn rebase(next: &mut Snapshot, rebased: &BTreeMap<i64, (usize, Vec<Change>)>) {
    for j in &mut next.jobs {
        if let Some((k, prefix)) = rebased.get(&j.id) {
            let j = Arc::make_mut(j);
            let since = j.history.get(*k..).unwrap_or_default().to_vec();
            j.history = prefix.clone();
            j.history.extend(since);
        }
    }
}

/// The jobs the database holds differently stay as it holds them.
fn hold(next: &mut Snapshot, held: &BTreeMap<i64, Option<Arc<Job>>>) {
    if held.is_empty() {
        return;
    }
    let mut jobs: BTreeMap<i64, Arc<Job>> = std::mem::take(&mut next.jobs)
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    for (id, j) in held {
        match j {
            Some(j) => {
                jobs.insert(*id, Arc::clone(j));
            }
            None => {
                jobs.remove(id);
            }
        }
    }
    next.jobs = jobs.into_values().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsi_sim::snapshot::{Detail, ResumePoints};

    fn change(status: Status, at: i64) -> Change {
        Change {
            status,
            at,
            error_subtype: None,
        }
    }

    fn job(id: i64, history: Vec<Change>) -> Job {
        Job {
            id,
            name: format!("job{id}"),
            priority: None,
            nomad_id: None,
            tile_id: String::new(),
            detail: Detail::Service,
            history,
        }
    }

    fn snapshot(jobs: Vec<Job>) -> Snapshot {
        Snapshot {
            epoch: hrsi_sim::time::Instant(0),
            at: 0,
            params: None,
            resume: ResumePoints::empty(),
            jobs: jobs.into_iter().map(Arc::new).collect(),
        }
    }

    #[test]
    fn a_job_patched_by_hand_keeps_the_database_rows_and_the_world_rows_follow() {
        use Status::*;
        // The world took `error_checked, ready` at its own instant 100 and runs the job again.
        let world = vec![
            change(InternalError, 10),
            change(ErrorChecked, 100),
            change(Ready, 100),
            change(Queued, 150),
            change(Started, 160),
        ];
        // The database holds the operator's rows at psql's now().
        let db = vec![
            change(InternalError, 10),
            change(ErrorChecked, 9_000_000),
            change(Ready, 9_000_001),
        ];
        let mut next = snapshot(vec![job(7, world), job(8, vec![change(Done, 5)])]);
        let rebased = BTreeMap::from([(7, (3, db.clone()))]);
        rebase(&mut next, &rebased);
        let mut want = db;
        want.extend([change(Queued, 150), change(Started, 160)]);
        assert_eq!(next.jobs[0].history, want);
        // Other jobs are the world's.
        assert_eq!(next.jobs[1].history, vec![change(Done, 5)]);
        // The base it is exported against (the import) is a prefix: an append-only delta.
        let base = snapshot(vec![
            job(7, want[..3].to_vec()),
            job(8, vec![change(Done, 5)]),
        ]);
        let d = next
            .delta_since(&base)
            .expect("an extension of the database's rows");
        assert_eq!(d.status_changes(), 2);
    }

    #[test]
    fn jobs_held_stay_as_the_database_holds_them_and_gone_ones_are_not_written_again() {
        use Status::*;
        let mut next = snapshot(vec![
            job(1, vec![change(Done, 1)]),
            job(2, vec![change(Done, 2)]),
            job(4, vec![change(Done, 4)]),
        ]);
        let held = BTreeMap::from([
            (2, None),
            (3, Some(Arc::new(job(3, vec![change(Cancelled, 3)])))),
            (4, Some(Arc::new(job(4, vec![change(InternalError, 4)])))),
        ]);
        hold(&mut next, &held);
        let ids: Vec<i64> = next.jobs.iter().map(|j| j.id).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(next.jobs[2].status(), Some(InternalError));
    }

    #[test]
    fn only_steps_that_may_write_the_database_are_read_back() {
        assert!(!may_write(&StepKind::Advance(1)));
        assert!(!may_write(&StepKind::Expect));
        assert!(!may_write(&StepKind::Backup));
        assert!(may_write(&StepKind::Sql("select 1".into())));
        assert!(may_write(&StepKind::PostgresRestart));
    }
}
