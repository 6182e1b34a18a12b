//! The integration tests, as one test binary (`autotests = false` in Cargo.toml): the
//! workspace links it once instead of once per file. Each file of this directory is one
//! module; `cargo test -p hook-tests --test integration NAME::` runs one file's tests.

mod allow_once;
mod bypass;
mod claude_harness;
mod crash;
mod doctor;
mod durability;
mod env_action;
mod events;
mod faults;
mod first_run;
mod fleet_deploy;
mod fleet_otlp;
mod fleet_pg;
mod fleet_rotel;
mod hookctl;
mod hostile;
mod http;
mod http_token;
mod import;
mod last_good;
mod lifecycle;
mod load;
mod packaging;
mod real_client;
mod real_client_allow;
mod real_client_http;
mod real_client_plugin;
mod real_client_runs;
mod real_client_sessions;
mod real_client_skills;
mod reload;
mod runs;
mod security;
mod service;
mod session_bounds;
mod sessions;
mod settings;
mod store;
mod trust;
mod ui;
mod ui_browser;

/// A test file that is not declared above would silently never run.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs")
            && name != "main"
            && !main.contains(&format!("\nmod {name};\n"))
        {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/tests/{{{}}}.rs: add `mod NAME;` to tests/tests/main.rs",
        missing.join(",")
    );
}
