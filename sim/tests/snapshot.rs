//! The database's view of a run: built from the engine, valid against the status table and the
//! unique keys, incremental between two instants of one line of history.

use std::sync::Arc;

use hrsi_sim::{
    Config,
    snapshot::{BuildOptions, Change, Detail, Resume, Snapshot, SnapshotError},
    status::Status,
    time::{DAY, HOUR},
};

fn cfg(horizon: i64) -> Config {
    let mut c = Config::new(7);
    c.horizon = horizon;
    c
}

fn record(horizon: i64) -> Snapshot {
    Snapshot::record(&cfg(horizon), &BuildOptions::default()).expect("recorded")
}

#[test]
fn a_recorded_run_is_valid_and_holds_every_status_change() {
    let mut c = cfg(DAY);
    c.keep_jobs = true;
    c.keep_history = true;
    let out = hrsi_sim::run_with_baseline(&c);
    let s = Snapshot::from_outcome(&c, &out, &BuildOptions::default()).unwrap();
    s.check().expect("valid");
    // The six services plus every engine job, each status change once.
    assert_eq!(s.jobs.len(), out.jobs.len() + 6);
    assert_eq!(s.status_changes() as u64, out.status_changes + 6);
    assert_eq!(out.illegal_transitions, 0);
    for (j, e) in s.jobs[6..].iter().zip(&out.jobs) {
        assert_eq!(j.status(), Some(e.status), "job {}", j.id);
        assert_eq!(j.last_change(), Some(e.last_change), "job {}", j.id);
    }
    let flying = out
        .jobs
        .iter()
        .filter(|j| j.status == Status::Queued || j.status.is_running())
        .count();
    assert_eq!(s.in_flight().count(), flying);
    assert!(
        flying > 0,
        "a day of production has jobs on workers at midnight"
    );
    // The regenerated inputs are the engine's: every NRT FSC/RLIE job was measured when its
    // L1C was sensed, and published on the DIAS after that.
    let mut fsc = 0;
    for j in &s.jobs {
        if let Detail::FscRlie(x) = &j.detail
            && x.nrt
        {
            fsc += 1;
            let dias = x.l1c_dias_publication_date.unwrap();
            assert!(dias > x.measurement_date, "{}: {x:?}", j.id);
            assert!(x.l1c_id.contains(&j.tile_id), "{}: {x:?}", j.id);
        }
    }
    assert!(fsc > 1000, "{fsc} FSC/RLIE jobs in 11 days");
    // Every type resumes from a real date.
    for r in [
        s.resume.fsc_rlie,
        s.resume.rlies1,
        s.resume.sws_wds_s1,
        s.resume.gfsc,
    ] {
        assert!(matches!(r, Resume::At(t) if t > 0 && t <= DAY), "{r:?}");
    }
}

#[test]
fn without_recording_there_is_no_snapshot() {
    let c = cfg(DAY);
    let out = hrsi_sim::run(&c, None);
    assert_eq!(
        Snapshot::from_outcome(&c, &out, &BuildOptions::default()),
        Err(SnapshotError::NotRecorded)
    );
}

#[test]
fn an_illegal_transition_is_refused_with_the_job_and_the_pair() {
    let mut s = record(DAY);
    let k = s
        .jobs
        .iter()
        .position(|j| j.status() == Some(Status::Done))
        .unwrap();
    let at = s.jobs[k].last_change().unwrap();
    // done → ready is not allowed (recovery goes through error_checked).
    Arc::make_mut(&mut s.jobs[k]).history.push(Change {
        status: Status::Ready,
        at,
        error_subtype: None,
    });
    let e = s.check().unwrap_err();
    let SnapshotError::IllegalTransition { job, from, to, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        (*job, *from, *to),
        (s.jobs[k].id, Some(Status::Done), Status::Ready)
    );
    assert!(e.to_string().contains("done → ready"), "{e}");
    // Through internal_error and error_checked it is allowed (the operator's hand patch).
    let last = s.jobs[k].history.len() - 1;
    for (n, status) in [Status::InternalError, Status::ErrorChecked]
        .into_iter()
        .enumerate()
    {
        let c = Change {
            status,
            at,
            error_subtype: None,
        };
        Arc::make_mut(&mut s.jobs[k]).history.insert(last + n, c);
    }
    s.check()
        .expect("done → internal_error → error_checked → ready is allowed");
}

