pub mod cli;
pub mod plan;
