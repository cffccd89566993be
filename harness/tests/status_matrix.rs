//! One truth for job statuses: PostgreSQL's `cosims.check_status_change()` trigger and the
//! simulator's table (`hrsi_sim::status`) must agree on all 272 cases: the 16 first statuses
//! and the 256 from→to pairs.

use hrsi_harness::{
    postgres::{Server, Template},
    schema::Schema,
};
use hrsi_sim::status::{ALL, Status, allowed, allowed_first};
use tokio_postgres::Client;

/// What the trigger did with one status insert.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accepted,
    Rejected { code: String, message: String },
}

/// Inserts `path` (which must be accepted) then `to` on a fresh job, inside a transaction
/// that is rolled back, so each case sees a small history like a fresh job in production.
async fn try_status(client: &mut Client, path: &[Status], to: Status) -> Verdict {
    let tx = client.transaction().await.unwrap();
    let job: i64 = tx
        .query_one(
            "insert into cosims.parent_jobs (name, tile_id, next_log_level) values ('matrix', '32TLR', 20) returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for s in path {
        tx.execute(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, $2)",
            &[&job, &i16::from(s.id())],
        )
        .await
        .unwrap_or_else(|e| panic!("setup path {path:?} rejected at {s:?}: {e}"));
    }
    tx.batch_execute("savepoint attempt").await.unwrap();
    let res = tx
        .query_one(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, $2) returning id",
            &[&job, &i16::from(to.id())],
        )
        .await;
    let verdict = match res {
        Ok(row) => {
            let change_id: i64 = row.get(0);
            // The trigger must also have denormalised the new status into parent_jobs.
            let parent = tx
                .query_one(
                    "select last_status_id, last_status_change_id, error_raised from cosims.parent_jobs where id = $1",
                    &[&job],
                )
                .await
                .unwrap();
            assert_eq!(parent.get::<_, Option<i16>>(0), Some(i16::from(to.id())));
            assert_eq!(parent.get::<_, Option<i64>>(1), Some(change_id));
            let any_error = path
                .iter()
                .chain([&to])
                .any(|s| (13..=15).contains(&s.id()));
            assert_eq!(
                parent.get::<_, Option<bool>>(2),
                Some(any_error),
                "error_raised is sticky"
            );
            Verdict::Accepted
        }
        Err(e) => {
            let db = e.as_db_error().expect("a server error");
            tx.batch_execute("rollback to savepoint attempt")
                .await
                .unwrap();
            // A rejected insert leaves parent_jobs untouched.
            let last: Option<i16> = tx
                .query_one(
                    "select last_status_id from cosims.parent_jobs where id = $1",
                    &[&job],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(last, path.last().map(|s| i16::from(s.id())));
            Verdict::Rejected {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
            }
        }
    };
    tx.rollback().await.unwrap();
    verdict
}

/// The shortest accepted path that leaves a job in `from`: errors can go anywhere through
/// error_checked (13 → 15 → any).
fn path_to(from: Status) -> Vec<Status> {
    match from {
        Status::InternalError => vec![Status::InternalError],
        Status::ErrorChecked => vec![Status::InternalError, Status::ErrorChecked],
        other => vec![Status::InternalError, Status::ErrorChecked, other],
    }
}

fn expected(allowed: bool, text: String) -> Verdict {
    if allowed {
        Verdict::Accepted
    } else {
        Verdict::Rejected {
            code: "P0001".into(),
            message: text,
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trigger_and_simulator_agree_on_all_272_cases() {
    let server = Server::ephemeral().unwrap();
    let template = Template::create(&server, &Schema::builtin()).await.unwrap();
    let admin = server.admin().await.unwrap();
    let db = template.clone_db(&admin).await.unwrap();
    let mut client = server.connect(&db).await.unwrap();

    let mut cases = 0;
    let mut mismatches = Vec::new();
    for to in ALL {
        let got = try_status(&mut client, &[], to).await;
        let want = expected(
            allowed_first(to),
            format!("Error : invalid job status creation {}!", to.id()),
        );
        cases += 1;
        if got != want {
            mismatches.push(format!(
                "first {to:?}: postgres {got:?}, simulator {want:?}"
            ));
        }
    }
    for from in ALL {
        for to in ALL {
            let got = try_status(&mut client, &path_to(from), to).await;
            let want = expected(
                allowed(from, to),
                format!(
                    "Error : invalid job status transition {} to {}!",
                    from.id(),
                    to.id()
                ),
            );
            cases += 1;
            if got != want {
                mismatches.push(format!(
                    "{from:?} -> {to:?}: postgres {got:?}, simulator {want:?}"
                ));
            }
        }
    }
    assert_eq!(cases, 272);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
