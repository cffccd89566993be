//! The database's cold volume (infra.md P17, database.md §6.2): a fresh one destroyed and
//! created again by Terraform, with the core instances that depend on it, and the first boot
//! on it, where the simulated system's database is emptied too.

use hrsi_sim::{Action, time::Ms};

use super::{Outcome, push_terraform_output, tell_quota, terraform, yn};
use crate::{
    iac::{Mode, Role},
    rehearse::{transcript::redact, world::World},
};

/// The database instance booted on a new volume: the simulated system's database is emptied
/// with it, before its services start on it (they are stopped: the volume was destroyed with the
/// instance down).
pub(super) fn fresh_database(w: &mut World, out: &mut Outcome) {
    let now = w.now;
    let sum = tokio::task::block_in_place(|| w.course.empty_database(now));
    w.truth.database_emptied(w.start, now);
    let at = |t: Ms| hrsi_sim::time::Instant(w.start.0 + t).iso();
    let days = |name: &str| w.course.params.int(name).unwrap_or(7);
    let (s2, s1) = (
        days("s2_search_default_duration_in_days"),
        days("s1_search_default_duration_in_days"),
    );
    let yesterday = (now.div_euclid(hrsi_sim::time::DAY) - 1) * hrsi_sim::time::DAY;
    let backward = w
        .course
        .params
        .bool("activate_backward_reprocessing")
        .unwrap_or(true);
    out.observed.push(format!(
        "tf-tutu booted a fresh database on the new volume: an empty cosims (no job, the default parameters); the simulated system follows: the {} job(s) it had are gone with the old volume, its creation services find no last inserted job and look back by their empty-database rules: FSC/RLIE {s2} d (published since {}), SWS/WDS {s1} d (since {}), RLIE-S1 and GFSC to yesterday 00:00 ({})",
        sum.jobs_removed,
        at(now - s2 * hrsi_sim::time::DAY),
        at(now - s1 * hrsi_sim::time::DAY),
        at(yesterday),
    ));
    out.observed.push(format!(
        "{} unit(s) found again ({} of them published before: done again, counted under reprocessed in the reported period), {} pending one(s) older than the look-back lost (database_emptied); the FSC/RLIE tiles have no L2A history: with activate_backward_reprocessing {backward}, their first jobs {}",
        sum.units_again,
        sum.units_to_redo,
        sum.units_lost,
        if backward {
            "wait for a backward initialisation that never comes (jobs.md §3), and every later job of the tile waits on them"
        } else {
            "run in init mode"
        }
    ));
}

pub(super) async fn fresh_volume(
    w: &mut World,
    confirm: bool,
    out: &mut Outcome,
) -> Result<(), String> {
    let mut guard = terraform(w).await?;
    let tf = &mut *guard;
    let volume = "module.cold.openstack_blockstorage_volume_v2.database";
    let answer = yn(confirm);
    tf.config
        .set_prevent_destroy(volume, false)
        .map_err(|e| e.to_string())?;
    let instances = |tf: &crate::iac::Terraform| -> Vec<(Role, String)> {
        tf.config
            .resources()
            .iter()
            .filter(|r| {
                matches!(
                    r.role,
                    Role::DatabaseInstance
                        | Role::NomadServer
                        | Role::Orchestrator
                        | Role::WorkerTemplate
                        | Role::DashboardProxy
                ) && tf.state.contains(&r.address())
            })
            .map(|r| {
                (
                    r.role,
                    r.cloud_name.clone().unwrap_or_else(|| r.name.clone()),
                )
            })
            .collect()
    };
    let before = instances(tf);
    let d = tf.run(Mode::Destroy, volume, Some(answer)).await;
    let after = instances(tf);
    let gone: Vec<(Role, String)> = before.into_iter().filter(|i| !after.contains(i)).collect();
    tf.config
        .set_prevent_destroy(volume, true)
        .map_err(|e| e.to_string())?;
    out.observed.push(format!(
        "prevent_destroy lifted on {volume}; terraform destroy -target {volume} (answer: {answer})"
    ));
    push_terraform_output(out, &d.lines);
    let system_stopped = gone.iter().any(|(r, _)| *r == Role::Orchestrator);
    if d.exit_code != 0 {
        drop(guard);
        w.last.exit_code = Some(d.exit_code);
        volume_took_core(w, &gone, system_stopped, out);
        return Ok(());
    }
    let a = tf.run(Mode::Apply, "module.cold", Some(answer)).await;
    out.observed
        .push("terraform apply -target module.cold".into());
    push_terraform_output(out, &a.lines);
    for e in tf.effect_errors() {
        out.observed.push(format!("effect: {}", redact(e)));
    }
    drop(guard);
    w.last.exit_code = Some(a.exit_code);
    volume_took_core(w, &gone, system_stopped, out);
    out.observed.push(
        "a new, empty volume: the next start initialises a fresh database (no backup is restored automatically)"
            .into(),
    );
    Ok(())
}

/// The instances a destroy of the database volume took with it (Terraform destroys what
/// depends on a destroyed resource: tf-tutu boots from the volume, tf-tete and tf-titi are
/// given tf-tutu's address, tf-tata tf-tete's; infra.md §1.3-1.5). With tf-tata gone, the six
/// services are gone: the simulated system stops as at a `stop`, and the next `start` brings it
/// up on the fresh database.
fn volume_took_core(
    w: &mut World,
    gone: &[(Role, String)],
    system_stopped: bool,
    out: &mut Outcome,
) {
    if gone.is_empty() {
        return;
    }
    let names: Vec<&str> = gone.iter().map(|(_, n)| n.as_str()).collect();
    out.observed.push(format!(
        "the destroy took the instances that depend on the volume with it: {} (tf-tutu boots from it; the others are given tf-tutu's or tf-tete's address): the core is down as after prod_env_destroy.sh",
        names.join(", ")
    ));
    if system_stopped && w.course.up {
        let now = w.now;
        tokio::task::block_in_place(|| w.course.act(now, Action::Stop));
        if w.course.project_quota.is_some() {
            tell_quota(w);
        }
        out.observed.push(
            "the simulated system stops with tf-tata: its services and the runs in flight stop, the inputs keep arriving in the catalogues"
                .into(),
        );
    }
}
