//! The five job types, their names in `job_types_list`, flavours and Nomad job names.

use serde::{Deserialize, Serialize};

/// A job type of the NRT production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// FSC/RLIE: one job per Sentinel-2 L1C; per-tile time series.
    FscRlieJob = 0,
    /// RLIE-S1: one job per Sentinel-1 GRD.
    Rlies1Job = 1,
    /// RLIE-S1-S2: one job per tile and day with published RLIE and RLIE-S1.
    Rlies1s2Job = 2,
    /// SWS/WDS: one job per tile and S1 datatake.
    SwsWdsJob = 3,
    /// GFSC: triggered by FSC, WDS and SWS; nightly daily jobs.
    GfscJob = 4,
}

/// The five types in the default `job_types_list` order.
pub const ALL_TYPES: [JobType; 5] = [
    JobType::FscRlieJob,
    JobType::Rlies1Job,
    JobType::Rlies1s2Job,
    JobType::SwsWdsJob,
    JobType::GfscJob,
];

/// A worker VM flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Flavor {
    /// `eo2.medium`, 1 vCPU (GFSC).
    Eo2Medium = 0,
    /// `hm.medium`, 2 vCPU (FSC/RLIE, RLIE-S1-S2).
    HmMedium = 1,
    /// `hm.large`, 4 vCPU (RLIE-S1).
    HmLarge = 2,
    /// `hm.xlarge`, 8 vCPU (SWS/WDS).
    HmXlarge = 3,
}

/// Number of flavours.
pub const N_FLAVORS: usize = 4;

impl Flavor {
    /// OpenStack flavour name.
    pub fn name(self) -> &'static str {
        ["eo2.medium", "hm.medium", "hm.large", "hm.xlarge"][self as usize]
    }
    /// vCPUs of the flavour.
    pub fn vcpus(self) -> u32 {
        [1, 2, 4, 8][self as usize]
    }
}

impl JobType {
    /// The name used in `job_types_list` and in reports.
    pub fn name(self) -> &'static str {
        [
            "fsc_rlie_job",
            "rlies1_job",
            "rlies1s2_job",
            "sws_wds_job",
            "gfsc_job",
        ][self as usize]
    }

    /// The type with this `job_types_list` name.
    pub fn from_name(s: &str) -> Option<JobType> {
        ALL_TYPES.iter().copied().find(|t| t.name() == s)
    }

    /// The worker flavour of the type.
    pub fn flavor(self) -> Flavor {
        match self {
            JobType::FscRlieJob | JobType::Rlies1s2Job => Flavor::HmMedium,
            JobType::Rlies1Job => Flavor::HmLarge,
            JobType::SwsWdsJob => Flavor::HmXlarge,
            JobType::GfscJob => Flavor::Eo2Medium,
        }
    }

    /// The parameterized Nomad batch job the type dispatches to.
    pub fn nomad_job(self) -> &'static str {
        [
            "si-processing",
            "rlies1-processing",
            "rlies1s2-processing",
            "ws-processing",
            "gfsc-processing",
        ][self as usize]
    }

    /// Index in per-type arrays.
    pub fn idx(self) -> usize {
        self as usize
    }
}
