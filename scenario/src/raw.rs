//! What serde sees: the file's shape, strict (`deny_unknown_fields` everywhere), with the
//! position of every value the validation may complain about. Nothing here checks meaning.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// The top level of a scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub about: Option<Spanned<String>>,
    pub seed: Option<Spanned<u64>>,
    pub start: Option<Spanned<String>>,
    pub days: Option<Spanned<u32>>,
    pub calibration: Option<Spanned<RawCalibration>>,
    pub system_parameters: Option<Spanned<Pairs<ParamValue>>>,
    pub fidelity: Option<Spanned<hrsi_sim::Fidelity>>,
    pub history: Option<Spanned<String>>,
    pub outages: Option<Spanned<Vec<Spanned<RawOutage>>>>,
    pub restart: Option<Spanned<String>>,
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

/// `calibration:` is `default`, a file name, or a mapping of calibration values.
#[derive(Debug)]
pub(crate) enum RawCalibration {
    Name(String),
    Inline(Box<hrsi_sim::Calibration>),
}

impl<'de> Deserialize<'de> for RawCalibration {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCalibration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`default`, a calibration file name, or a mapping of calibration values",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawCalibration::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let c =
                    hrsi_sim::Calibration::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawCalibration::Inline(Box::new(c)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping kept in file order, with the position of each key and value (duplicate keys are
/// refused by the YAML parser).
#[derive(Debug)]
pub(crate) struct Pairs<T>(pub Vec<(Spanned<String>, Spanned<T>)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Pairs<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Pairs<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = map.next_key()? {
                    v.push((k, map.next_value()?));
                }
                Ok(Pairs(v))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A parameter value as written: a scalar (kept as text, as SQL would coerce it), a list (only
/// `job_types_list`), or null.
#[derive(Debug)]
pub(crate) enum ParamValue {
    Null,
    Scalar(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value (number, true/false, text, null) or a list of job types")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(ParamValue::Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ParamValue::Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ParamValue::Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ParamValue::Scalar(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ParamValue::Scalar(v.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ParamValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ParamValue::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element()? {
                    v.push(x);
                }
                Ok(ParamValue::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `all` or a list of job types (`run_until: {caught_up: …}`).
#[derive(Debug)]
pub(crate) enum RawTypes {
    Word(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawTypes {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTypes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`all` or a list of job types")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawTypes::Word(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element()? {
                    v.push(x);
                }
                Ok(RawTypes::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// One outage of the `outages:` shorthand: `{start_day, days}` or `{start, end}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutage {
    pub start_day: Option<Spanned<f64>>,
    pub days: Option<Spanned<f64>>,
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

/// One step: one key naming the kind, plus an optional `expect:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub stop: Option<Spanned<Confirm>>,
    pub start: Option<Spanned<Confirm>>,
    pub advance: Option<Spanned<String>>,
    pub set_param: Option<Spanned<Pairs<ParamValue>>>,
    pub run_until: Option<Spanned<RawRunUntil>>,
    pub sql: Option<Spanned<RawSql>>,
    pub psql_file: Option<Spanned<RawPsqlFile>>,
    pub backup: Option<Spanned<RawBackup>>,
    pub borg_extract: Option<Spanned<RawBorgExtract>>,
    pub pg_dumpall: Option<Spanned<RawPgDumpall>>,
    pub borg_list: Option<Spanned<RawBackup>>,
    pub restore: Option<Spanned<RawRestore>>,
    pub plan: Option<Spanned<RawTfPlan>>,
    pub fresh_volume: Option<Spanned<Confirm>>,
    pub postgres_restart: Option<Spanned<RawBackup>>,
    pub nomad_edit: Option<Spanned<RawNomadEdit>>,
    pub nomad_job_file: Option<Spanned<RawNomadEdit>>,
    pub nomad_run: Option<Spanned<RawNomadJob>>,
    pub nomad_stop: Option<Spanned<RawNomadJob>>,
    pub nomad_wait_gone: Option<Spanned<RawNomadWait>>,
    pub fault: Option<Spanned<RawFault>>,
    pub patch_jobs: Option<Spanned<RawPatchJobs>>,
    pub patch_test: Option<Spanned<RawPatchTest>>,
    pub expect: Option<Spanned<RawExpect>>,
}

/// `hrsi jobs patch --type T --status S,… --ids I,… --post A,B`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPatchJobs {
    #[serde(rename = "type")]
    pub job_type: Spanned<String>,
    pub status: Option<Vec<Spanned<String>>>,
    pub ids: Option<Spanned<Vec<i64>>>,
    pub post: Spanned<Vec<Spanned<String>>>,
}

/// `hrsi patch-test PATCH [--backup FILE]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPatchTest {
    pub patch: Spanned<String>,
    pub backup: Option<Spanned<String>>,
}

/// `sql:` is a statement (run as at the `psql` prompt) or `{query, on_error_stop}`.
#[derive(Debug)]
pub(crate) enum RawSql {
    Text(String),
    Full(RawSqlFull),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSqlFull {
    pub query: Spanned<String>,
    pub on_error_stop: Option<bool>,
}

impl<'de> Deserialize<'de> for RawSql {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSql;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an SQL statement, or `{ query: …, on_error_stop: yes }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawSql::Text(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawSqlFull::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawSql::Full)
            }
        }
        d.deserialize_any(V)
    }
}

/// `pg_dumpall [-s] > FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPgDumpall {
    pub to: Spanned<String>,
    pub schema_only: Option<bool>,
}

/// The runbook's reset: `DROP SCHEMA cosims CASCADE` (unless `drop_schema: no`), then `psql -f`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestore {
    pub file: Spanned<String>,
    pub drop_schema: Option<bool>,
    pub killed_at: Option<Spanned<String>>,
}

/// `terraform plan` as the scripts would print it (nothing is changed).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTfPlan {
    pub mode: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub configuration: Option<Spanned<String>>,
}

/// A change to one Nomad service: its image (tag or full reference) or its CPU.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNomadEdit {
    pub job: Spanned<String>,
    pub image: Option<Spanned<String>>,
    pub cpu: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNomadJob {
    pub job: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNomadWait {
    pub job: Spanned<String>,
    pub within: Spanned<String>,
}

/// A fault the stand-ins or the database offer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub postgres_killed: Option<bool>,
    pub nomad_5xx: Option<Spanned<RawNomad5xx>>,
    pub nomad_lost_node: Option<Spanned<String>>,
    pub openstack_quota: Option<Spanned<u64>>,
    pub openstack_token_expired: Option<bool>,
}

/// `nomad_5xx: 3` (the next requests) or `nomad_5xx: { for: 30m }` (virtual time).
#[derive(Debug)]
pub(crate) enum RawNomad5xx {
    Count(i64),
    For(RawNomad5xxFor),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNomad5xxFor {
    #[serde(rename = "for")]
    pub length: Spanned<String>,
}

impl<'de> Deserialize<'de> for RawNomad5xx {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNomad5xx;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of requests, or `{ for: 30m }`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawNomad5xx::Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawNomad5xx::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawNomad5xxFor::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawNomad5xx::For)
            }
        }
        d.deserialize_any(V)
    }
}

/// `{ confirm: yes }`: the deployment scripts ask before acting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirm {
    pub confirm: Spanned<bool>,
    pub target: Option<Spanned<String>>,
    pub answers: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRunUntil {
    pub caught_up: Spanned<RawTypes>,
    pub within: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPsqlFile {
    pub file: Spanned<String>,
    pub on_error_stop: Option<bool>,
    pub single_transaction: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackup {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBorgExtract {
    pub archive: Spanned<String>,
    pub to: Spanned<String>,
}

/// Observations checked after a step (by the harness; the simulator skips them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub plan: Option<Spanned<RawPlan>>,
    pub nomad_running: Option<Vec<Spanned<String>>>,
    pub lost: Option<Pairs<RawCount>>,
    pub lost_reasons: Option<Pairs<Pairs<RawCount>>>,
    pub lost_vs_baseline: Option<Pairs<RawCount>>,
    pub catch_up_hours: Option<Pairs<RawHours>>,
    pub recovery_hours: Option<Pairs<RawHours>>,
    pub sql: Option<Vec<Spanned<RawSqlCheck>>>,
    pub refused: Option<Spanned<String>>,
    pub services_failing: Option<Spanned<RawTypes>>,
    pub errors_only: Option<Vec<Spanned<String>>>,
    pub exit_code: Option<Spanned<i32>>,
    pub errors: Option<Vec<Spanned<String>>>,
    pub no_errors: Option<bool>,
    pub output: Option<Vec<Spanned<String>>>,
    pub no_output: Option<Vec<Spanned<String>>>,
    pub nomad_jobs: Option<Pairs<String>>,
    pub nomad_spec: Option<Pairs<RawNomadSpec>>,
    pub openstack_servers: Option<Spanned<RawServers>>,
    pub caught_up: Option<Spanned<RawTypes>>,
    pub backlog: Option<Pairs<RawCount>>,
    pub workers: Option<Spanned<RawCount>>,
    pub database_running: Option<bool>,
    pub verdict: Option<Spanned<String>>,
    pub findings: Option<Vec<Spanned<String>>>,
}

/// What a Nomad service's definition must say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNomadSpec {
    pub image: Option<String>,
    pub cpu: Option<u64>,
    pub running: Option<bool>,
}

/// The project's servers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServers {
    pub count: Option<Spanned<RawCount>>,
    pub include: Option<Vec<Spanned<String>>>,
    pub exclude: Option<Vec<Spanned<String>>>,
}

/// Terraform's plan summary counts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlan {
    pub add: Option<u32>,
    pub change: Option<u32>,
    pub destroy: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSqlCheck {
    pub query: Spanned<String>,
    pub equals: Option<Spanned<ParamValue>>,
    pub equals_backup: Option<bool>,
}

/// A count: `0` or a comparison such as `"> 0"`.
#[derive(Debug)]
pub(crate) enum RawCount {
    Exact(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawCount {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count (`0`) or a comparison (`\"> 0\"`, `\"<= 5\"`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawCount::Exact(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(RawCount::Exact)
                    .map_err(|_| E::custom("a count cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawCount::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A bound on hours: `30` (at most 30 h) or a comparison such as `"<= 48h"`, `"> 2.5"`.
#[derive(Debug)]
pub(crate) enum RawHours {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawHours {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHours;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("hours (`30`: at most 30 h) or a comparison (`\"<= 48h\"`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawHours::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawHours::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawHours::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawHours::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}
