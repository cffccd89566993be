//! The rows of a snapshot in PostgreSQL's COPY text format, one buffer per table, and the
//! columns each table is written and read with (shared by export and import so they agree).

use hrsi_sim::{
    snapshot::{Detail, Job},
    time::{DAY, HOUR, Instant, MINUTE, Ms, SECOND, civil_from_days},
};

/// `parent_jobs` columns written by the export (the `last_status_*` ones are the trigger's
/// denormalisation, computed from the history).
pub const PARENT_COLUMNS: &str = "id, name, priority, nomad_id, tile_id, next_log_level, print_to_orch, last_status_id, last_status_change_id, last_status_change_date, last_status_error_subtype, error_raised";
/// `job_status_changes` columns.
pub const STATUS_COLUMNS: &str = "id, fk_parent_job_id, time, error_subtype, job_status";

/// A child table and the columns the world writes and reads (`fk_parent_job_id` first).
pub struct ChildTable {
    /// Table name in `cosims`.
    pub table: &'static str,
    /// Columns as written.
    pub columns: &'static str,
    /// Columns as read back (same order; may coalesce).
    pub select: &'static str,
}

/// The five production child tables, in [`hrsi_sim::JobType`] order, then `other_jobs`.
pub const CHILDREN: [ChildTable; 6] = [
    ChildTable {
        table: "fsc_rlie_jobs",
        columns: "fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path, measurement_date, l1c_sensing_time, l1c_esa_creation_date, l1c_dias_publication_date, maja_mode, l2a_status, fsc_path, fsc_completion_date, fsc_json_publication_date, reprocessing_context",
        select: "fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover::int, l1c_snow_cover::int, l1c_path, measurement_date, l1c_esa_creation_date, l1c_dias_publication_date, maja_mode, l2a_status, fsc_path, fsc_completion_date, fsc_json_publication_date, reprocessing_context",
    },
    ChildTable {
        table: "rlies1_jobs",
        columns: "fk_parent_job_id, s1grd_id, measurement_date_start, measurement_date_end, s1grd_dias_publication_date, rlies1_products_completion_date, rlies1_products_publication_date, reprocessing_context",
        select: "fk_parent_job_id, s1grd_id, measurement_date_start, measurement_date_end, s1grd_dias_publication_date, rlies1_products_completion_date, rlies1_products_publication_date, reprocessing_context",
    },
    ChildTable {
        table: "rlies1s2_jobs",
        columns: "fk_parent_job_id, process_date, tile_id_dup, measurement_date_rlies1s2, rlies1s2_completion_date, publication_date_rlies1s2",
        select: "fk_parent_job_id, process_date, tile_id_dup, measurement_date_rlies1s2, rlies1s2_completion_date, publication_date_rlies1s2",
    },
    ChildTable {
        table: "sws_wds_jobs",
        columns: "fk_parent_job_id, nrt, measurement_date, s1_id_list, fsc_id_list, s1_dias_publication_latest_date, fsc_publication_latest_date, assembly_id, assembly_master_job_id, assembly_status, wds_completion_date, wds_json_publication_date, sws_completion_date, sws_json_publication_date",
        select: "fk_parent_job_id, nrt, measurement_date, s1_id_list, fsc_id_list, s1_dias_publication_latest_date, fsc_publication_latest_date, assembly_id, assembly_master_job_id, assembly_status, coalesce(wds_completion_date, sws_completion_date), coalesce(wds_json_publication_date, sws_json_publication_date)",
    },
    ChildTable {
        table: "gfsc_jobs",
        columns: "fk_parent_job_id, nrt, missions, triggering_product_id, triggering_product_publication_date, gfsc_id, product_date, sensing_start_date, sensing_end_date, aggregation_timespan, completion_date, gfsc_json_publication_date",
        select: "fk_parent_job_id, nrt, missions, triggering_product_id, triggering_product_publication_date, gfsc_id, product_date, sensing_start_date, sensing_end_date, aggregation_timespan, completion_date, gfsc_json_publication_date",
    },
    ChildTable {
        table: "other_jobs",
        columns: "fk_parent_job_id",
        select: "fk_parent_job_id",
    },
];

