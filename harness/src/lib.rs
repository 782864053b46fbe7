//! # capsize-harness: files in, runs out
//!
//! Loads scenario and policy files (all YAML in [`yaml`]), applies policies to scenarios
//! ([`patch`], [`policy`]), runs them ([`runner`]) and drives the `capsize` command ([`cli`]).
//! The simulator itself is `capsize-sim`; presentation is `capsize-reports`.

pub mod cli;
pub mod expect;
pub mod external;
pub mod fuzz_check;
pub mod init;
pub mod load;
pub mod patch;
pub mod policy;
pub mod process_group;
#[cfg(feature = "real-cluster")]
pub mod real;
pub mod runner;
pub mod schema;
pub mod search;
pub mod suite;
pub mod sweep;
pub mod yaml;
