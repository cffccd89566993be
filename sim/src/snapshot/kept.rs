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

use std::sync::Arc;

use super::from_run::{Contexts, Env, Reads, assemble, build_job, change, first_at};
use super::{Change, Detail, Job, ResumeCell, ResumePoints, Snapshot, SnapshotError};
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
    built: Vec<Built>,
}

/// One engine job's rows as last built.
#[derive(Clone)]
struct Built {
    /// What they were built from.
    inputs: Inputs,
    /// When the job first entered `published` (NRT FSC/RLIE jobs; `None` for the others).
    published: Option<Ms>,
    /// What they give the resume points (kept here, beside the other jobs', so that a build
    /// reads no job it does not build again).
    resume: ResumeCell,
    /// The rows, shared with every snapshot built since.
    job: Arc<Job>,
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
        let services = env.services_of(out);
        let mut jobs = Vec::with_capacity(services.len() + out.jobs.len());
        let mut resume = ResumePoints::empty();
        for s in services {
            resume = resume.with(ResumeCell::of(&s.detail));
            jobs.push(s);
        }
        for (j, job) in out.jobs.iter().enumerate() {
            let history = &histories[j];
            let f = fields(job);
            let backward = job.ty == JobType::FscRlieJob && job.reprocessing;
            // The L1C id keys the backward re-runs' contexts: the kept one while the job's
            // fields are the same (only a backward re-run reads its kept rows here: the rows
            // of the others are not touched while they stay the same).
            let kept = built
                .get(j)
                .filter(|k| backward && k.inputs.fields == f)
                .map(|k| &*k.job);
            let fresh = (backward && kept.is_none()).then(|| env_l1c(env, job));
            let l1c = match (&fresh, kept) {
                (Some(x), _) => Some(x.0.as_str()),
                (
                    None,
                    Some(Job {
                        detail: Detail::FscRlie(x),
                        ..
                    }),
                ) => Some(x.l1c_id.as_str()),
                _ => None,
            };
            // Only NRT FSC/RLIE jobs read their publication; the history of a job whose
            // history did not grow is not read again.
            let published = match built.get(j) {
                _ if job.ty != JobType::FscRlieJob || job.reprocessing => None,
                Some(k) if k.inputs.history == history.len() => k.published,
                _ => first_at(history, Status::Published),
            };
            let reads = ctx.reads(env, out, job, published, l1c);
            let inputs = Inputs {
                fields: f,
                history: history.len(),
                reads,
            };
            match built.get(j) {
                Some(k) if k.inputs == inputs => {
                    resume = resume.with(k.resume);
                    jobs.push(Arc::clone(&k.job));
                }
                _ => {
                    let b = Arc::new(build_job(
                        env,
                        j as u32,
                        job,
                        history.clone(),
                        &inputs.reads,
                        fresh,
                    ));
                    let k = Built {
                        inputs,
                        published,
                        resume: ResumeCell::of(&b.detail),
                        job: Arc::clone(&b),
                    };
                    resume = resume.with(k.resume);
                    jobs.push(b);
                    if j < built.len() {
                        built[j] = k;
                    } else {
                        built.push(k);
                    }
                }
            }
        }
        built.truncate(out.jobs.len());
        Ok(assemble(cfg, jobs, resume))
    }
}

fn env_l1c(env: &Env, job: &model::Job) -> (String, Ms, bool) {
    super::from_run::l1c_of(env, job).expect("an FSC/RLIE job")
}
