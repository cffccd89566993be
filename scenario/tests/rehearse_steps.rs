//! The rehearsal's step vocabulary: every kind parses, the simulator skips the harness-only
//! ones, and bad values are refused with file:line:column and a hint.

use hrsi_scenario::{Fault, Plan, Scenario, StepKind};

const ALL: &str = "seed: 7
days: 3
steps:
  - sql: { query: select 1, on_error_stop: yes }
  - psql_file: { file: patches/fix.sql, on_error_stop: yes, single_transaction: yes }
  - pg_dumpall: { schema_only: yes, to: schema.sql }
  - backup: {}
  - borg_list: {}
  - borg_extract: { archive: latest, to: database-all.sql }
  - restore: { file: database-all.sql, drop_schema: no, killed_at: COPY }
  - plan: { mode: destroy, target: module.core, configuration: runbook }
  - fresh_volume: { confirm: yes }
  - postgres_restart: {}
  - nomad_edit: { job: worker-pool-management, cpu: 1000 }
  - nomad_job_file: { job: job-creation, image: git-b7e71dc4 }
  - nomad_run: { job: job-creation }
  - nomad_stop: { job: monitor }
  - nomad_wait_gone: { job: monitor, within: 10m }
  - fault: { nomad_5xx: 2 }
  - start: { confirm: yes, target: module.core.openstack_compute_instance_v2.database }
  - stop: { confirm: yes, answers: [nope] }
  - stop: { confirm: yes }
  - expect:
      exit_code: 3
      errors: ['42601']
      no_errors: no
      output: ['Plan: .* 10 to destroy']
      nomad_jobs: { worker-pool-management: pending }
      nomad_spec: { job-creation: { image: git-b7e71dc4, cpu: 2500, running: yes } }
      openstack_servers: { count: '<= 40', include: [tf-tutu], exclude: [tf-proxy] }
      caught_up: [fsc_rlie_job]
      backlog: { gfsc_job: '> 0' }
      database_running: yes
";

#[test]
fn every_rehearsal_step_parses_and_the_simulator_skips_it() {
    let sc = Scenario::from_yaml_str(ALL, "all.yaml").unwrap_or_else(|e| panic!("{e}"));
    let Plan::Steps(steps) = &sc.plan else {
        panic!("steps")
    };
    assert_eq!(steps.len(), 20);
    assert!(matches!(
        steps[15].kind,
        StepKind::Fault(Fault::Nomad5xx(2))
    ));
    assert!(
        matches!(&steps[16].kind, StepKind::Script { destroy: false, target, .. } if target.ends_with("database"))
    );
    assert!(
        matches!(&steps[17].kind, StepKind::Script { destroy: true, answers, .. } if answers == &["nope"])
    );
    assert!(matches!(steps[18].kind, StepKind::Stop { confirm: true }));
    // Only the last `stop` is the simulator's: the rest is the harness's.
    assert_eq!(sc.harness_only_steps(), 19);
    let cfg = sc.to_sim_config();
    assert_eq!(cfg.steps.len(), 1);
    let e = steps[19].expect.as_ref().expect("expect");
    assert_eq!(e.exit_code, Some(3));
    assert_eq!(e.nomad_spec["job-creation"].cpu, Some(2500));
    assert_eq!(e.nomad_spec["job-creation"].running, Some(true));
}

fn first_error(src: &str) -> String {
    Scenario::from_yaml_str(src, "s.yaml")
        .expect_err("refused")
        .to_string()
}

