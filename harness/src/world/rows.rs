//! The rows of a snapshot in PostgreSQL's COPY formats, one buffer per table, and the columns
//! each table is written and read with (shared by export and import so they agree).
//!
//! The row writers ([`parent_row`], [`child_row`]) hand their fields to a [`RowSink`]: the
//! text format ([`CopyBuf`]), or the binary one ([`TypedBin`]), which encodes each field as
//! the type its column has in the database (read from the catalogue, so a patched schema
//! still loads: a table with a column type the encoder does not know goes as text).

use hrsi_sim::{
    snapshot::{Change, Detail, Job},
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
    /// Columns as read back (same order; may coalesce), each cast to the type the binary
    /// import decodes (`int8`, `bool`, `text`, `timestamp`), whatever the schema's own.
    pub select: &'static str,
}

/// The five production child tables, in [`hrsi_sim::JobType`] order, then `other_jobs`.
pub const CHILDREN: [ChildTable; 6] = [
    ChildTable {
        table: "fsc_rlie_jobs",
        columns: "fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path, measurement_date, l1c_sensing_time, l1c_esa_creation_date, l1c_dias_publication_date, maja_mode, l2a_status, fsc_path, fsc_completion_date, fsc_json_publication_date, reprocessing_context",
        select: "fk_parent_job_id::int8, nrt::bool, l1c_id::text, l1c_cloud_cover::int8, l1c_snow_cover::int8, l1c_path::text, measurement_date::timestamp, l1c_esa_creation_date::timestamp, l1c_dias_publication_date::timestamp, maja_mode::text, l2a_status::text, fsc_path::text, fsc_completion_date::timestamp, fsc_json_publication_date::timestamp, reprocessing_context::text",
    },
    ChildTable {
        table: "rlies1_jobs",
        columns: "fk_parent_job_id, s1grd_id, measurement_date_start, measurement_date_end, s1grd_dias_publication_date, rlies1_products_completion_date, rlies1_products_publication_date, reprocessing_context",
        select: "fk_parent_job_id::int8, s1grd_id::text, measurement_date_start::timestamp, measurement_date_end::timestamp, s1grd_dias_publication_date::timestamp, rlies1_products_completion_date::timestamp, rlies1_products_publication_date::timestamp, reprocessing_context::text",
    },
    ChildTable {
        table: "rlies1s2_jobs",
        columns: "fk_parent_job_id, process_date, tile_id_dup, measurement_date_rlies1s2, rlies1s2_completion_date, publication_date_rlies1s2",
        select: "fk_parent_job_id::int8, process_date::timestamp, tile_id_dup::text, measurement_date_rlies1s2::timestamp, rlies1s2_completion_date::timestamp, publication_date_rlies1s2::timestamp",
    },
    ChildTable {
        table: "sws_wds_jobs",
        columns: "fk_parent_job_id, nrt, measurement_date, s1_id_list, fsc_id_list, s1_dias_publication_latest_date, fsc_publication_latest_date, assembly_id, assembly_master_job_id, assembly_status, wds_completion_date, wds_json_publication_date, sws_completion_date, sws_json_publication_date",
        select: "fk_parent_job_id::int8, nrt::bool, measurement_date::timestamp, s1_id_list::text, fsc_id_list::text, s1_dias_publication_latest_date::timestamp, fsc_publication_latest_date::timestamp, assembly_id::text, assembly_master_job_id::int8, assembly_status::text, coalesce(wds_completion_date, sws_completion_date)::timestamp, coalesce(wds_json_publication_date, sws_json_publication_date)::timestamp",
    },
    ChildTable {
        table: "gfsc_jobs",
        columns: "fk_parent_job_id, nrt, missions, triggering_product_id, triggering_product_publication_date, gfsc_id, product_date, sensing_start_date, sensing_end_date, aggregation_timespan, completion_date, gfsc_json_publication_date",
        select: "fk_parent_job_id::int8, nrt::bool, missions::text, triggering_product_id::text, triggering_product_publication_date::timestamp, gfsc_id::text, product_date::timestamp, sensing_start_date::timestamp, sensing_end_date::timestamp, aggregation_timespan::int8, completion_date::timestamp, gfsc_json_publication_date::timestamp",
    },
    ChildTable {
        table: "other_jobs",
        columns: "fk_parent_job_id",
        select: "fk_parent_job_id::int8",
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

/// Where a row writer puts its fields, in column order.
pub trait RowSink {
    /// NULL.
    fn null(&mut self);
    /// An integer (of an integer or numeric column).
    fn int(&mut self, v: i64);
    /// A boolean.
    fn bool(&mut self, v: bool);
    /// Text.
    fn text(&mut self, s: &str);
    /// A virtual instant, as a `timestamp`.
    fn time(&mut self, t: Ms);
    /// Ends a row.
    fn end(&mut self);
    /// Optional text.
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }
    /// An optional virtual instant.
    fn opt_time(&mut self, t: Option<Ms>) {
        match t {
            Some(t) => self.time(t),
            None => self.null(),
        }
    }
    /// An optional integer.
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
}

impl RowSink for CopyBuf {
    fn null(&mut self) {
        CopyBuf::null(self);
    }
    fn int(&mut self, v: i64) {
        CopyBuf::int(self, v);
    }
    fn bool(&mut self, v: bool) {
        CopyBuf::bool(self, v);
    }
    fn text(&mut self, s: &str) {
        CopyBuf::text(self, s);
    }
    fn time(&mut self, t: Ms) {
        CopyBuf::time(self, t);
    }
    fn end(&mut self) {
        CopyBuf::end(self);
    }
}

/// The column types the binary encoder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `numeric` (integers only are written).
    Numeric,
    /// `boolean`.
    Bool,
    /// `text` or `character varying` (no length limit checked here: see [`ColType::of`]).
    Text,
    /// `timestamp without time zone`.
    Timestamp,
}

