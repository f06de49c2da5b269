//! Shared inputs for the criterion benchmarks in `benches/benches/`; figures are recorded in
//! `benches/README.md`.
//!
//! Every benchmark times a case with a published answer (the CTSA01 credit token, the DKGA02
//! and DKGA04 decoder keys), and this crate's unit tests check that the inputs still give those
//! answers, so a figure never measures a path that fails.
#![forbid(unsafe_code)]

pub mod fixtures;
