//! Infrastructure steps: the deployment scripts (`stop`, `start`) and their Terraform
//! targets, and the faults of the stand-ins and the database.

use super::*;

impl Validator<'_> {
    /// `stop`/`start`: the simulator's stop and start when the target is `module.core` and
    /// every answer is `yes`; otherwise a harness-only run of the script.
    pub(super) fn script(&mut self, c: &Spanned<Confirm>, destroy: bool) -> Option<StepKind> {
        let confirm = c.value.confirm.value;
        let target = self.target(c.value.target.as_ref())?;
        let prompts = if destroy { 1 } else { 2 };
        let answers: Vec<String> = match &c.value.answers {
            Some(a) => {
                if a.is_empty() || a.len() > prompts {
                    let h = if destroy {
                        "prod_env_destroy.sh asks once (Terraform's prompt), e.g. `answers: [yes]`"
                    } else {
                        "prod_env_apply.sh asks twice (its own prompt, then Terraform's), e.g. `answers: [yes, no]`"
                    };
                    self.err(
                        c,
                        format!("{} answer(s) for {prompts} prompt(s)", a.len()),
                        Some(h.into()),
                    );
                    return None;
                }
                a.iter().map(|x| x.value.clone()).collect()
            }
            None => vec![if confirm { "yes" } else { "no" }.to_owned(); prompts],
        };
        let all_yes = answers.len() == prompts && answers.iter().all(|a| a == "yes");
        if target == "module.core" && (all_yes || (!confirm && c.value.answers.is_none())) {
            return Some(if destroy {
                StepKind::Stop { confirm }
            } else {
                StepKind::Start { confirm }
            });
        }
        Some(StepKind::Script {
            destroy,
            target,
            answers,
        })
    }

    /// A Terraform target: `module.NAME` or `module.NAME.TYPE.NAME`.
    pub(super) fn target(&mut self, t: Option<&Spanned<String>>) -> Option<String> {
        let Some(t) = t else {
            return Some("module.core".into());
        };
        let v = &t.value;
        let ok = v.starts_with("module.")
            && v.len() <= 200
            && v.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !ok {
            self.err(
                t,
                format!("`{v}` is not a Terraform target"),
                Some(
                    "e.g. `module.core` or `module.core.openstack_compute_instance_v2.database`"
                        .into(),
                ),
            );
            return None;
        }
        Some(v.clone())
    }

    pub(super) fn fault(&mut self, f: &Spanned<RawFault>) -> Option<Fault> {
        let r = &f.value;
        let mut found = Vec::new();
        if r.postgres_killed == Some(true) {
            found.push(Fault::PostgresKilled);
        }
        if let Some(n) = &r.nomad_5xx {
            match &n.value {
                RawNomad5xx::Count(c) if (1..=1000).contains(c) => {
                    found.push(Fault::Nomad5xx(*c as u32));
                }
                RawNomad5xx::Count(_) => {
                    self.err(
                        n,
                        "between 1 and 1000 requests",
                        Some("or a length of virtual time: `nomad_5xx: { for: 30m }`".into()),
                    );
                    return None;
                }
                RawNomad5xx::For(f) => {
                    let most = 7 * hrsi_sim::time::DAY;
                    match hrsi_sim::time::parse_duration(&f.length.value) {
                        Ok(ms) if (hrsi_sim::time::SECOND..=most).contains(&ms) => {
                            found.push(Fault::Nomad5xxFor(ms));
                        }
                        Ok(_) => {
                            self.err(
                                &f.length,
                                "the Nomad API answers 503 for 1 s to 7 days",
                                Some("e.g. `for: 30m`".into()),
                            );
                            return None;
                        }
                        Err(m) => {
                            self.err(&f.length, m, Some("e.g. `for: 30m`".into()));
                            return None;
                        }
                    }
                }
            }
        }
        if let Some(n) = &r.nomad_lost_node {
            found.push(Fault::NomadLostNode(n.value.clone()));
        }
        if let Some(q) = &r.openstack_quota {
            found.push(Fault::OpenStackQuota(q.value.min(100_000)));
        }
        if r.openstack_token_expired == Some(true) {
            found.push(Fault::OpenStackTokenExpired);
        }
        if found.len() != 1 {
            self.err(
                f,
                "a fault step names exactly one fault",
                Some("one of `postgres_killed: yes`, `nomad_5xx: 3`, `nomad_5xx: { for: 30m }`, `nomad_lost_node: tf-tata`, `openstack_quota: 20`, `openstack_token_expired: yes`".into()),
            );
            return None;
        }
        found.pop()
    }
}

impl Validator<'_> {
    /// `plan: { mode, target, configuration }`: Terraform's plan, nothing changed.
    pub(super) fn tf_plan(&mut self, p: &Spanned<RawTfPlan>) -> Option<StepKind> {
        let destroy = match p.value.mode.value.as_str() {
            "apply" => false,
            "destroy" => true,
            other => {
                let h = did_you_mean(other, ["apply", "destroy"].into_iter())
                    .or(Some("`apply` or `destroy`".into()));
                self.err(&p.value.mode, format!("unknown plan mode `{other}`"), h);
                return None;
            }
        };
        let runbook_configuration = match p.value.configuration.as_ref().map(|c| c.value.as_str()) {
            None | Some("public") => false,
            Some("runbook") => true,
            Some(other) => {
                let c = p.value.configuration.as_ref().expect("some");
                let h = did_you_mean(other, ["public", "runbook"].into_iter())
                    .or(Some("`public` (the public code: 10 in core) or `runbook` (13, with the dashboard proxy)".into()));
                self.err(c, format!("unknown configuration `{other}`"), h);
                return None;
            }
        };
        Some(StepKind::TfPlan {
            destroy,
            target: self.target(p.value.target.as_ref())?,
            runbook_configuration,
        })
    }
}