#[test]
fn bad_rehearsal_steps_are_refused_where_they_are_with_a_hint() {
    let e = first_error("steps:\n  - restore: { file: ../etc/passwd }\n");
    assert!(
        e.contains("s.yaml:2:22: error: `../etc/passwd` is not a file name"),
        "{e}"
    );
    assert!(e.contains("without `..`"), "{e}");
    let e = first_error("steps:\n  - plan: { mode: destory }\n");
    assert!(
        e.contains("unknown plan mode `destory`") && e.contains("did you mean `destroy`"),
        "{e}"
    );
    let e = first_error("steps:\n  - fault: { nomad_5xx: 1, postgres_killed: yes }\n");
    assert!(
        e.contains("s.yaml:2:12: error: a fault step names exactly one fault"),
        "{e}"
    );
    let e = first_error("steps:\n  - start: { confirm: yes, target: 'module.core; rm -rf /' }\n");
    assert!(e.contains("is not a Terraform target"), "{e}");
    let e = first_error("steps:\n  - start: { confirm: yes, answers: [yes, yes, yes] }\n");
    assert!(e.contains("3 answer(s) for 2 prompt(s)"), "{e}");
    let e = first_error("steps:\n  - nomad_edit: { job: job-creation }\n");
    assert!(e.contains("nothing to change"), "{e}");
    let e = first_error("steps:\n  - nomad_edit: { job: job-creation, image: 'a\"b' }\n");
    assert!(e.contains("not an image reference"), "{e}");
    let e = first_error("steps:\n  - expect: { nomad_jobs: { monitor: runing } }\n");
    assert!(e.contains("did you mean `running`"), "{e}");
    let e = first_error("steps:\n  - sql: { query: select 1, on_eror_stop: yes }\n");
    assert!(e.contains("unknown field `on_eror_stop`"), "{e}");
}

#[test]
fn patch_jobs_and_patch_test_parse_as_written() {
    let src = "steps:
  - patch_jobs: { type: fsc_rlie_job, status: [internal_error], post: [error_checked, ready] }
    expect: { exit_code: 0, output: ['changed 3 job'] }
  - patch_jobs: { type: gfsc, ids: [12, 13], post: [error_checked] }
  - patch_test: { patch: ../patches/fix.sql, backup: database-all.sql }
    expect:
      verdict: fails
      findings: ['destructive: .*']
  - patch_test: { patch: fix.sql }
";
    let sc = Scenario::from_yaml_str(src, "p.yaml").unwrap_or_else(|e| panic!("{e}"));
    let Plan::Steps(steps) = &sc.plan else {
        panic!("steps")
    };
    let StepKind::PatchJobs(p) = &steps[0].kind else {
        panic!("{:?}", steps[0].kind)
    };
    assert_eq!(
        (p.job_type.as_str(), &p.status[..], &p.post[..]),
        (
            "fsc_rlie_job",
            &["internal_error".to_owned()][..],
            &["error_checked".to_owned(), "ready".to_owned()][..]
        )
    );
    let StepKind::PatchJobs(p) = &steps[1].kind else {
        panic!("{:?}", steps[1].kind)
    };
    assert_eq!(p.ids, vec![12, 13]);
    let StepKind::PatchTest(t) = &steps[2].kind else {
        panic!("{:?}", steps[2].kind)
    };
    assert_eq!(t.patch, "../patches/fix.sql");
    assert_eq!(
        t.at,
        (5, 26),
        "where `patch:`'s value is, for the file's lookup errors"
    );
    assert_eq!(t.backup.as_deref(), Some("database-all.sql"));
    let e = steps[2].expect.as_ref().expect("expect");
    assert_eq!(e.verdict.as_deref(), Some("fails"));
    assert_eq!(e.findings, vec!["destructive: .*".to_owned()]);
    assert!(matches!(&steps[3].kind, StepKind::PatchTest(t) if t.backup.is_none()));
    // The simulator skips them all.
    assert_eq!(sc.harness_only_steps(), 4);
    assert!(sc.to_sim_config().steps.is_empty());
}

