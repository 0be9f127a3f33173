//! The integration test binary: the real router, in process, plus a few tests that run
//! the `accolade` binary itself.

mod abuse;
mod admin;
mod cli;
mod console;
mod fleet;
mod helpers;
mod issuance;
mod mail;
mod oid4vci;
mod oid4vp;
mod openapi;
mod operations;
mod outbound;
mod overviews;
mod pages;
mod partner;
mod people;
mod robustness;
mod snapshots;
mod staff;
mod status;
mod store_upgrade;
mod transfer;
mod trust;
mod vcapi;
mod vectors;
mod verify_batch;
mod verify_pipeline;
mod verify_security;
