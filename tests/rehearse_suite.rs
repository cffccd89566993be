//! The whole suite (`scenarios/`) rehearsed: every scenario passes, and its transcript is the
//! snapshot kept in `snapshots/` (a changed procedure shows as a snapshot diff in review).

use std::{path::PathBuf, sync::Arc};

use hrsi_harness::rehearse;

#[test]
fn the_suite_passes_and_its_transcripts_are_the_snapshots() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(&root).expect("repo root");
    let files = rehearse::discover(&[PathBuf::from("scenarios")]).expect("the suite loads");
    assert!(files.len() >= 15, "{} scenarios", files.len());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(rehearse::run_suite(files, 2, Arc::new(|_| {})));
    let failed: Vec<String> = report
        .scenarios
        .iter()
        .filter(|s| !s.passed())
        .map(|s| s.render())
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    // A rehearsal whose every step is in the prediction's plan (stops, starts, parameters,
    // waits) leaves the simulated world on that plan: run on to the horizon it gives the
    // prediction's figures. A rehearsal that drifts from `hrsi simulate` fails here.
    let mut on_plan = 0;
    for s in &report.scenarios {
        let off_plan = s
            .course
            .iter()
            .any(|l| l.starts_with("steps the prediction"));
        if s.course.is_empty() || off_plan {
            continue;
        }
        on_plan += 1;
        assert!(
            s.course[0].contains("gives the prediction's figures"),
            "{}: {}",
            s.file,
            s.course.join("\n")
        );
    }
    assert!(on_plan >= 8, "{on_plan} scenarios on the plan");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for s in &report.scenarios {
            let name = s
                .file
                .trim_start_matches("scenarios/")
                .trim_end_matches(".yaml")
                .replace('/', "__");
            insta::assert_snapshot!(name, s.render());
        }
    });
}