/// Index in [`CHILDREN`] of a job's child row (`None`: no child row).
pub fn child_index(d: &Detail) -> Option<usize> {
    Some(match d {
        Detail::FscRlie(_) => 0,
        Detail::RlieS1(_) => 1,
        Detail::RlieS1S2(_) => 2,
        Detail::SwsWds(_) => 3,
        Detail::Gfsc(_) => 4,
        Detail::Service => 5,
        Detail::Unclassified => return None,
    })
}

/// A COPY text buffer.
pub struct CopyBuf {
    /// The bytes.
    pub buf: Vec<u8>,
    epoch: Instant,
    first: bool,
}

impl CopyBuf {
    /// An empty buffer; times are written as `epoch + ms`.
    pub fn new(epoch: Instant) -> CopyBuf {
        CopyBuf {
            buf: Vec::new(),
            epoch,
            first: true,
        }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// Ends a row.
    pub fn end(&mut self) {
        self.buf.push(b'\n');
        self.first = true;
    }

    /// NULL.
    pub fn null(&mut self) {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
    }

    /// An integer.
    pub fn int(&mut self, v: i64) {
        self.sep();
        self.buf.extend_from_slice(itoa(v, &mut [0; 20]));
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) {
        self.sep();
        self.buf.push(if v { b't' } else { b'f' });
    }

    /// Text, escaped for COPY.
    pub fn text(&mut self, s: &str) {
        self.sep();
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
    }

    /// Optional text.
    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A virtual instant as a `timestamp` (UTC, millisecond precision).
    pub fn time(&mut self, t: Ms) {
        self.sep();
        let ms = self.epoch.0 + t;
        let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
        let r = ms.rem_euclid(DAY);
        let mut out = [0u8; 23];
        let put = |o: &mut [u8], v: i64, w: usize| {
            let mut v = v;
            for k in (0..w).rev() {
                o[k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut out[0..4], y, 4);
        out[4] = b'-';
        put(&mut out[5..7], i64::from(m), 2);
        out[7] = b'-';
        put(&mut out[8..10], i64::from(d), 2);
        out[10] = b' ';
        put(&mut out[11..13], r / HOUR, 2);
        out[13] = b':';
        put(&mut out[14..16], r % HOUR / MINUTE, 2);
        out[16] = b':';
        put(&mut out[17..19], r % MINUTE / SECOND, 2);
        out[19] = b'.';
        put(&mut out[20..23], r % SECOND, 3);
        if (0..=9999).contains(&y) {
            self.buf.extend_from_slice(&out);
        } else {
            // Outside 4-digit years PostgreSQL's own text form is unambiguous.
            self.buf
                .extend_from_slice(Instant(ms).iso().trim_end_matches('Z').as_bytes());
        }
    }

    /// An optional virtual instant.
    pub fn opt_time(&mut self, t: Option<Ms>) {
        match t {
            Some(t) => self.time(t),
            None => self.null(),
        }
    }
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), in ms.
pub const PG_EPOCH_MS: i64 = 946_684_800_000;

/// A COPY binary buffer (the big status table goes binary: no text to format or parse).
pub struct BinBuf {
    buf: Vec<u8>,
    epoch: Instant,
}

impl BinBuf {
    /// A buffer holding the binary COPY header.
    pub fn new(epoch: Instant) -> BinBuf {
        let mut buf = b"PGCOPY\n\xff\r\n\0".to_vec();
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        BinBuf { buf, epoch }
    }

    /// Starts a row of `n` fields.
    pub fn row(&mut self, n: i16) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }

    /// A `bigint`.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `smallint`.
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&2i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `timestamp` of a virtual instant.
    pub fn time(&mut self, t: Ms) {
        self.i64((self.epoch.0 + t - PG_EPOCH_MS) * 1000);
    }

    /// Optional text.
    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
                self.buf.extend_from_slice(s.as_bytes());
            }
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// The bytes, with the trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

fn itoa(v: i64, out: &mut [u8; 20]) -> &[u8] {
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        out[i] = b'-';
    }
    &out[i..]
}

/// Writes the `parent_jobs` row of a job whose last history row got id `last_change_id`.
pub fn parent_row(w: &mut CopyBuf, j: &Job, last_change_id: Option<i64>) {
    w.int(j.id);
    w.text(&j.name);
    w.opt_text(j.priority.map(|p| p.name()));
    w.opt_text(j.nomad_id.as_deref());
    w.text(&j.tile_id);
    w.int(20);
    w.bool(false);
    match (j.history.last(), last_change_id) {
        (Some(c), Some(id)) => {
            w.int(i64::from(c.status.id()));
            w.int(id);
            w.time(c.at);
            w.opt_text(c.error_subtype.as_deref());
        }
        _ => {
            for _ in 0..4 {
                w.null();
            }
        }
    }
    w.bool(j.error_raised());
    w.end();
}

/// Writes the child row of a job into its table's buffer.
pub fn child_row(w: &mut CopyBuf, j: &Job) {
    w.int(j.id);
    match &j.detail {
        Detail::FscRlie(x) => {
            w.bool(x.nrt);
            w.text(&x.l1c_id);
            w.int(i64::from(x.l1c_cloud_cover));
            w.int(i64::from(x.l1c_snow_cover));
            w.text(&x.l1c_path);
            w.time(x.measurement_date);
            w.time(x.measurement_date);
            w.time(x.l1c_esa_creation_date);
            w.opt_time(x.l1c_dias_publication_date);
            w.opt_text(x.maja_mode.as_deref());
            w.opt_text(x.l2a_status.as_deref());
            w.opt_text(x.fsc_path.as_deref());
            w.opt_time(x.fsc_completion_date);
            w.opt_time(x.fsc_json_publication_date);
            w.text(&x.reprocessing_context);
        }
        Detail::RlieS1(x) => {
            w.text(&x.s1grd_id);
            w.time(x.measurement_date_start);
            w.time(x.measurement_date_end);
            w.opt_time(x.s1grd_dias_publication_date);
            w.opt_time(x.completion_date);
            w.opt_time(x.publication_date);
            w.opt_text(x.reprocessing_context.as_deref());
        }
        Detail::RlieS1S2(x) => {
            w.time(x.process_date);
            w.text(&x.tile_id_dup);
            w.time(x.measurement_date);
            w.opt_time(x.completion_date);
            w.opt_time(x.publication_date);
        }
        Detail::SwsWds(x) => {
            w.bool(x.nrt);
            w.time(x.measurement_date);
            w.text(&x.s1_id_list);
            w.opt_text(x.fsc_id_list.as_deref());
            w.opt_time(x.s1_dias_publication_latest_date);
            w.opt_time(x.fsc_publication_latest_date);
            w.opt_text(x.assembly_id.as_deref());
            match x.assembly_master_job_id {
                Some(m) => w.int(m),
                None => w.null(),
            }
            w.opt_text(x.assembly_status.as_deref());
            // A job with an FSC input has a WDS part; the others only an SWS part.
            let wds = x.fsc_id_list.is_some();
            for part in [wds, !wds] {
                if part {
                    w.opt_time(x.completion_date);
                    w.opt_time(x.publication_date);
                } else {
                    w.null();
                    w.null();
                }
            }
        }
        Detail::Gfsc(x) => {
            w.bool(x.nrt);
            w.opt_text(x.missions.as_deref());
            w.opt_text(x.triggering_product_id.as_deref());
            w.opt_time(x.triggering_product_publication_date);
            w.text(&x.gfsc_id);
            w.time(x.product_date);
            w.opt_time(x.sensing_start_date);
            w.opt_time(x.sensing_end_date);
            match x.aggregation_timespan {
                Some(a) => w.int(i64::from(a)),
                None => w.null(),
            }
            w.opt_time(x.completion_date);
            w.opt_time(x.publication_date);
        }
        Detail::Service | Detail::Unclassified => {}
    }
    w.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_formats_times() {
        let mut w = CopyBuf::new(Instant::parse("2025-01-06").unwrap());
        w.text("a\tb\\c\nd");
        w.null();
        w.int(-42);
        w.time(-1);
        w.time(DAY + 1_234);
        w.end();
        assert_eq!(
            String::from_utf8(w.buf).unwrap(),
            "a\\tb\\\\c\\nd\t\\N\t-42\t2025-01-05 23:59:59.999\t2025-01-07 00:00:01.234\n"
        );
    }
}
