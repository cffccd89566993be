//! `terraform apply|destroy -target X`: plan, print, ask, execute with effects.

use super::{
    effects::{EffectError, Effects},
    model::{Configuration, Mode, Plan, TfError, TfState, plan},
};

/// What a command printed and returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandRun {
    /// Output lines.
    pub lines: Vec<String>,
    /// Exit status.
    pub exit_code: i32,
    /// The plan, when one was computed.
    pub plan: Option<Plan>,
}

/// A Terraform working directory: configuration, state and the effects of changes.
pub struct Terraform {
    /// The configuration (editable, e.g. `prevent_destroy` for procedure P17).
    pub config: Configuration,
    /// The state.
    pub state: TfState,
    effects: Box<dyn Effects>,
    effect_errors: Vec<String>,
}

impl Terraform {
    /// A working directory.
    pub fn new(config: Configuration, state: TfState, effects: Box<dyn Effects>) -> Self {
        Self {
            config,
            state,
            effects,
            effect_errors: Vec::new(),
        }
    }

    /// Plans without executing.
    pub fn plan(&self, mode: Mode, target: &str) -> Result<Plan, TfError> {
        plan(&self.config, &self.state, mode, target)
    }

    /// Effects that failed (a VM was created but what runs on it did not come up).
    pub fn effect_errors(&self) -> &[String] {
        &self.effect_errors
    }

    /// Runs the command; `answer` is what the operator types at Terraform's prompt.
    /// Exit 1 on an error or a refusal ("Apply cancelled." / "Destroy cancelled."), as Terraform.
    pub async fn run(&mut self, mode: Mode, target: &str, answer: Option<&str>) -> CommandRun {
        let p = match self.plan(mode, target) {
            Ok(p) => p,
            Err(e) => {
                return CommandRun {
                    lines: vec![e.to_string()],
                    exit_code: 1,
                    plan: None,
                };
            }
        };
        let mut lines = p.render();
        if p.is_error() {
            return CommandRun {
                lines,
                exit_code: 1,
                plan: Some(p),
            };
        }
        if p.is_empty() {
            lines.push(String::new());
            lines.push(match mode {
                Mode::Apply => "Apply complete! Resources: 0 added, 0 changed, 0 destroyed.".into(),
                Mode::Destroy => "Destroy complete! Resources: 0 destroyed.".into(),
            });
            return CommandRun {
                lines,
                exit_code: 0,
                plan: Some(p),
            };
        }
        lines.push(String::new());
        match mode {
            Mode::Apply => {
                lines.push("Do you want to perform these actions?".into());
                lines.push("  Terraform will perform the actions described above.".into());
            }
            Mode::Destroy => {
                lines.push("Do you really want to destroy all resources?".into());
                lines.push(
                    "  Terraform will destroy all your managed infrastructure, as shown above."
                        .into(),
                );
                lines.push("  There is no undo. Only 'yes' will be accepted to confirm.".into());
            }
        }
        if mode == Mode::Apply {
            lines.push("  Only 'yes' will be accepted to approve.".into());
        }
        lines.push(String::new());
        lines.push(format!("  Enter a value: {}", answer.unwrap_or("")));
        lines.push(String::new());
        if answer != Some("yes") {
            lines.push(match mode {
                Mode::Apply => "Apply cancelled.".into(),
                Mode::Destroy => "Destroy cancelled.".into(),
            });
            return CommandRun {
                lines,
                exit_code: 1,
                plan: Some(p),
            };
        }
        let (out, exit_code) = self.execute(&p).await;
        lines.extend(out);
        CommandRun {
            lines,
            exit_code,
            plan: Some(p),
        }
    }

    /// Executes a plan that is not an error, in its order, running each resource's effect.
    /// A cloud refusal stops the run with Terraform's error and exit 1, leaving the resource
    /// out of the state (what Terraform does when the provider call fails).
    pub async fn execute(&mut self, p: &Plan) -> (Vec<String>, i32) {
        let mut lines = Vec::new();
        let (mut added, mut destroyed) = (0, 0);
        for a in &p.to_destroy {
            let Some(res) = self.config.resource(a).cloned() else {
                continue;
            };
            let id = self.state.id(a).unwrap_or_default().to_owned();
            lines.push(format!("{a}: Destroying... [id={id}]"));
            match self.effects.destroyed(&res).await {
                Err(EffectError::Cloud(e)) => {
                    return self.failed(lines, &format!("Error: error deleting {a}: {e}"));
                }
                Err(EffectError::Service(e)) => self.effect_errors.push(format!("{a}: {e}")),
                Ok(()) => {}
            }
            self.state.remove(a);
            destroyed += 1;
            lines.push(format!("{a}: Destruction complete after 0s"));
        }
        for a in &p.to_add {
            let Some(res) = self.config.resource(a).cloned() else {
                continue;
            };
            lines.push(format!("{a}: Creating..."));
            match self.effects.created(&res).await {
                Err(EffectError::Cloud(e)) => {
                    return self.failed(lines, &format!("Error: error creating {a}: {e}"));
                }
                Err(EffectError::Service(e)) => self.effect_errors.push(format!("{a}: {e}")),
                Ok(()) => {}
            }
            let id = self.state.insert(a);
            added += 1;
            lines.push(format!("{a}: Creation complete after 0s [id={id}]"));
        }
        lines.push(String::new());
        lines.push(match p.mode {
            Mode::Apply => {
                format!("Apply complete! Resources: {added} added, 0 changed, 0 destroyed.")
            }
            Mode::Destroy => format!("Destroy complete! Resources: {destroyed} destroyed."),
        });
        (lines, 0)
    }

    fn failed(&mut self, mut lines: Vec<String>, error: &str) -> (Vec<String>, i32) {
        lines.push(String::new());
        lines.push(error.to_owned());
        (lines, 1)
    }
}