#[test]
fn bad_patch_jobs_and_patch_test_steps_are_refused_where_they_are_with_a_hint() {
    let e = first_error(
        "steps:\n  - patch_jobs: { type: fsc_rlie_jb, status: [internal_error], post: [ready] }\n",
    );
    assert!(
        e.contains("s.yaml:2:25: error: unknown job type `fsc_rlie_jb`")
            && e.contains("did you mean `fsc_rlie_job`"),
        "{e}"
    );
    let e = first_error(
        "steps:\n  - patch_jobs: { type: gfsc, status: [internal_eror], post: [ready] }\n",
    );
    assert!(
        e.contains("s.yaml:2:40: error: unknown job status `internal_eror`")
            && e.contains("did you mean `internal_error`"),
        "{e}"
    );
    let e =
        first_error("steps:\n  - patch_jobs: { type: gfsc, status: [internal_error], post: [] }\n");
    assert!(e.contains("`post` lists 1 to 16 statuses"), "{e}");
    let e = first_error("steps:\n  - patch_jobs: { type: gfsc, post: [ready] }\n");
    assert!(
        e.contains("s.yaml:2:17: error: `patch_jobs` selects nothing") && e.contains("status:"),
        "{e}"
    );
    let e = first_error("steps:\n  - patch_jobs: { type: gfsc, ids: [0], post: [ready] }\n");
    assert!(e.contains("`ids` lists 1 to 1000 job ids"), "{e}");
    let e = first_error("steps:\n  - patch_jobs: { type: gfsc, state: [done], post: [ready] }\n");
    assert!(
        e.contains("unknown field `state`") && e.contains("did you mean `status`"),
        "{e}"
    );
    let e = first_error("steps:\n  - patch_test: { patch: /etc/passwd }\n");
    assert!(
        e.contains("s.yaml:2:26: error: `/etc/passwd` is not a patch path")
            && e.contains("relative to the scenario file"),
        "{e}"
    );
    let e =
        first_error("steps:\n  - patch_test: { patch: fix.sql, backup: ../database-all.sql }\n");
    assert!(
        e.contains("is not a file name the rehearsal can use"),
        "{e}"
    );
    let e =
        first_error("steps:\n  - patch_test: { patch: fix.sql }\n    expect: { verdict: fail }\n");
    assert!(
        e.contains("s.yaml:3:24: error: unknown patch-test verdict `fail`")
            && e.contains("did you mean `fails`"),
        "{e}"
    );
    let e = first_error("steps:\n  - sql: select 1\n    expect: { verdict: fails }\n");
    assert!(
        e.contains("s.yaml:3:24: error: `verdict` after a step that tests no patch"),
        "{e}"
    );
    let e = first_error("steps:\n  - sql: select 1\n    expect: { findings: ['lock'] }\n");
    assert!(
        e.contains("`findings` after a step that tests no patch"),
        "{e}"
    );
    let e = first_error(
        "steps:\n  - patch_test: { patch: fix.sql }\n    expect: { findings: ['(unclosed'] }\n",
    );
    assert!(e.contains("not a valid pattern"), "{e}");
}

#[test]
fn nomad_5xx_takes_a_count_or_a_length_of_virtual_time() {
    let sc = Scenario::from_yaml_str(
        "seed: 7\ndays: 3\nsteps:\n  - fault: { nomad_5xx: { for: 30m } }\n  - fault: { nomad_5xx: 3 }\n",
        "s.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let Plan::Steps(steps) = &sc.plan else {
        panic!("steps")
    };
    assert!(matches!(
        steps[0].kind,
        StepKind::Fault(Fault::Nomad5xxFor(ms)) if ms == 30 * 60_000
    ));
    assert!(matches!(steps[1].kind, StepKind::Fault(Fault::Nomad5xx(3))));
    let e = first_error("steps:\n  - fault: { nomad_5xx: { for: 8d } }\n");
    assert!(
        e.contains("s.yaml:2:32: error: the Nomad API answers 503 for 1 s to 7 days")
            && e.contains("e.g. `for: 30m`"),
        "{e}"
    );
    let e = first_error("steps:\n  - fault: { nomad_5xx: { for: soon } }\n");
    assert!(e.contains("s.yaml:2:32: error:"), "{e}");
    let e = first_error("steps:\n  - fault: { nomad_5xx: { during: 30m } }\n");
    assert!(e.contains("s.yaml:2:") && e.contains("during"), "{e}");
    let e = first_error("steps:\n  - fault: { nomad_5xx: 0 }\n");
    assert!(
        e.contains("between 1 and 1000 requests") && e.contains("nomad_5xx: { for: 30m }"),
        "{e}"
    );
    let e = first_error("steps:\n  - fault: { nomad_5xx: -4 }\n");
    assert!(e.contains("between 1 and 1000 requests"), "{e}");
}

#[test]
fn a_nomad_spec_running_must_be_yes_or_no() {
    let e = first_error(
        "steps:\n  - expect:\n      nomad_spec: { job-creation: { image: git-b7e71dc4, running: maybe } }\n",
    );
    assert!(e.contains("s.yaml:3:"), "{e}");
}
