//! The snapshot of a world that runs on, kept between the harness's exports and built again
//! only where the world moved: a rehearsal exports after every step, and building every job's
//! rows again (20 000 to 30 000 jobs, their names, paths and dates) cost more than the export
//! itself.
//!
//! A job's rows follow from its fields, its history, its units and what the builder's running
//! contexts hold at its place (the FSCs published before it, the GFSC watermark …, see
//! [`Reads`](super::from_run)). [`KeptSnapshot`] keeps, per job, what its rows were built from
//! and the rows; at the next build it walks every job again (cheaply: the contexts and units
//! only) and builds the rows of those whose inputs differ, so the snapshot is the one
//! [`Snapshot::from_outcome`] would give, by construction. The history is taken row by row
//! from where the last build stopped, after checking that the rows taken are still the
//! outcome's first rows; otherwise (a reset of the world truncates its history) everything is
//! built again.

use super::from_run::{Contexts, Env, Reads, assemble, build_job, change};
use super::{Change, Detail, Job, Snapshot, SnapshotError};
use crate::config::Config;
use crate::engine::Outcome;
use crate::job_type::JobType;
use crate::model::{self, GfscKind};
use crate::status::Status;
use crate::time::Ms;

use super::BuildOptions;

/// The snapshot of one world kept between builds (see the module's documentation).
#[derive(Default, Clone)]
pub struct KeptSnapshot {
    /// What every job's rows are built from besides the job (`None`: nothing kept).
    env: Option<Env>,
    /// The outcome's history rows taken so far.
    rows: Vec<(u32, Status, Ms)>,
    /// Per engine job: its history so far.
    histories: Vec<Vec<Change>>,
    /// Per engine job: what its rows were built from, and the rows.
    built: Vec<(Inputs, Job)>,
}

/// The fields of an engine job its rows read.
type Fields = (
    JobType,
    u16,
    Ms,
    u32,
    bool,
    bool,
    u64,
    (bool, bool),
    u32,
    GfscKind,
    Ms,
);

fn fields(j: &model::Job) -> Fields {
    (
        j.ty,
        j.tile,
        j.meas,
        j.input,
        j.reprocessing,
        j.no_product,
        j.key,
        j.parts,
        j.master,
        j.gfsc,
        j.start_date,
    )
}

/// Everything a job's rows were built from.
#[derive(Debug, Clone, PartialEq)]
struct Inputs {
    fields: Fields,
    history: usize,
    reads: Reads,
}

impl KeptSnapshot {
    /// Forgets what is kept: the next build is a whole one.
    pub fn forget(&mut self) {
        *self = KeptSnapshot::default();
    }

    /// The database's view of a run of `cfg` that ran on from the last build (which must have
    /// kept jobs and history), equal to [`Snapshot::from_outcome`] of the same outcome.
    pub fn build(
        &mut self,
        cfg: &Config,
        out: &Outcome,
        opts: &BuildOptions,
    ) -> Result<Snapshot, SnapshotError> {
        if !cfg.keep_jobs || !cfg.keep_history {
            return Err(SnapshotError::NotRecorded);
        }
        let follows = self.env.as_ref().is_some_and(|e| e.serves(cfg, opts))
            && out.history.len() >= self.rows.len()
            && out.jobs.len() >= self.histories.len()
            && out.history[..self.rows.len()] == self.rows[..];
        if !follows {
            *self = KeptSnapshot {
                env: Some(Env::new(cfg, opts)),
                ..KeptSnapshot::default()
            };
        }
        let KeptSnapshot {
            env,
            rows,
            histories,
            built,
        } = self;
        let env = env.as_ref().expect("set above");
        histories.resize_with(out.jobs.len(), Vec::new);
        for &(j, status, at) in &out.history[rows.len()..] {
            let h = histories
                .get_mut(j as usize)
                .ok_or(SnapshotError::NotRecorded)?;
            let after = h.last().map(|c| c.status);
            h.push(change(after, status, at));
        }
        rows.extend_from_slice(&out.history[rows.len()..]);
        let mut ctx = Contexts::default();
        let mut jobs = env.services();
        jobs.reserve(out.jobs.len());
        for (j, job) in out.jobs.iter().enumerate() {
            let history = &histories[j];
            let f = fields(job);
            let kept = built.get(j).filter(|(i, _)| i.fields == f);
            let backward = job.ty == JobType::FscRlieJob && job.reprocessing;
            // The L1C id keys the backward re-runs' contexts: the kept one while the job's
            // fields are the same.
            let fresh = (backward && kept.is_none()).then(|| env_l1c(env, job));
            let l1c = match (&fresh, kept) {
                (Some(x), _) => Some(x.0.as_str()),
                (
                    None,
                    Some((
                        _,
                        Job {
                            detail: Detail::FscRlie(x),
                            ..
                        },
                    )),
                ) if backward => Some(x.l1c_id.as_str()),
                _ => None,
            };
            let reads = ctx.reads(env, out, job, history, l1c);
            let inputs = Inputs {
                fields: f,
                history: history.len(),
                reads,
            };
            match built.get(j) {
                Some((i, b)) if *i == inputs => jobs.push(b.clone()),
                _ => {
                    let b = build_job(env, j as u32, job, history.clone(), &inputs.reads, fresh);
                    jobs.push(b.clone());
                    if j < built.len() {
                        built[j] = (inputs, b);
                    } else {
                        built.push((inputs, b));
                    }
                }
            }
        }
        built.truncate(out.jobs.len());
        Ok(assemble(cfg, jobs))
    }
}

fn env_l1c(env: &Env, job: &model::Job) -> (String, Ms, bool) {
    super::from_run::l1c_of(env, job).expect("an FSC/RLIE job")
}
