//! The snapshot kept between exports ([`KeptSnapshot`]) is the whole build's
//! ([`Snapshot::from_outcome`]) after every step of a world that runs on irregularly, takes jobs
//! patched by hand, changes a parameter and is reset to a backup.
use std::sync::Arc;

use hrsi_sim::snapshot::{BuildOptions, Change, KeptSnapshot, Snapshot};
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR, MINUTE};
use hrsi_sim::{Action, Config, World};

const OPTS: BuildOptions = BuildOptions { first_id: 1 };

fn cfg() -> Config {
    let mut c = Config::new(7);
    c.horizon = 6 * DAY;
    c.calibration.warm_start_days = 2.0;
    c.keep_jobs = true;
    c.keep_history = true;
    c.steps = hrsi_sim::config::outage_steps(DAY, DAY + 5 * HOUR, hrsi_sim::Restart::Waves, 0);
    c
}

/// The kept builder, and its last build beside the whole build of the same world.
#[derive(Default)]
struct Builds {
    kept: KeptSnapshot,
    last: Option<(Snapshot, Snapshot)>,
}

/// The kept build and the whole build of the world as it stands, compared; and the delta
/// from the last kept build (found through the jobs the two builds share) compared with the
/// delta between the whole builds (no job shared: every row compared).
fn same(b: &mut Builds, w: &World, what: &str) -> Snapshot {
    let out = w.outcome();
    let whole = Snapshot::from_outcome(w.config(), &out, &OPTS).expect("recorded");
    let k = b.kept.build(w.config(), &out, &OPTS).expect("recorded");
    assert_eq!(k.jobs.len(), whole.jobs.len(), "{what}: jobs");
    for (a, b) in k.jobs.iter().zip(&whole.jobs) {
        assert_eq!(a, b, "{what}: job {}", b.id);
    }
    assert_eq!(k, whole, "{what}");
    if let Some((last_kept, last_whole)) = &b.last {
        let shared = k
            .jobs
            .iter()
            .zip(&last_kept.jobs)
            .filter(|(x, y)| Arc::ptr_eq(x, y))
            .count();
        let by_pointer = k.delta_since(last_kept).map_err(|e| e.to_string());
        let by_rows = whole.delta_since(last_whole).map_err(|e| e.to_string());
        assert_eq!(
            by_pointer, by_rows,
            "{what}: the delta ({shared} jobs shared)"
        );
        if let Ok(d) = &by_pointer {
            // Every job the delta does not list is shared with the last build: nothing was
            // copied for it.
            assert_eq!(
                shared + d.changed.len() + d.new_jobs.len(),
                k.jobs.len(),
                "{what}: jobs shared with the last build"
            );
        }
    }
    b.last = Some((k, whole.clone()));
    whole
}

#[test]
fn the_kept_snapshot_is_the_whole_build_after_irregular_steps_a_hand_patch_and_a_reset() {
    let mut w = World::new(cfg(), None);
    let mut kept = Builds::default();
    same(&mut kept, &w, "the warm start");
    let mut at = 0;
    let mut backup = None;
    for (n, step) in [
        7 * MINUTE,
        HOUR,
        13 * HOUR + 11 * MINUTE,
        MINUTE,
        0,
        5 * HOUR,
        DAY + 3 * HOUR,
        2 * HOUR,
    ]
    .into_iter()
    .enumerate()
    {
        at += step;
        w.run_until(at);
        same(&mut kept, &w, &format!("step {n} at {at}"));
        if n == 2 {
            backup = Some(w.snapshot(&OPTS).expect("recorded"));
        }
    }
    // Failed jobs patched by hand (error_checked → ready) taken by the world.
    let mut s = w.snapshot(&OPTS).expect("recorded");
    let ids: Vec<i64> = s
        .jobs
        .iter()
        .filter(|j| j.job_type().is_some() && j.status() == Some(Status::InternalError))
        .map(|j| j.id)
        .collect();
    assert!(!ids.is_empty(), "{:?}", s.by_status());
    for j in s.jobs.iter_mut().filter(|j| ids.contains(&j.id)) {
        for st in [Status::ErrorChecked, Status::Ready] {
            std::sync::Arc::make_mut(j).history.push(Change {
                status: st,
                at: s.at,
                error_subtype: None,
            });
        }
    }
    let sum = w.import(&s, &OPTS);
    assert!(!sum.statuses.is_empty(), "{sum:?}");
    same(&mut kept, &w, "after the import of the patched jobs");
    at += 3 * HOUR;
    w.run_until(at);
    same(&mut kept, &w, "the patched jobs run again");
    // A parameter the rows read (the GFSC gap-filling duration names every GFSC job).
    w.act(Action::SetParam {
        name: "gapfilling_search_default_duration_in_days".into(),
        value: "5".into(),
    });
    at += HOUR;
    w.run_until(at);
    same(&mut kept, &w, "after a parameter change");
    // A reset to the backup of step 2: the world's history is rebuilt, the kept rows are not
    // its (the build sees it and builds everything again).
    w.act(Action::Stop);
    w.reset(&backup.expect("taken"), &OPTS).expect("reset");
    same(&mut kept, &w, "after the reset");
    w.act(Action::Start);
    at += 9 * HOUR;
    w.run_until(at);
    same(&mut kept, &w, "after the reset and a start");
}
