//! What a rehearsal observed, step by step, and its deterministic text form.
//!
//! Everything that changes from run to run is redacted before it is stored: ports, cluster and
//! working directories, database names with process ids, Terraform ids, secrets. Virtual time
//! is the scenario's own, so it stays. Wall times are kept apart: the scenario's
//! ([`ScenarioResult::wall_ms`]) enters no output but the summary table; each step's
//! ([`StepResult::wall_ms`]) is in the JSON beside its result, the one field there that differs
//! between runs, and never in the transcript (the snapshots) or the JUnit file.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// One expectation and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was expected, in the file's words (`plan: destroy 10`).
    pub what: String,
    /// Whether it held.
    pub passed: bool,
    /// What was observed.
    pub observed: String,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based position in the scenario.
    pub index: usize,
    /// Line in the file.
    pub line: u64,
    /// The step's key (`stop`, `sql`, …).
    pub kind: String,
    /// Virtual time when the step began (ISO 8601 UTC).
    pub at: String,
    /// What the operator did, in the runbook's words.
    pub action: String,
    /// What was observed (output lines, figures), redacted.
    pub observed: Vec<String>,
    /// Expectations checked after the step.
    pub checks: Vec<Check>,
    /// The step itself failed (it could not be carried out), apart from its checks.
    pub error: Option<String>,
    /// Wall time of the step, milliseconds: the operator's action, the database's export or
    /// read-back after it, and its expectations (in `--json` only: it differs between runs).
    #[serde(default)]
    pub wall_ms: u64,
}

impl StepResult {
    /// Whether the step ran and every expectation held.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The file, relative to the suite's root, with `/` separators.
    pub file: String,
    /// The scenario's name.
    pub name: String,
    /// How the world was set up (cluster or clone, stand-ins, clock).
    pub setup: Vec<String>,
    /// What `hrsi simulate` predicts for the same file.
    pub prediction: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<StepResult>,
    /// The rehearsal's world run on to the horizon beside the prediction, and the steps the
    /// prediction does not contain ([`super::compare`]); empty when the world never ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub course: Vec<String>,
    /// What the simulated system does not see.
    pub notes: Vec<String>,
    /// The scenario could not be set up or was cut short.
    pub error: Option<String>,
    /// Wall time, milliseconds (not part of any deterministic output).
    #[serde(skip)]
    pub wall_ms: u64,
    /// Where the wall time went, milliseconds per phase (not part of any deterministic output).
    #[serde(skip)]
    pub phases_ms: Vec<(&'static str, u64)>,
}

impl ScenarioResult {
    /// Whether every step ran and every expectation held.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(StepResult::passed)
    }

    /// Checks that held and checks in total.
    pub fn check_counts(&self) -> (usize, usize) {
        let all = self.steps.iter().flat_map(|s| &s.checks);
        let total = all.clone().count();
        (all.filter(|c| c.passed).count(), total)
    }

    /// The transcript as text (what the snapshots hold).
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("# {}\n", self.name));
        s.push_str(&format!("file: {}\n", self.file));
        for l in &self.setup {
            s.push_str(&format!("setup: {l}\n"));
        }
        for l in &self.prediction {
            s.push_str(&format!("prediction: {l}\n"));
        }
        for st in &self.steps {
            s.push('\n');
            let mark = if st.passed() { "ok" } else { "FAILED" };
            s.push_str(&format!(
                "step {} (line {}) at {}: {} [{mark}]\n",
                st.index, st.line, st.at, st.action
            ));
            for o in &st.observed {
                s.push_str(&format!("  | {o}\n"));
            }
            if let Some(e) = &st.error {
                s.push_str(&format!("  ✗ the step failed: {e}\n"));
            }
            for c in &st.checks {
                let m = if c.passed { "✓" } else { "✗" };
                s.push_str(&format!("  {m} expect {}: {}\n", c.what, c.observed));
            }
        }
        if !self.course.is_empty() {
            s.push('\n');
            for l in &self.course {
                s.push_str(&format!("course: {l}\n"));
            }
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                s.push_str(&format!("note: {n}\n"));
            }
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("\nerror: {e}\n"));
        }
        let (ok, total) = self.check_counts();
        s.push_str(&format!(
            "\nresult: {} ({} steps, {ok}/{total} expectations held)\n",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.steps.len()
        ));
        s
    }
}