#[test]
fn duplicate_keys_bad_names_and_bad_parameters_are_refused() {
    let s = record(DAY);
    let mut dup = s.clone();
    let i = dup
        .jobs
        .iter()
        .position(|j| matches!(j.detail, Detail::Gfsc(_)))
        .unwrap();
    let mut twin = (*dup.jobs[i]).clone();
    twin.id = dup.jobs.last().unwrap().id + 1;
    dup.jobs.push(Arc::new(twin));
    assert!(matches!(
        dup.check(),
        Err(SnapshotError::DuplicateKey {
            table: "gfsc_jobs",
            ..
        })
    ));
    let mut name = s.clone();
    Arc::make_mut(&mut name.jobs[10]).name = "a job".into();
    assert!(matches!(name.check(), Err(SnapshotError::BadName { .. })));
    let mut p = s.clone();
    p.params
        .as_mut()
        .unwrap()
        .insert("max_number_of_worker_instances".into(), Some("many".into()));
    let e = p.check().unwrap_err();
    assert!(e.to_string().contains("expected an integer"), "{e}");
    let mut order = s;
    order.jobs.swap(3, 4);
    assert!(matches!(order.check(), Err(SnapshotError::BadId { .. })));
}

#[test]
fn an_hour_later_only_appends_and_the_delta_leads_from_one_to_the_other() {
    let a = record(DAY);
    let b = record(DAY + HOUR);
    let d = b.delta_since(&a).expect("one line of history");
    assert!(d.missing.is_empty());
    assert!(!d.new_jobs.is_empty() && !d.changed.is_empty(), "{d:?}");
    assert!(d.status_changes() < b.status_changes() / 10);
    assert_eq!(a.apply(&d), b);
    assert!(b.delta_since(&b).unwrap().is_empty());
    // A rewritten history cannot be exported incrementally.
    let mut c = b.clone();
    let k = c.jobs.iter().position(|j| j.history.len() > 3).unwrap();
    Arc::make_mut(&mut c.jobs[k]).history[1].at += 1;
    assert!(matches!(
        c.delta_since(&a),
        Err(SnapshotError::HistoryRewritten { .. })
    ));
}

#[test]
fn snapshots_are_deterministic_and_survive_json() {
    let a = record(DAY / 2);
    let b = record(DAY / 2);
    let ja = serde_json::to_string(&a).unwrap();
    assert_eq!(ja, serde_json::to_string(&b).unwrap());
    let back: Snapshot = serde_json::from_str(&ja).unwrap();
    assert_eq!(back, a);
}

#[test]
fn a_snapshot_read_back_shares_its_unchanged_jobs_and_the_delta_stays_the_same() {
    let a = record(DAY);
    let b = record(DAY + HOUR);
    // Read back (fresh allocations), one job changed by hand.
    let mut read: Snapshot = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    let k = read.jobs.len() / 2;
    Arc::make_mut(&mut read.jobs[k]).nomad_id = Some("by-hand".into());
    let by_rows = b.delta_since(&read).map_err(|e| e.to_string());
    assert_eq!(read.share_unchanged(&a), a.jobs.len() - 1);
    assert!(!Arc::ptr_eq(&read.jobs[k], &a.jobs[k]));
    assert!(Arc::ptr_eq(&read.jobs[k + 1], &a.jobs[k + 1]));
    // Shared or not, the same delta (the changed job is compared row by row).
    assert_eq!(b.delta_since(&read).map_err(|e| e.to_string()), by_rows);
}
