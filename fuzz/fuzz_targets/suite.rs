//! Any bytes as a suite file: see `capsize_harness::fuzz_check` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    capsize_harness::fuzz_check::fuzz_one(capsize_harness::fuzz_check::Kind::Suite, &scenarios, data);
});
