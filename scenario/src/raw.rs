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
    pub sql: Option<Spanned<String>>,
    pub psql_file: Option<Spanned<RawPsqlFile>>,
    pub backup: Option<Spanned<RawBackup>>,
    pub borg_extract: Option<Spanned<RawBorgExtract>>,
    pub expect: Option<Spanned<RawExpect>>,
}

/// `{ confirm: yes }`: the deployment scripts ask before acting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirm {
    pub confirm: Spanned<bool>,
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
