//! # hrsi-sim
//!
//! A pure, deterministic discrete-event model of the HR-S&I snow & ice production: inputs,
//! the five job types, the services' loops, the Nomad queue, the worker pool and the monitor,
//! with outages and restarts. No I/O, no clock reads, no global state.
#![warn(missing_docs)]

pub mod status;