impl ColType {
    /// The encoder's type for a column of type `regtype` (`format_type` text), if it has one.
    /// `character varying(n)` is not one: its length check is the server's, done in text.
    pub fn of(regtype: &str) -> Option<ColType> {
        Some(match regtype {
            "smallint" => ColType::Int2,
            "integer" => ColType::Int4,
            "bigint" => ColType::Int8,
            "numeric" => ColType::Numeric,
            "boolean" => ColType::Bool,
            "text" | "character varying" => ColType::Text,
            "timestamp without time zone" => ColType::Timestamp,
            _ => return None,
        })
    }
}

/// A binary COPY buffer for one table, each field encoded as its column's type. A value its
/// column cannot hold (an integer out of range, a number into a text column…) marks the
/// buffer [`TypedBin::mismatch`]: the caller then writes the table in text, where the server
/// gives its own error (or converts, as an `INSERT` would).
pub struct TypedBin {
    buf: Vec<u8>,
    epoch: Instant,
    types: Vec<ColType>,
    col: usize,
    rows: usize,
    mismatch: bool,
}

impl TypedBin {
    /// A buffer holding the binary COPY header, for rows of `types`.
    pub fn new(epoch: Instant, types: Vec<ColType>) -> TypedBin {
        let mut buf = b"PGCOPY\n\xff\r\n\0".to_vec();
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        TypedBin {
            buf,
            epoch,
            types,
            col: 0,
            rows: 0,
            mismatch: false,
        }
    }

    /// Whether a value did not fit its column (write the table in text instead).
    pub fn mismatch(&self) -> bool {
        self.mismatch
    }

    /// Rows written.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bytes, with the trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }

