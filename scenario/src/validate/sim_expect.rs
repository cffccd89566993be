//! The expectations a simulated run can check (`lost_vs_baseline`, `catch_up_hours`,
//! `recovery_hours`): their validation, beside the harness's in the parent module.

use super::*;

impl Validator<'_> {
    pub(super) fn sim_expect(&mut self, e: &RawExpect, out: &mut Expect) {
        for (t, c) in e.lost_vs_baseline.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(c)) = (self.job_type(t), self.count(c)) {
                out.lost_vs_baseline.insert(t, c);
            }
        }
        for (t, h) in e.catch_up_hours.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(h)) = (self.job_type(t), self.hours_bound(h)) {
                out.catch_up_hours.insert(t, h);
            }
        }
        for (t, h) in e.recovery_hours.iter().flat_map(|p| &p.0) {
            let key = if t.value == "all" {
                Some(None)
            } else {
                self.job_type(t).map(Some)
            };
            if let (Some(k), Some(h)) = (key, self.hours_bound(h)) {
                out.recovery_hours.insert(k, h);
            }
        }
    }

    fn hours_bound(&mut self, h: &Spanned<RawHours>) -> Option<HoursBound> {
        let b = match &h.value {
            RawHours::Number(n) => HoursBound::parse(&n.to_string()),
            RawHours::Text(t) => HoursBound::parse(t),
        };
        if b.is_none() {
            let shown = match &h.value {
                RawHours::Number(n) => n.to_string(),
                RawHours::Text(t) => t.chars().take(40).collect(),
            };
            self.err(
                h,
                format!("`{shown}` is not a bound on hours (0 to 1000000)"),
                Some("e.g. `30` (at most 30 h), `\"<= 48h\"` or `\"> 2.5\"`".into()),
            );
        }
        b
    }
}
