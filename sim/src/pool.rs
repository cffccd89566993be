//! The worker-pool sizing arithmetic **as coded** (orchestration.md §3.5): how many workers to
//! create per job type in one worker-pool-management loop.

/// `get_number_of_workers_to_create`: `needs` in `job_types_list` order (may be negative),
/// `slots` = `max_number_of_worker_instances` − existing workers. Entries may come back negative,
/// as in the real code.
pub fn workers_to_create(needs: &[i64], slots: i64) -> Vec<i64> {
    let mut out = vec![0; needs.len()];
    workers_to_create_into(needs, slots, &mut out);
    out
}

/// [`workers_to_create`] without allocating: at most 8 types, result written into `out`.
pub fn workers_to_create_into(needs: &[i64], slots: i64, out: &mut [i64]) {
    let n = needs.len().min(8);
    let out = &mut out[..n];
    out.copy_from_slice(&needs[..n]);
    let total: i64 = out.iter().sum();
    if slots <= 0 || total <= 0 {
        out.fill(0);
        return;
    }
    if total < 3 {
        let k = (3 + total - 1) / total;
        out.iter_mut().for_each(|x| *x *= k);
    }
    let cap = slots.min(10);
    let sum: i64 = out.iter().sum();
    if sum <= cap {
        return;
    }
    let factor = (sum + cap - 1) / cap;
    let mut scaled = [0f64; 8];
    let mut decimals = [0f64; 8];
    for i in 0..n {
        scaled[i] = out[i] as f64 / factor as f64;
        let d = scaled[i].rem_euclid(1.0);
        decimals[i] = if d <= 0.5 { d } else { 0.0 };
        out[i] = (scaled[i] + 0.5).floor() as i64;
    }
    if out.iter().sum::<i64>() > cap {
        for i in 0..n {
            out[i] = round_half_even(scaled[i]);
        }
    }
    let sum: i64 = out.iter().sum();
    if sum < cap {
        let mut order = [0usize, 1, 2, 3, 4, 5, 6, 7];
        // Stable: ties keep dict (list) order, as Python's sorted does.
        order[..n].sort_by(|&a, &b| decimals[b].total_cmp(&decimals[a]));
        for &i in order[..n].iter().take((cap - sum) as usize) {
            out[i] += 1;
        }
    }
}

fn round_half_even(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r as i64 % 2 != 0 {
        (r - x.signum()) as i64
    } else {
        r as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked examples of orchestration.md §3.5, run on the real functions (max = 210).
    #[test]
    fn reproduces_the_worked_examples() {
        assert_eq!(workers_to_create(&[1, 0], 210), vec![3, 0]);
        assert_eq!(workers_to_create(&[2], 210), vec![4]);
        assert_eq!(workers_to_create(&[25, 4], 160), vec![9, 1]);
        assert_eq!(workers_to_create(&[7, 7, 7], 210), vec![3, 3, 3]);
        assert_eq!(workers_to_create(&[3, 3, 3, 3], 210), vec![3, 3, 2, 2]);
        assert_eq!(workers_to_create(&[30], 5), vec![5]);
        assert_eq!(workers_to_create(&[5, -6], 210), vec![0, 0]);
        assert_eq!(workers_to_create(&[2, -1], 210), vec![6, -3]);
    }

    #[test]
    fn rounding_can_overshoot_the_free_slots_as_coded() {
        // Each 9/15 = 0.6 rounds to 1 both half-up and half-even: 5 workers for 3 free slots.
        assert_eq!(workers_to_create(&[9, 9, 9, 9, 9], 3), vec![1, 1, 1, 1, 1]);
        // Seen in a run: 4 free slots, 5 created.
        assert_eq!(
            workers_to_create(&[-23, 0, 46, 0, 280], 4)
                .iter()
                .sum::<i64>(),
            5
        );
    }

    #[test]
    fn never_creates_without_slots() {
        assert_eq!(workers_to_create(&[50, 50], 0), vec![0, 0]);
        assert_eq!(workers_to_create(&[50, 50], -3), vec![0, 0]);
        assert!(workers_to_create(&[500, 3, 80], 10).iter().sum::<i64>() <= 10);
    }
}
