//! `deployment/prod_env_apply.sh` and `prod_env_destroy.sh` as coded (infra.md §3.1-3.2):
//! the apply script's own confirmation (a refusal exits 0), then Terraform's (a refusal exits
//! 1); the destroy script has only Terraform's. Messages are the scripts' own where the
//! sources quote them; lines the sources do not quote (the project guard's four hints, the ERR
//! trap's line number) are left out rather than invented.

use std::collections::BTreeSet;

use super::{
    model::Mode,
    terraform::{CommandRun, Terraform},
};
use crate::mocks::common::log_time;

/// The operator's environment on tf-toto when a script runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEnv {
    /// `OS_PROJECT_ID` as sourced from the OpenStack RC file (unset when `None`).
    pub os_project_id: Option<String>,
    /// The production project ID hard-coded in the scripts.
    pub production_project_id: String,
    /// Whether `config/main.env` defines `CSI_BUCKET_NAME_INFRA`.
    pub main_env_has_infra_bucket: bool,
    /// The infra bucket name (`foo` in the public copy).
    pub infra_bucket: String,
    /// Whether `rclone lsd csi:<bucket>` succeeds.
    pub bucket_reachable: bool,
    /// Tags with init packages in `<bucket>/instance_init_packages/`.
    pub package_tags: BTreeSet<String>,
    /// `git rev-parse --short=8 HEAD`.
    pub git_head: String,
    /// Whether tracked files have uncommitted changes.
    pub git_dirty: bool,
}

impl Default for ScriptEnv {
    fn default() -> Self {
        Self {
            os_project_id: Some("prod-project-id".into()),
            production_project_id: "prod-project-id".into(),
            main_env_has_infra_bucket: true,
            infra_bucket: "foo".into(),
            bucket_reachable: true,
            package_tags: ["git-hash-1234abcd".to_owned()].into(),
            git_head: "1234abcd".into(),
            git_dirty: false,
        }
    }
}

impl ScriptEnv {
    /// The tag the apply script derives when none is given.
    pub fn default_tag(&self) -> String {
        format!(
            "git-hash-{}{}",
            self.git_head,
            if self.git_dirty { "-changed" } else { "" }
        )
    }
}

/// What a script run printed and returned, with the Terraform command it ran, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    /// Output lines (script log lines and Terraform's output).
    pub lines: Vec<String>,
    /// Exit status.
    pub exit_code: i32,
    /// The Terraform run.
    pub terraform: Option<CommandRun>,
}

struct Out {
    script: &'static str,
    now_secs: u64,
    lines: Vec<String>,
}

impl Out {
    fn log(&mut self, msg: impl AsRef<str>) {
        self.lines.push(format!(
            "[{}] [{}] {}",
            self.script,
            log_time(self.now_secs),
            msg.as_ref()
        ));
    }

    fn done(self, exit_code: i32, terraform: Option<CommandRun>) -> ScriptRun {
        ScriptRun {
            lines: self.lines,
            exit_code,
            terraform,
        }
    }
}

fn project_guard(out: &mut Out, env: &ScriptEnv) -> bool {
    if env.os_project_id.as_deref() == Some(env.production_project_id.as_str()) {
        return true;
    }
    out.log(format!(
        "Error: bad OpenStack project (OS_PROJECT_ID must be {})",
        env.production_project_id
    ));
    false
}

/// `./prod_env_apply.sh terraform_target [packages_tag]`; `answers` are what the operator
/// types: first at the script's prompt, then at Terraform's.
pub async fn prod_env_apply(
    tf: &mut Terraform,
    env: &ScriptEnv,
    args: &[&str],
    answers: &[&str],
    now_secs: u64,
) -> ScriptRun {
    let mut out = Out {
        script: "prod_env_apply.sh",
        now_secs,
        lines: Vec::new(),
    };
    if !env.main_env_has_infra_bucket {
        out.log(
            "[asserts error] expected environment variable does not exist: CSI_BUCKET_NAME_INFRA",
        );
        return out.done(1, None);
    }
    out.log("[assert ok] expected environment variable exists: CSI_BUCKET_NAME_INFRA");
    out.log("[asserts ok] all asserts are ok");
    out.log("script's preconditions are OK");
    if !project_guard(&mut out, env) {
        return out.done(1, None);
    }
    let (target, tag) = match args {
        [target, tag] => {
            out.log("use the second argument as the tag for all packages");
            (*target, tag.to_string())
        }
        [target] => (*target, env.default_tag()),
        _ => {
            out.log("usage: prod_env_apply.sh terraform_target [packages_tag]");
            out.log("example: prod_env_apply.sh module.core");
            return out.done(1, None);
        }
    };
    out.log(format!("use the following tag for the packages: {tag}"));
    if !env.bucket_reachable {
        out.log(format!(
            "Error: can't find bucket {} on remote csi",
            env.infra_bucket
        ));
        return out.done(1, None);
    }
    if env.package_tags.contains(&tag) {
        out.log(format!(
            "init packages with tag {tag} found on the {} bucket",
            env.infra_bucket
        ));
    } else {
        out.log("Warning:");
        out.log(format!(
            "can't find the init packages with tag {tag} on the {} bucket",
            env.infra_bucket
        ));
        out.log("if this Terraform apply starts some instances their initialiszation will most certainly fail");
        out.log("only continue if you know what your are doing");
    }
    let first = answers.first().copied().unwrap_or("");
    out.lines.push(format!(
        "do you want to proceed? Only 'yes' will be accepted to approve: {first}"
    ));
    if first != "yes" {
        out.log("Terraform apply aborted");
        return out.done(0, None);
    }
    out.log("go to terraform directory and ask for env creation...");
    let run = tf.run(Mode::Apply, target, answers.get(1).copied()).await;
    out.lines.extend(run.lines.iter().cloned());
    let code = run.exit_code;
    out.done(code, Some(run))
}

/// `./prod_env_destroy.sh terraform_target`; `answers[0]` is typed at Terraform's prompt (the
/// script itself asks nothing).
pub async fn prod_env_destroy(
    tf: &mut Terraform,
    env: &ScriptEnv,
    args: &[&str],
    answers: &[&str],
    now_secs: u64,
) -> ScriptRun {
    let mut out = Out {
        script: "prod_env_destroy.sh",
        now_secs,
        lines: Vec::new(),
    };
    if !project_guard(&mut out, env) {
        return out.done(1, None);
    }
    let [target] = args else {
        out.log("Error: wrong number of arguments.");
        out.log("usage: prod_env_destroy.sh terraform_target");
        return out.done(1, None);
    };
    out.log("go to terraform directory and ask for env destruction...");
    let run = tf
        .run(Mode::Destroy, target, answers.first().copied())
        .await;
    out.lines.extend(run.lines.iter().cloned());
    let code = run.exit_code;
    out.done(code, Some(run))
}
