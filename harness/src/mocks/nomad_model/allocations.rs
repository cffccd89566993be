//! Allocations: reads, the end of a run (complete or failed, with one reschedule), loss.

use super::*;

impl NomadState {
    // ---- allocations ----------------------------------------------------------------------

    /// One allocation.
    pub fn alloc(&self, id: &str) -> Result<&Alloc, ApiError> {
        self.allocs
            .get(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))
    }

    /// The processing on an allocation ended with `exit_code` (after Nomad's in-place restarts):
    /// 0 completes it; anything else fails it, and a batch job gets one reschedule after 5 s.
    pub fn finish_alloc(&mut self, id: &str, exit_code: i32) -> Result<(), ApiError> {
        let index = self.bump();
        let now = self.now;
        let delay = self.config.batch_reschedule_delay.as_nanos() as u64;
        let a = self
            .allocs
            .get_mut(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
        if !a.is_live() {
            return Err(ApiError::new(
                400,
                format!("allocation {id} is already {}", a.client_status),
            ));
        }
        let status = if exit_code == 0 { "complete" } else { "failed" };
        stop_alloc(a, status, now, index);
        a.desired_status = "run".into();
        if exit_code != 0 {
            a.reschedule_at = Some(now + delay);
        }
        self.reconcile();
        Ok(())
    }

    /// Marks one allocation lost without its node going down (a lost heartbeat on that alloc).
    pub fn lose_alloc(&mut self, id: &str) -> Result<(), ApiError> {
        let index = self.bump();
        let now = self.now;
        let a = self
            .allocs
            .get_mut(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
        stop_alloc(a, "lost", now, index);
        self.reconcile();
        Ok(())
    }
}
