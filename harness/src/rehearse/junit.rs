//! `--junit FILE`: a testsuite per scenario, a testcase per step (deterministic: no times).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::SuiteReport;

/// The JUnit XML of a suite.
pub fn to_junit(report: &SuiteReport) -> String {
    let mut r = Report::new("hrsi rehearse");
    for s in &report.scenarios {
        let mut suite = TestSuite::new(s.file.clone());
        if let Some(e) = &s.error {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(e.clone());
            suite.add_test_case(TestCase::new("setup", st));
        }
        for st in &s.steps {
            let name = format!("step {} (line {}): {}", st.index, st.line, st.action);
            let status = if st.passed() {
                TestCaseStatus::success()
            } else {
                let mut f = TestCaseStatus::non_success(if st.error.is_some() {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                });
                let mut msg: Vec<String> = st.error.iter().cloned().collect();
                msg.extend(
                    st.checks
                        .iter()
                        .filter(|c| !c.passed)
                        .map(|c| format!("expect {}: {}", c.what, c.observed)),
                );
                f.set_message(msg.join("; "));
                f
            };
            let mut tc = TestCase::new(name, status);
            tc.set_classname(s.name.clone());
            tc.set_system_out(st.observed.join("\n"));
            suite.add_test_case(tc);
        }
        r.add_test_suite(suite);
    }
    r.to_string().unwrap_or_default()
}
