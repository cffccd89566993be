//! `set_param` and `system_parameters`: names, values and what hrsi refuses.

use super::*;

/// Longest text value `hrsi params set` takes.
const MAX_TEXT: usize = 2048;

impl Validator<'_> {
    pub(super) fn set_param(
        &mut self,
        p: &Spanned<Pairs<ParamValue>>,
        refused: bool,
        expect: Option<&Spanned<RawExpect>>,
    ) -> Option<StepKind> {
        if p.value.0.is_empty() {
            self.err(
                p,
                "`set_param` sets nothing",
                Some("e.g. `set_param: { max_number_of_worker_instances: 40 }`".into()),
            );
            return None;
        }
        let n = self.errors.len();
        let settings: Vec<ParamSetting> = p
            .value
            .0
            .iter()
            .filter_map(|(k, v)| self.param(k, v, refused))
            .collect();
        if self.errors.len() > n {
            return None;
        }
        if let Some(e) = expect.filter(|_| refused) {
            let wanted = e.value.refused.as_ref().expect("refused");
            let reasons: Vec<&str> = settings
                .iter()
                .filter_map(|s| s.refused.as_deref())
                .collect();
            if reasons.is_empty() {
                self.err(
                    wanted,
                    "expected a refusal, but every value is valid",
                    Some("remove `refused:`".into()),
                );
            }
            // Which message the refusal carries is the tool's (`hrsi params set`), checked
            // when the step runs.
        }
        Some(StepKind::SetParam(settings))
    }

    /// Checks one parameter; `Some` when it can be set (or is refused, as expected).
    pub(super) fn param(
        &mut self,
        name: &Spanned<String>,
        value: &Spanned<ParamValue>,
        expect_refused: bool,
    ) -> Option<ParamSetting> {
        if let Err(e) = params::column(&name.value) {
            let hint = match e {
                params::ParamError::Unknown { hint: Some(h), .. } => {
                    Some(format!("did you mean `{h}`?"))
                }
                _ => None,
            };
            self.err(
                name,
                format!("unknown system parameter `{}`", name.value),
                hint,
            );
            return None;
        }
        let text = match &value.value {
            ParamValue::Null => "null".to_owned(),
            ParamValue::Scalar(s) => s.clone(),
            ParamValue::List(items) if name.value == "job_types_list" => {
                let mut ok = true;
                for it in items {
                    if JobType::from_name(&it.value).is_none() && it.value != "test_job" {
                        self.err(
                            it,
                            format!("unknown job type `{}`", it.value),
                            type_hint(&it.value),
                        );
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                let names: Vec<String> = items.iter().map(|i| format!("\"{}\"", i.value)).collect();
                format!("[{}]", names.join(", "))
            }
            ParamValue::List(_) => {
                let msg = format!("`{}` takes one value, not a list", name.value);
                self.err(value, msg, Some("only `job_types_list` is a list".into()));
                return None;
            }
        };
        match refusal(&name.value, &text) {
            None => Some(ParamSetting {
                name: name.value.clone(),
                value: text,
                refused: None,
            }),
            Some((_, _)) if expect_refused => {
                let (msg, _) = refusal(&name.value, &text).expect("refused");
                Some(ParamSetting {
                    name: name.value.clone(),
                    value: text,
                    refused: Some(msg),
                })
            }
            Some((msg, hint)) => {
                self.err(value, msg, hint);
                None
            }
        }
    }
}

/// Why hrsi refuses a parameter value (message, hint), or `None` when it accepts it.
pub(crate) fn refusal(name: &str, text: &str) -> Option<(String, Option<String>)> {
    if let Err(e) = SystemParameters::default().set(name, text) {
        return Some((e.to_string(), value_hint(name)));
    }
    // The operator tool's own bounds (`hrsi params set`, which the rehearsal runs).
    if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
        return Some((
            format!("`{name}`: at most {MAX_TEXT} characters, no control characters"),
            None,
        ));
    }
    let timestamp = params::column(name).is_ok_and(|c| c.kind == params::Kind::Timestamp);
    if timestamp && text.contains('.') {
        return Some((
            format!(
                "`{text}` for `{name}`: the services parse it with '%Y-%m-%dT%H:%M:%S', so whole seconds are required"
            ),
            Some(format!(
                "write `{}`",
                text.split('.').next().unwrap_or(text)
            )),
        ));
    }
    if name != "job_types_list" {
        return None;
    }
    match JobTypesList::parse(text) {
        JobTypesList::Valid(_) => None,
        JobTypesList::NotJson => Some((
            format!(
                "`{text}` is not a JSON list: every service reads `job_types_list` with json.loads \
                 and would fail at each loop"
            ),
            Some(format!(
                "write a YAML list `[fsc_rlie_job, rlies1_job]`, or JSON with double quotes: `{}`",
                text.replace('\'', "\"")
            )),
        )),
        JobTypesList::UnknownType(t) => Some((
            format!(
                "unknown job type `{t}` in `job_types_list`: the services would stop until restarted"
            ),
            type_hint(t.trim_matches('"')),
        )),
    }
}

/// What a column takes, for a refused value.
pub(super) fn value_hint(name: &str) -> Option<String> {
    let c = params::column(name).ok()?;
    let what = match c.kind {
        params::Kind::Int => "a whole number",
        params::Kind::Float => "a number",
        params::Kind::Bool => "`true` or `false`",
        params::Kind::Text => "text",
        params::Kind::Timestamp => "a date or time such as `2025-01-10` or `2025-01-10T00:00:00Z`",
    };
    Some(match c.default {
        Some(d) => format!("`{name}` takes {what} (SQL default `{d}`)"),
        None => format!("`{name}` takes {what} or null"),
    })
}

pub(super) fn type_hint(name: &str) -> Option<String> {
    did_you_mean(name, ALL_TYPES.iter().map(|t| t.name())).or_else(|| {
        Some(format!(
            "job types: {}",
            ALL_TYPES.map(|t| t.name()).join(", ")
        ))
    })
}
