//! A generated, production-shaped data set for the `cosims` schema: jobs of the five types in
//! the production mix (database.md §8), each with a status history that follows allowed
//! transitions (checked against `hrsi_sim::status`), the six service jobs, their execution
//! rows and a few parameter changes. Patches are tested against data, not an empty schema:
//! a patch that only fails on existing rows must fail here.
//!
//! Deterministic: the same spec gives byte-identical rows. Loaded with COPY, with the status
//! trigger off (its O(history) lookup would make the load quadratic); every path is validated
//! in Rust beforehand, then `parent_jobs.last_status_*` is derived from the history, as the
//! trigger would have done.

use std::{fmt::Write, pin::pin};

use futures_util::SinkExt;
use hrsi_sim::status::{Status, check_path};
use tokio_postgres::Client;

use crate::{
    postgres::{Error, Result},
    timefmt::UnixTime,
};

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Jobs in total, split between the job types in the production mix.
    pub jobs: u32,
    /// The time of the newest data (UTC seconds); the history goes back from it.
    pub now: UnixTime,
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec {
            jobs: 1000,
            // 2026-11-01T00:00:00Z: a fixed instant keeps the data reproducible.
            now: UnixTime(1_793_491_200),
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DatasetSummary {
    /// Rows in `parent_jobs` (service jobs included).
    pub parent_jobs: u64,
    /// Rows in `job_status_changes`.
    pub status_changes: u64,
}

/// The five job types with their share of daily production (database.md §8, mid-range).
const MIX: [(JobType, u32); 5] = [
    (JobType::FscRlie, 500),
    (JobType::RlieS1, 100),
    (JobType::RlieS1S2, 115),
    (JobType::SwsWds, 225),
    (JobType::Gfsc, 1000),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobType {
    FscRlie,
    RlieS1,
    RlieS1S2,
    SwsWds,
    Gfsc,
}

/// The status histories jobs take, by share (out of 20): mostly done, some in flight, some in
/// error and recovered through error_checked, a few cancelled.
fn path_for(k: u32) -> Vec<Status> {
    use Status::*;
    let nominal = [
        Initialized,
        Configured,
        Ready,
        Queued,
        Started,
        PreProcessing,
        Processing,
        PostProcessing,
        Processed,
        StartPublication,
        Published,
        Done,
    ];
    match k % 20 {
        0..=12 => nominal.to_vec(),
        13 => nominal[..7].to_vec(),
        14 => nominal[..4].to_vec(),
        15 => nominal[..1].to_vec(),
        16 => [&nominal[..6], &[ExternalError]].concat(),
        17 => [
            &nominal[..7],
            &[InternalError, ErrorChecked, Ready, Queued, Started],
        ]
        .concat(),
        18 => [
            &nominal[..10],
            &[ExternalError, ErrorChecked, Processed, Done],
        ]
        .concat(),
        _ => vec![Cancelled],
    }
}

/// Generates the data set into a database holding the `cosims` schema (superuser needed to
/// switch the status trigger off during the bulk load).
pub async fn generate(client: &Client, spec: &DatasetSpec) -> Result<DatasetSummary> {
    let rows = Rows::build(spec);
    let sql_err = |what: &str| {
        let what = what.to_string();
        move |e: tokio_postgres::Error| {
            Error::sql(format!("load the generated data set ({what})"), &e)
        }
    };
    client
        .batch_execute("begin; set local session_replication_role = replica;")
        .await
        .map_err(sql_err("disable triggers (superuser needed)"))?;
    for (table, columns, data) in rows.copies() {
        let sink = client
            .copy_in(&format!("copy cosims.{table} ({columns}) from stdin"))
            .await
            .map_err(sql_err(table))?;
        let mut sink = pin!(sink);
        sink.send(bytes::Bytes::from(data))
            .await
            .map_err(sql_err(table))?;
        sink.as_mut().finish().await.map_err(sql_err(table))?;
    }
    client
        .batch_execute(SYNC_SQL)
        .await
        .map_err(sql_err("derive last statuses"))?;
    client
        .batch_execute("commit")
        .await
        .map_err(sql_err("commit"))?;
    // With the triggers back on: parameter changes go through the history trigger, as an
    // operator's UPDATEs do.
    client
        .batch_execute(
            "update cosims.system_parameters set max_number_of_worker_instances = 150;
             update cosims.system_parameters set job_types_list = '[\"fsc_rlie_job\", \"rlies1_job\", \"rlies1s2_job\", \"sws_wds_job\", \"gfsc_job\"]';",
        )
        .await
        .map_err(sql_err("update system_parameters"))?;
    Ok(DatasetSummary {
        parent_jobs: rows.parents,
        status_changes: rows.statuses,
    })
}

/// Derives the denormalised columns from the history, then moves every sequence past the
/// explicit ids.
const SYNC_SQL: &str = "
update cosims.parent_jobs p
set last_status_id = c.job_status, last_status_change_id = c.id,
    last_status_change_date = c.time, last_status_error_subtype = c.error_subtype,
    error_raised = c.any_error
from (select distinct on (fk_parent_job_id) fk_parent_job_id, id, job_status, time, error_subtype,
             bool_or(job_status between 13 and 15) over (partition by fk_parent_job_id) as any_error
      from cosims.job_status_changes
      order by fk_parent_job_id, id desc) c
where c.fk_parent_job_id = p.id;
select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'), (select max(id) from cosims.parent_jobs));
";

struct Rows {
    parents_copy: String,
    statuses_copy: String,
    children: Vec<(&'static str, &'static str, String)>,
    parents: u64,
    statuses: u64,
}

const FIRST_ID: i64 = 366_200;

impl Rows {
    fn build(spec: &DatasetSpec) -> Rows {
        let total_weight: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut r = Rows {
            parents_copy: String::new(),
            statuses_copy: String::new(),
            children: vec![
                ("fsc_rlie_jobs", FSC_COLUMNS, String::new()),
                ("rlies1_jobs", RLIES1_COLUMNS, String::new()),
                ("rlies1s2_jobs", RLIES1S2_COLUMNS, String::new()),
                ("sws_wds_jobs", SWS_COLUMNS, String::new()),
                ("gfsc_jobs", GFSC_COLUMNS, String::new()),
                ("other_jobs", "fk_parent_job_id", String::new()),
                (
                    "execution_info",
                    "fk_parent_job_id, min_log_level, log_file_path",
                    String::new(),
                ),
            ],
            parents: 0,
            statuses: 0,
        };
        let mut id = FIRST_ID;
        for (slot, (ty, weight)) in MIX.iter().enumerate() {
            let n = (u64::from(spec.jobs) * u64::from(*weight) / u64::from(total_weight)).max(1);
            for i in 0..n as u32 {
                // Spread over the last 10 days, newest last.
                let age = i64::from(n as u32 - i) * 864_000 / n as i64;
                let t = spec.now.plus(-age);
                let tile = tile_id(i * 7 + slot as u32);
                let path = path_for(i * 3 + slot as u32);
                debug_assert!(check_path(&path).is_ok(), "{path:?}");
                let dispatched = path.iter().any(|s| s.id() >= 4);
                let name = format!(
                    "{}_{tile}_{}",
                    ty_name(*ty),
                    t.iso().replace([':', '-'], "")
                );
                let nomad = if dispatched {
                    format!("{}/dispatch-{:08x}", ty_name(*ty), id)
                } else {
                    "\\N".to_string()
                };
                writeln!(
                    r.parents_copy,
                    "{id}\t{name}\tnrt\t{nomad}\t{tile}\t20\tf\tf"
                )
                .unwrap();
                r.child_row(*ty, slot, id, i, &tile, t, &path);
                r.status_rows(id, t, &path);
                id += 1;
            }
        }
        for (k, service) in SERVICES.iter().enumerate() {
            let t = spec.now.plus(-864_000 - 3600 + k as i64);
            writeln!(r.parents_copy, "{id}\t{service}\t\\N\t\\N\t\t20\tf\tf").unwrap();
            writeln!(r.children[5].2, "{id}").unwrap();
            writeln!(r.children[6].2, "{id}\t20\t/var/log/csi/{service}.log").unwrap();
            r.status_rows(id, t, &[Status::Started]);
            id += 1;
        }
        r.parents = (id - FIRST_ID) as u64;
        r
    }

    fn status_rows(&mut self, job: i64, t: UnixTime, path: &[Status]) {
        for (k, s) in path.iter().enumerate() {
            let when = t.plus(k as i64 * 240);
            let (subtype, msg) = match s {
                Status::InternalError => ("Job Status Transition Error", "worker lost"),
                Status::ExternalError => ("Download Error", "input not available"),
                Status::Cancelled => ("\\N", "reprocessing product, too old"),
                _ => ("\\N", "\\N"),
            };
            writeln!(
                self.statuses_copy,
                "{job}\t{}\t{subtype}\t{msg}\t{}",
                when.sql(),
                s.id()
            )
            .unwrap();
            self.statuses += 1;
        }
    }

    #[expect(clippy::too_many_arguments)]
    fn child_row(
        &mut self,
        ty: JobType,
        slot: usize,
        id: i64,
        i: u32,
        tile: &str,
        t: UnixTime,
        path: &[Status],
    ) {
        let done = path.last() == Some(&Status::Done);
        let day = t.iso()[..10].replace('-', "");
        let measured = t.plus(-5 * 3600).sql();
        let published = t.plus(-3600).sql();
        let out = &mut self.children[slot].2;
        match ty {
            JobType::FscRlie => {
                let l1c = format!("S2B_MSIL1C_{day}T103309_N0509_R108_T{tile}_{day}T{:06}", i);
                let maja = ["nominal", "nominal", "nominal", "init", "backward"][i as usize % 5];
                let l2a = if done { "generated" } else { "pending" };
                let fsc = if done {
                    format!("s3://hrsi/FSC_{day}_{tile}")
                } else {
                    "\\N".into()
                };
                writeln!(
                    out,
                    "{id}\tt\t{l1c}\t{}.{}\t{}\ts3://eodata/Sentinel-2/{l1c}.SAFE\t{measured}\t{measured}\t{published}\t{published}\t{}\t{maja}\t{l2a}\t{fsc}",
                    i % 100,
                    i % 10,
                    (i * 7) % 100,
                    t.sql()
                )
                .unwrap();
            }
            JobType::RlieS1 => {
                writeln!(
                    out,
                    "{id}\tS1A_IW_GRDH_1SDV_{day}T053011_{day}T053036_{:06}_{:05X}\t{measured}\t{}\t{}\tnrt",
                    i, i,
                    t.plus(-5 * 3600 + 25).sql(),
                    t.sql()
                )
                .unwrap();
            }
            JobType::RlieS1S2 => {
                // Unique per (process_date, tile): one job per tile and day.
                let process = UnixTime(t.0 - t.0.rem_euclid(86_400)).sql();
                writeln!(out, "{id}\t{process}\t{tile}_{i}\t{measured}").unwrap();
            }
            JobType::SwsWds => {
                // S1-only assemblies have no FSC input (NULL fsc_id_list).
                let fsc = if i.is_multiple_of(4) {
                    "\\N".to_string()
                } else {
                    format!("FSC_{day}_{tile}")
                };
                writeln!(
                    out,
                    "{id}\tt\t{measured}\tS1A_IW_GRDH_{day}_{i:06}\t{fsc}\t{published}\t{}\tassembly_{day}_{i}\t{}",
                    if fsc == "\\N" { "\\N".to_string() } else { published.clone() },
                    if done { "generated" } else { "pending" }
                )
                .unwrap();
            }
            JobType::Gfsc => {
                writeln!(
                    out,
                    "{id}\tt\tFSC_{day}_{tile}_{i}\t{published}\tGFSC_{day}_{tile}_{i}\t{}\t{}\t7\tS2",
                    UnixTime(t.0 - t.0.rem_euclid(86_400)).sql(),
                    t.plus(-7 * 86_400).sql()
                )
                .unwrap();
            }
        }
    }

    fn copies(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut v = vec![(
            "parent_jobs",
            "id, name, priority, nomad_id, tile_id, next_log_level, print_to_orch, error_raised",
            self.parents_copy.clone(),
        )];
        v.extend(self.children.iter().cloned());
        v.push((
            "job_status_changes",
            "fk_parent_job_id, time, error_subtype, error_message, job_status",
            self.statuses_copy.clone(),
        ));
        v
    }
}

const FSC_COLUMNS: &str = "fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path, measurement_date, l1c_sensing_time, l1c_esa_publication_date, l1c_dias_publication_date, l1c_esa_creation_date, maja_mode, l2a_status, fsc_path";
const RLIES1_COLUMNS: &str = "fk_parent_job_id, s1grd_id, measurement_date_start, measurement_date_end, s1grd_dias_publication_date, reprocessing_context";
const RLIES1S2_COLUMNS: &str =
    "fk_parent_job_id, process_date, tile_id_dup, measurement_date_rlies1s2";
const SWS_COLUMNS: &str = "fk_parent_job_id, nrt, measurement_date, s1_id_list, fsc_id_list, s1_dias_publication_latest_date, fsc_publication_latest_date, assembly_id, assembly_status";
const GFSC_COLUMNS: &str = "fk_parent_job_id, nrt, triggering_product_id, triggering_product_publication_date, gfsc_id, product_date, sensing_start_date, aggregation_timespan, missions";

const SERVICES: [&str; 6] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "monitor",
    "manage-worker-pool",
];

fn ty_name(ty: JobType) -> &'static str {
    match ty {
        JobType::FscRlie => "fsc_rlie_job",
        JobType::RlieS1 => "rlies1_job",
        JobType::RlieS1S2 => "rlies1s2_job",
        JobType::SwsWds => "sws_wds_job",
        JobType::Gfsc => "gfsc_job",
    }
}

/// A plausible MGRS tile id such as `32TLR`.
fn tile_id(k: u32) -> String {
    let zone = 29 + k % 10;
    let band = [b'S', b'T', b'U', b'V'][(k / 10 % 4) as usize] as char;
    let col = (b'K' + (k / 40 % 10) as u8) as char;
    let row = (b'N' + (k / 400 % 10) as u8) as char;
    format!("{zone}{band}{col}{row}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_path_is_allowed_by_the_status_table() {
        for k in 0..20 {
            let p = path_for(k);
            assert_eq!(check_path(&p), Ok(()), "{k}: {p:?}");
        }
    }

    #[test]
    fn generation_is_deterministic_and_follows_the_mix() {
        let spec = DatasetSpec::default();
        let a = Rows::build(&spec);
        let b = Rows::build(&spec);
        assert_eq!(a.parents_copy, b.parents_copy);
        assert_eq!(a.statuses_copy, b.statuses_copy);
        // 1000 jobs split 500:100:115:225:1000 (rounded down), plus the 6 services.
        let expected: u64 = MIX
            .iter()
            .map(|(_, w)| u64::from(1000 * w / 1940))
            .sum::<u64>()
            + 6;
        assert_eq!(a.parents, expected);
    }
}