    /// The bytes written so far (the header with the first), for a COPY sent in chunks.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The type of the next field (the row's field count written first).
    fn next(&mut self) -> Option<ColType> {
        if self.col == 0 {
            self.buf
                .extend_from_slice(&(self.types.len() as i16).to_be_bytes());
        }
        let t = self.types.get(self.col).copied();
        self.col += 1;
        if t.is_none() {
            self.mismatch = true;
        }
        t
    }

    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// An integer as `numeric`: base-10000 digits, most significant first.
    fn numeric(&mut self, v: i64) {
        let mut digits = [0i16; 5];
        let mut n = 0;
        let mut u = v.unsigned_abs();
        while u > 0 {
            digits[n] = (u % 10_000) as i16;
            u /= 10_000;
            n += 1;
        }
        // Trailing zero groups are not stored (the weight places the rest).
        let weight = n as i16 - 1;
        let mut skip = 0;
        while skip < n && digits[skip] == 0 {
            skip += 1;
        }
        let stored = n - skip;
        self.buf
            .extend_from_slice(&(8 + 2 * stored as i32).to_be_bytes());
        self.buf.extend_from_slice(&(stored as i16).to_be_bytes());
        self.buf
            .extend_from_slice(&(if n == 0 { 0 } else { weight }).to_be_bytes());
        self.buf
            .extend_from_slice(&(if v < 0 { 0x4000u16 } else { 0 }).to_be_bytes());
        self.buf.extend_from_slice(&0i16.to_be_bytes());
        for k in (skip..n).rev() {
            self.buf.extend_from_slice(&digits[k].to_be_bytes());
        }
    }
}

