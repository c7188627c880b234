//! Unit tests of the StrictModes-like trust rule and the permanent-error classification.

use super::*;

const ME: u32 = 1000;
const SOMEONE: u32 = 1001;
const ROOT: u32 = 0;

#[test]
fn only_our_own_or_roots_files_that_nobody_else_may_write_are_trusted() {
    // (owner, mode, euid, directory, expected problem)
    let cases = [
        (ME, 0o600, ME, false, None),
        (ME, 0o644, ME, false, None),
        (ME, 0o400, ME, false, None),
        (ME, 0o700, ME, true, None),
        (ME, 0o755, ME, true, None),
        // Root's files are trusted, as sshd trusts them: a secret mounted by the system.
        (ROOT, 0o644, ME, false, None),
        (ROOT, 0o755, ME, true, None),
        (ROOT, 0o600, ROOT, false, None),
        (
            SOMEONE,
            0o600,
            ME,
            false,
            Some(Insecurity::OwnedByAnotherUser {
                owner: SOMEONE,
                user: ME,
                directory: false,
            }),
        ),
        // Root trusts no one else's files: as root, a user's file could point anywhere.
        (
            ME,
            0o700,
            ROOT,
            true,
            Some(Insecurity::OwnedByAnotherUser {
                owner: ME,
                user: ROOT,
                directory: true,
            }),
        ),
        // Ownership is judged first: another user's 0777 home names the owner.
        (
            SOMEONE,
            0o777,
            ME,
            true,
            Some(Insecurity::OwnedByAnotherUser {
                owner: SOMEONE,
                user: ME,
                directory: true,
            }),
        ),
        (
            ME,
            0o666,
            ME,
            false,
            Some(Insecurity::WritableByOthers {
                mode: 0o666,
                directory: false,
            }),
        ),
        (
            ME,
            0o620,
            ME,
            false,
            Some(Insecurity::WritableByOthers {
                mode: 0o620,
                directory: false,
            }),
        ),
        (
            ME,
            0o602,
            ME,
            false,
            Some(Insecurity::WritableByOthers {
                mode: 0o602,
                directory: false,
            }),
        ),
        (
            ROOT,
            0o1777,
            ME,
            true,
            Some(Insecurity::WritableByOthers {
                mode: 0o1777,
                directory: true,
            }),
        ),
        (
            ME,
            0o770,
            ME,
            true,
            Some(Insecurity::WritableByOthers {
                mode: 0o770,
                directory: true,
            }),
        ),
    ];
    for (owner, mode, euid, directory, expected) in cases {
        // The file type bits `st_mode` carries are ignored.
        let type_bits = if directory { 0o040_000 } else { 0o100_000 };
        assert_eq!(
            trust_problem(owner, type_bits | mode, euid, directory),
            expected,
            "owner {owner}, mode {mode:o}, euid {euid}"
        );
    }
}

#[test]
fn errors_about_the_path_itself_are_permanent() {
    use rustix::io::Errno;
    for (errno, permanent) in [
        (Errno::NOTDIR, true),
        (Errno::ISDIR, true),
        (Errno::ACCESS, true),
        (Errno::PERM, true),
        (Errno::NAMETOOLONG, true),
        (Errno::LOOP, true),
        (Errno::ROFS, true),
        (Errno::IO, false),
        (Errno::NOSPC, false),
        (Errno::MFILE, false),
        (Errno::INTR, false),
        (Errno::AGAIN, false),
    ] {
        let error = io::Error::from_raw_os_error(errno.raw_os_error());
        assert_eq!(is_permanent(&error), permanent, "{error}");
    }
    assert!(is_permanent(&is_a_directory()));
    assert!(is_permanent(&not_a_directory()));
    assert!(!is_permanent(&io::Error::other("disk")));
    assert!(!is_permanent(&io::Error::from(io::ErrorKind::Interrupted)));
}

#[test]
fn temporary_file_names_match_only_our_pattern() {
    for (name, ours) in [
        (".auth.json.123-0-456789.tmp", true),
        (".auth.json.1-22-333.tmp", true),
        (".auth.json.tmp", false),
        (".auth.json.123-0.tmp", false),
        (".auth.json.123-0-456-7.tmp", false),
        (".auth.json.abc-0-456.tmp", false),
        (".auth.json.123--456.tmp", false),
        (".auth.json.123-0-456.tmp.bak", false),
        ("auth.json.123-0-456.tmp", false),
        (".auth.json.lock", false),
        ("auth.json", false),
    ] {
        assert_eq!(
            super::super::private_file::is_temp_file_name(super::super::AUTH_FILE_NAME, name),
            ours,
            "{name}"
        );
    }
}
