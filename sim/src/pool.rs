//! The worker-pool sizing arithmetic **as coded** (orchestration.md §3.5): how many workers to
//! create per job type in one worker-pool-management loop.

/// `get_number_of_workers_to_create`: `needs` in `job_types_list` order (may be negative),
/// `slots` = `max_number_of_worker_instances` − existing workers. Entries may come back negative,
/// as in the real code.
pub fn workers_to_create(needs: &[i64], slots: i64) -> Vec<i64> {
    let total: i64 = needs.iter().sum();
    if slots <= 0 || total <= 0 {
        return vec![0; needs.len()];
    }
    let mut v: Vec<i64> = needs.to_vec();
    if total < 3 {
        let k = (3 + total - 1) / total;
        v.iter_mut().for_each(|x| *x *= k);
    }
    let cap = slots.min(10);
    let sum: i64 = v.iter().sum();
    if sum <= cap {
        return v;
    }
    let factor = (sum + cap - 1) / cap;
    let scaled: Vec<f64> = v.iter().map(|&x| x as f64 / factor as f64).collect();
    let mut out: Vec<i64> = scaled.iter().map(|&x| (x + 0.5).floor() as i64).collect();
    let decimals: Vec<f64> = scaled
        .iter()
        .map(|&x| {
            let d = x.rem_euclid(1.0);
            if d <= 0.5 { d } else { 0.0 }
        })
        .collect();
    if out.iter().sum::<i64>() > cap {
        out = scaled.iter().map(|&x| round_half_even(x)).collect();
    }
    let sum: i64 = out.iter().sum();
    if sum < cap {
        let mut order: Vec<usize> = (0..out.len()).collect();
        // Stable: ties keep dict (list) order, as Python's sorted does.
        order.sort_by(|&a, &b| decimals[b].total_cmp(&decimals[a]));
        for &i in order.iter().take((cap - sum) as usize) {
            out[i] += 1;
        }
    }
    out
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
    fn never_creates_without_slots() {
        assert_eq!(workers_to_create(&[50, 50], 0), vec![0, 0]);
        assert_eq!(workers_to_create(&[50, 50], -3), vec![0, 0]);
        assert!(workers_to_create(&[500, 3, 80], 10).iter().sum::<i64>() <= 10);
    }
}
