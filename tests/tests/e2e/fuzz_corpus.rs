//! The committed fuzz corpora replay through the fuzz targets' bodies, so the normal test run
//! (and so CI) keeps every input the fuzzer found: each must end in `Ok` or an error, never a
//! panic or a broken check.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use agent_identity_tests::fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of one target's corpus, sorted so a failure names the same file every run.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_target_has_a_cargo_fuzz_file_and_a_committed_corpus() {
    let mut files: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets exists")
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(".rs").map(str::to_owned))
        .collect();
    files.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    names.sort();
    assert_eq!(
        files, names,
        "fuzz/fuzz_targets and TARGETS list the same targets"
    );
    for (name, _) in TARGETS {
        assert!(!corpus(name).is_empty(), "the {name} corpus is empty");
    }
}

#[test]
fn fuzz_corpora_replay_without_a_panic() {
    // The panic hook is left alone (it is shared with the tests running beside this one): a
    // failing input's panic prints as it happens, and all failures are listed once at the end.
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, body) in TARGETS {
        for file in corpus(name) {
            let data = match std::fs::read(&file) {
                Ok(data) => data,
                // A fuzzer running on this corpus replaces files as it shrinks them.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => panic!("reading {}: {error}", file.display()),
            };
            replayed += 1;
            if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| body(&data))) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {}: {message}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
    assert!(replayed >= TARGETS.len(), "every corpus replayed");
}