static REDACTIONS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // Secrets first: nothing after them may reveal them.
        (r"placeholder-secret-do-not-log", "[secret]"),
        (
            r"(?i)(password|secret|token|passphrase)(\s*[=:]\s*)\S+",
            "$1$2[secret]",
        ),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d{2,5}", "$1:PORT"),
        (r"/dev/shm/pgh-[A-Za-z0-9_.-]+", "<cluster>"),
        (r"/tmp/pgh-[A-Za-z0-9_.-]+", "<cluster>"),
        (
            r"(/[A-Za-z0-9_.-]+)*/hrsi-rehearse-[A-Za-z0-9_.-]+",
            "<workdir>",
        ),
        (r"\.s\.PGSQL\.\d+", ".s.PGSQL.PORT"),
        (r"\bhrsi_[a-z0-9]+_\d+_\d+\b", "<database>"),
        (r"\[id=[^\]]*\]", "[id=ID]"),
        (r"\bpid \d+\b", "pid PID"),
        (r"(?i)\bport \d{2,5}\b", "port PORT"),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("valid redaction"), r))
    .collect()
});

/// Redacts what changes between runs or must never be shown. Lines are also bounded (a
/// runaway output does not become a megabyte snapshot).
pub fn redact(line: &str) -> String {
    let mut s = line.to_owned();
    for (re, rep) in REDACTIONS.iter() {
        if re.is_match(&s) {
            s = re.replace_all(&s, *rep).into_owned();
        }
    }
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" […]");
    }
    s
}

/// Redacts and bounds a block of output: at most `max` lines, then a count of the rest.
pub fn redact_lines<'a>(lines: impl IntoIterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut more = 0usize;
    for l in lines {
        if out.len() < max {
            out.push(redact(l));
        } else {
            more += 1;
        }
    }
    if more > 0 {
        out.push(format!("[… {more} more line(s)]"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ScenarioResult, StepResult, redact};

    #[test]
    fn run_specific_values_and_secrets_are_redacted() {
        assert_eq!(
            redact(
                "psql: error: connection to server on socket \"/dev/shm/pgh-123-4/.s.PGSQL.5433\" failed"
            ),
            "psql: error: connection to server on socket \"<cluster>/.s.PGSQL.PORT\" failed"
        );
        assert_eq!(
            redact("http://127.0.0.1:41234/v1/jobs"),
            "http://127.0.0.1:PORT/v1/jobs"
        );
        assert_eq!(
            redact("password = \"placeholder-secret-do-not-log\""),
            "password = [secret]"
        );
        assert_eq!(
            redact("CSI_SCIHUB_ACCOUNT_PASSWORD=hunter2"),
            "CSI_SCIHUB_ACCOUNT_PASSWORD=[secret]"
        );
        assert_eq!(
            redact("database hrsi_c_4242_7 created"),
            "database <database> created"
        );
        assert_eq!(
            redact("x: Creation complete after 0s [id=abc-1]"),
            "x: Creation complete after 0s [id=ID]"
        );
        assert_eq!(
            redact("psql:/tmp/hrsi-rehearse-Ab12/patch.sql:3: ERROR"),
            "psql:<workdir>/patch.sql:3: ERROR"
        );
    }

    #[test]
    fn a_steps_wall_time_is_in_the_json_and_not_in_the_transcript() {
        let step = |wall_ms| StepResult {
            index: 1,
            line: 3,
            kind: "advance".into(),
            at: "2025-01-06T00:00:00Z".into(),
            action: "advance 1 h".into(),
            observed: vec!["simulated system at …".into()],
            checks: vec![],
            error: None,
            wall_ms,
        };
        let result = |wall_ms| ScenarioResult {
            file: "scenarios/x.yaml".into(),
            name: "x".into(),
            setup: vec![],
            prediction: vec![],
            steps: vec![step(wall_ms)],
            course: vec![],
            notes: vec![],
            error: None,
            wall_ms: 77,
            phases_ms: vec![],
        };
        let (fast, slow) = (result(5), result(98_765));
        assert_eq!(
            fast.render(),
            slow.render(),
            "the transcript has no wall time"
        );
        assert!(!slow.render().contains("98765"));
        let json = serde_json::to_value(&slow).unwrap();
        assert_eq!(json["steps"][0]["wall_ms"], 98_765);
        assert!(json.get("wall_ms").is_none(), "the scenario's stays out");
        // A JSON without it (an older run's) still reads.
        let mut old = json.clone();
        old["steps"][0].as_object_mut().unwrap().remove("wall_ms");
        let back: ScenarioResult = serde_json::from_value(old).unwrap();
        assert_eq!(back.steps[0].wall_ms, 0);
    }
}
