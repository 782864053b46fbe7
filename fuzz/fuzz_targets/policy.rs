//! Any bytes as a policy file: see `capsize_harness::fuzz_check` for what is checked.
#![no_main]

use std::sync::OnceLock;

use capsize_harness::fuzz_check::{Kind, Workdir, check};
use libfuzzer_sys::fuzz_target;

static WORK: OnceLock<Workdir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let work = WORK.get_or_init(|| {
        Workdir::new(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")).expect("a work directory")
    });
    if let Err(broken) = check(Kind::Policy, data, work) {
        panic!("{broken}");
    }
});