impl RowSink for TypedBin {
    fn null(&mut self) {
        self.next();
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn int(&mut self, v: i64) {
        match self.next() {
            Some(ColType::Int2) => match i16::try_from(v) {
                Ok(x) => self.field(&x.to_be_bytes()),
                Err(_) => self.mismatch = true,
            },
            Some(ColType::Int4) => match i32::try_from(v) {
                Ok(x) => self.field(&x.to_be_bytes()),
                Err(_) => self.mismatch = true,
            },
            Some(ColType::Int8) => self.field(&v.to_be_bytes()),
            Some(ColType::Numeric) => self.numeric(v),
            _ => self.mismatch = true,
        }
    }

    fn bool(&mut self, v: bool) {
        match self.next() {
            Some(ColType::Bool) => self.field(&[u8::from(v)]),
            _ => self.mismatch = true,
        }
    }

    fn text(&mut self, s: &str) {
        match self.next() {
            // The server checks the encoding of binary text as it does for text COPY.
            Some(ColType::Text) => self.field(s.as_bytes()),
            _ => self.mismatch = true,
        }
    }

    fn time(&mut self, t: Ms) {
        match self.next() {
            Some(ColType::Timestamp) => {
                let us = (self.epoch.0 + t - PG_EPOCH_MS).checked_mul(1000);
                match us {
                    Some(us) => self.field(&us.to_be_bytes()),
                    None => self.mismatch = true,
                }
            }
            _ => self.mismatch = true,
        }
    }

    fn end(&mut self) {
        if self.col != self.types.len() {
            self.mismatch = true;
        }
        self.col = 0;
        self.rows += 1;
    }
}

/// The types of the written columns of every table (`table → column → format_type`), as
/// [`COLUMN_TYPES_SQL`] reads them.
pub type Catalogue = std::collections::HashMap<String, std::collections::HashMap<String, String>>;

/// The columns of the tables `$1` and their types.
pub const COLUMN_TYPES_SQL: &str = "select c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'cosims' and c.relname = any($1) and a.attnum > 0 and not a.attisdropped";

/// The catalogue from the rows of [`COLUMN_TYPES_SQL`].
pub fn catalogue(rows: &[tokio_postgres::Row]) -> Catalogue {
    let mut c = Catalogue::new();
    for r in rows {
        c.entry(r.get(0)).or_default().insert(r.get(1), r.get(2));
    }
    c
}

/// The binary types of `columns` of `table` (`None`: one the encoder does not write).
pub fn binary_types(cat: &Catalogue, table: &str, columns: &str) -> Option<Vec<ColType>> {
    let t = cat.get(table)?;
    columns
        .split(", ")
        .map(|c| t.get(c).and_then(|ty| ColType::of(ty)))
        .collect()
}

/// Rows for one COPY, and whether they are in the binary format.
pub struct Encoded {
    /// The COPY data (empty: no row).
    pub data: Vec<u8>,
    /// Binary (else text).
    pub binary: bool,
}

/// The rows of new jobs, `(copy target, rows)`: `parent_jobs` (with the id of each job's last
/// status row, `last_id[n]` for `new[n]`), then each child table. The full export and the
/// incremental one write the same rows.
pub fn job_tables(
    epoch: Instant,
    cat: &Catalogue,
    new: &[&Job],
    last_id: &[Option<i64>],
) -> Vec<(String, Encoded)> {
    let mut out = Vec::with_capacity(1 + CHILDREN.len());
    let parents = encode(
        epoch,
        binary_types(cat, "parent_jobs", PARENT_COLUMNS),
        |w| {
            for (n, j) in new.iter().enumerate() {
                parent_row(w, j, last_id[n]);
            }
        },
    );
    out.push((format!("cosims.parent_jobs ({PARENT_COLUMNS})"), parents));
    for (c, t) in CHILDREN.iter().enumerate() {
        let rows = encode(epoch, binary_types(cat, t.table, t.columns), |w| {
            for j in new {
                if child_index(&j.detail) == Some(c) {
                    child_row(w, j);
                }
            }
        });
        out.push((format!("cosims.{} ({})", t.table, t.columns), rows));
    }
    out
}

/// One `job_status_changes` row ([`STATUS_COLUMNS`]).
pub fn status_row(w: &mut (impl RowSink + ?Sized), id: i64, job_id: i64, c: &Change) {
    w.int(id);
    w.int(job_id);
    w.time(c.at);
    w.opt_text(c.error_subtype.as_deref());
    w.int(i64::from(c.status.id()));
    w.end();
}

/// Writes rows with `write` in the binary format when `types` are known and every value fits
/// them, else in text.
pub fn encode(
    epoch: Instant,
    types: Option<Vec<ColType>>,
    write: impl Fn(&mut dyn RowSink),
) -> Encoded {
    if let Some(types) = types {
        let mut b = TypedBin::new(epoch, types);
        write(&mut b);
        if !b.mismatch() {
            let rows = b.rows();
            let data = b.finish();
            return Encoded {
                data: if rows == 0 { Vec::new() } else { data },
                binary: true,
            };
        }
    }
    let mut t = CopyBuf::new(epoch);
    write(&mut t);
    Encoded {
        data: t.buf,
        binary: false,
    }
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
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), in ms.
pub const PG_EPOCH_MS: i64 = 946_684_800_000;

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
pub fn parent_row(w: &mut (impl RowSink + ?Sized), j: &Job, last_change_id: Option<i64>) {
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
pub fn child_row(w: &mut (impl RowSink + ?Sized), j: &Job) {
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
            w.opt_int(x.assembly_master_job_id);
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
            w.opt_int(x.aggregation_timespan.map(i64::from));
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

    /// The `numeric` field bytes of an integer: length, then ndigits, weight, sign, dscale and
    /// the base-10000 digits.
    fn numeric(v: i64) -> Vec<i16> {
        let mut b = TypedBin::new(Instant(0), vec![ColType::Numeric]);
        assert!(b.take().starts_with(b"PGCOPY"));
        b.int(v);
        b.end();
        let bytes = b.finish();
        // Field count (2 bytes), field length (4), …, trailer (2).
        let len = i32::from_be_bytes(bytes[2..6].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 8);
        let body = &bytes[6..bytes.len() - 2];
        body.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn integers_are_written_as_numeric_digits() {
        assert_eq!(numeric(0), [0, 0, 0, 0]);
        assert_eq!(numeric(42), [1, 0, 0, 0, 42]);
        assert_eq!(numeric(12_345), [2, 1, 0, 0, 1, 2345]);
        // Trailing zero groups are dropped, the weight keeps the magnitude.
        assert_eq!(numeric(10_000), [1, 1, 0, 0, 1]);
        assert_eq!(numeric(-7), [1, 0, 0x4000, 0, 7]);
    }

    #[test]
    fn a_value_its_column_cannot_hold_marks_the_buffer() {
        let mut b = TypedBin::new(Instant(0), vec![ColType::Int2, ColType::Text]);
        b.int(7);
        b.text("x");
        b.end();
        assert!(!b.mismatch());
        b.int(40_000);
        b.text("y");
        b.end();
        assert!(b.mismatch(), "out of smallint's range");
        let mut b = TypedBin::new(Instant(0), vec![ColType::Text]);
        b.int(1);
        b.end();
        assert!(b.mismatch(), "a number into a text column goes as text");
    }

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
