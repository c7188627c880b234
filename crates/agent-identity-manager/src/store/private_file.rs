//! A private JSON file in a home directory, shared by the credentials store and the runtime cache:
//! read without a lock and without following symlinks, written atomically with mode 0600 under
//! a cross-process lock that writers wait for a bounded time.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::safety;
use super::{DEFAULT_LOCK_TIMEOUT, Insecurity, StoreError};

/// 1 MiB: an `auth.json` (or the runtime cache) is a few KiB; a larger file is not ours and is
/// not read whole.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// 25 ms: the longest pause between two attempts to take the lock (the first pause is 1 ms, then
/// each doubles), so a released lock is taken soon without spinning.
const MAX_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The lock file's length while a writer holds the lock (see [`PrivateJsonFile::lock`]).
const WRITE_IN_PROGRESS: u64 = 1;

/// The exclusive write lock; dropping it unmarks the lock file, then releases the lock.
#[derive(Debug)]
pub(super) struct WriteLock {
    file: File,
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        // Only a write that ends unmarks: a writer that dies leaves the mark for the next read.
        if let Err(error) = self.file.set_len(0) {
            tracing::debug!(error = %error, "could not unmark the lock file");
        }
    }
}

/// One JSON document `name` in `dir`, with its lock file `name.lock` and temporary files
/// `.name.<pid>-<counter>-<nanos>.tmp`.
#[derive(Debug, Clone)]
pub(super) struct PrivateJsonFile {
    dir: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
    name: &'static str,
    lock_timeout: Duration,
}

impl PrivateJsonFile {
    pub(super) fn new(dir: PathBuf, name: &'static str) -> Self {
        Self {
            path: dir.join(name),
            lock_path: dir.join(format!("{name}.lock")),
            dir,
            name,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    pub(super) fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub(super) fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    #[cfg(test)]
    pub(super) fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    pub(super) fn io(
        &self,
        operation: &'static str,
        path: &Path,
    ) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.to_owned();
        move |source| StoreError::Io {
            path,
            operation,
            source: Arc::new(source),
        }
    }

    pub(super) fn insecure(&self, path: &Path, problem: Insecurity) -> StoreError {
        StoreError::Insecure {
            path: path.to_owned(),
            problem,
        }
    }

    /// The error for a failed open of `path`: a refused symlink, or the I/O error.
    pub(super) fn open_error(
        &self,
        operation: &'static str,
        path: &Path,
        error: io::Error,
    ) -> StoreError {
        if safety::is_symlink(path) {
            self.insecure(path, Insecurity::Symlink)
        } else {
            self.io(operation, path)(error)
        }
    }

    /// Checks the home for a read; `false` when it does not exist (a read creates nothing).
    pub(super) fn home_for_reading(&self) -> Result<bool, StoreError> {
        match fs::metadata(&self.dir) {
            Ok(metadata) => self.check_home(&metadata).map(|()| true),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(self.io("opening the directory", &self.dir)(error)),
        }
    }

    /// Creates the home (mode 0700) if it does not exist, and checks it, for a write.
    pub(super) fn prepare_home(&self) -> Result<(), StoreError> {
        let metadata = match fs::metadata(&self.dir) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_private_dir(&self.dir)
                    .map_err(self.io("creating the directory", &self.dir))?;
                fs::metadata(&self.dir).map_err(self.io("opening the directory", &self.dir))?
            }
            Err(error) => return Err(self.io("opening the directory", &self.dir)(error)),
        };
        self.check_home(&metadata)
    }

    /// The home (followed if it is a symlink) must be a directory that we, or root, own and
    /// that nobody else may write.
    pub(super) fn check_home(&self, metadata: &fs::Metadata) -> Result<(), StoreError> {
        if !metadata.is_dir() {
            return Err(self.io("opening the directory", &self.dir)(
                safety::not_a_directory(),
            ));
        }
        match safety::trust_problem_of(metadata) {
            Some(problem) => Err(self.insecure(&self.dir, problem)),
            None => Ok(()),
        }
    }

    /// Opens the lock file, creating it if needed, and checks that it is a regular file.
    pub(super) fn open_lock_file(&self) -> Result<File, StoreError> {
        let file = safety::open_lock_file(&self.lock_path, true)
            .map_err(|error| self.open_error("opening the lock file", &self.lock_path, error))?;
        let metadata = file
            .metadata()
            .map_err(self.io("opening the lock file", &self.lock_path))?;
        if !metadata.is_file() {
            return Err(self.insecure(&self.lock_path, Insecurity::NotRegularFile));
        }
        Ok(file)
    }

    /// Takes the exclusive advisory lock for a write, creating the directory and lock file if
    /// needed, and waiting at most `lock_timeout` for another process to release it.
    ///
    /// The lock is polled rather than waited on: a blocking `flock` cannot be given up on.
    ///
    /// The lock file also says whether a write may have been cut short: the writer makes it one
    /// byte long once it holds the lock and empties it when it lets go ([`WriteLock`]), so a
    /// writer that died in between leaves it marked, and a read need not list the directory for
    /// temporary files unless it is ([`PrivateJsonFile::remove_orphans_if_no_writer`]).
    pub(super) fn lock(&self) -> Result<WriteLock, StoreError> {
        self.prepare_home()?;
        let file = self.open_lock_file()?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    // Best effort: an unmarked write that dies costs a temporary file until the
                    // next write, which sweeps whatever it finds.
                    if let Err(error) = file.set_len(WRITE_IN_PROGRESS) {
                        tracing::debug!(error = %error, "could not mark the lock file");
                    }
                    return Ok(WriteLock { file });
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(error)) => {
                    return Err(self.io("locking", &self.lock_path)(error));
                }
            }
            let waited = started.elapsed();
            if waited >= self.lock_timeout {
                return Err(StoreError::Locked {
                    path: self.lock_path.clone(),
                    waited,
                });
            }
            std::thread::sleep(pause.min(self.lock_timeout - waited));
            pause = (pause * 2).min(MAX_LOCK_POLL_INTERVAL);
        }
    }

    /// Reads and parses the document; `None` when the file does not exist.
    ///
    /// As [`PrivateJsonFile::read_bytes`], then the bytes must be a JSON object.
    pub(super) fn read_document(
        &self,
        strict: bool,
    ) -> Result<Option<Map<String, Value>>, StoreError> {
        let Some(bytes) = self.read_bytes(strict)? else {
            return Ok(None);
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(self.corrupt("not a JSON object")),
            Err(_) => Err(self.corrupt("not valid JSON (torn or truncated?)")),
        }
    }

    /// Reads the file's bytes (at most 1 MiB); `None` when the file does not exist.
    ///
    /// Never through a symlink, and only a regular file. `strict` (a read of the token) also
    /// refuses a file owned by another user or writable by group or others: someone else could
    /// have planted that token. A write need not refuse those: it replaces the file with a
    /// private one of ours.
    pub(super) fn read_bytes(&self, strict: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let file = match safety::open_for_reading(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.open_error("reading", &self.path, error)),
        };
        let metadata = file.metadata().map_err(self.io("reading", &self.path))?;
        if metadata.is_dir() {
            // Linux opens a directory for reading; say what a read of it would.
            return Err(self.io("reading", &self.path)(safety::is_a_directory()));
        }
        if !metadata.is_file() {
            return Err(self.insecure(&self.path, Insecurity::NotRegularFile));
        }
        if strict {
            if let Some(problem) = safety::trust_problem_of(&metadata) {
                return Err(self.insecure(&self.path, problem));
            }
            if safety::readable_by_others(&metadata) {
                tracing::warn!(
                    path = %self.path.display(),
                    "the credentials file is readable by group or others; the next login rewrites it with mode 0600"
                );
            }
        }
        // Sized from the metadata, so a file of a few KiB is read in one call.
        let expected = usize::try_from(metadata.len().min(MAX_FILE_BYTES)).unwrap_or(0);
        let mut bytes = Vec::with_capacity(expected + 1);
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(self.io("reading", &self.path))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(self.corrupt("larger than 1 MiB"));
        }
        Ok(Some(bytes))
    }

    pub(super) fn corrupt(&self, reason: &'static str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// A fresh temporary file's path, next to the document so that the rename is atomic.
    pub(super) fn temp_path(&self) -> PathBuf {
        self.dir
            .join(format!(".{}.{}.tmp", self.name, unique_suffix()))
    }

    /// Temporary files of ours in the home: regular files (not symlinks) of the current user
    /// whose names match [`PrivateJsonFile::temp_path`]'s pattern.
    pub(super) fn temp_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| is_temp_file_name(self.name, &entry.file_name().to_string_lossy()))
            // `DirEntry::metadata` does not follow symlinks.
            .filter(|entry| {
                entry
                    .metadata()
                    .is_ok_and(|metadata| metadata.is_file() && safety::owned_by_us(&metadata))
            })
            .map(|entry| entry.path())
            .collect()
    }

    /// Deletes temporary files left by writers that died mid-write (they hold a copy of the secret).
    ///
    /// Called under the lock, exclusive or shared: every writer holds the exclusive lock from
    /// creating its temporary file to renaming it, so any temporary file seen now belongs to a
    /// writer that is gone.
    pub(super) fn remove_orphaned_temp_files(&self) {
        for path in self.temp_files() {
            if let Err(error) = fs::remove_file(&path) {
                tracing::debug!(error = %error, "could not remove an orphaned temporary file");
            }
        }
    }

    /// After a read: removes dead writers' temporary files, if the lock file is marked (a write
    /// began and did not end, see [`PrivateJsonFile::lock`]), there are any, and no writer is at
    /// work. Never waits (the shared lock is only tried) and never creates a file. An unmarked
    /// lock file costs one `lstat`, not a listing of the directory.
    pub(super) fn remove_orphans_if_no_writer(&self) {
        let marked = fs::symlink_metadata(&self.lock_path)
            .is_ok_and(|metadata| metadata.is_file() && metadata.len() > 0);
        if !marked || self.temp_files().is_empty() {
            return;
        }
        let Ok(lock) = safety::open_lock_file(&self.lock_path, false) else {
            return;
        };
        if lock.metadata().is_ok_and(|metadata| metadata.is_file())
            && lock.try_lock_shared().is_ok()
        {
            self.remove_orphaned_temp_files();
        }
    }

    /// Deletes the document (absent already is fine) and makes the deletion durable.
    pub(super) fn delete_file(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(&self.dir).map_err(self.io("syncing the directory", &self.dir)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(self.io("deleting", &self.path)(error)),
        }
    }

    /// Writes `document` atomically with mode 0600.
    pub(super) fn write_document(&self, document: &Map<String, Value>) -> Result<(), StoreError> {
        let mut bytes =
            serde_json::to_vec_pretty(document).map_err(|_| self.corrupt("unserializable"))?;
        bytes.push(b'\n');
        let temp_path = self.temp_path();
        // Never through a symlink, and never over anything already there.
        let temp = safety::create_private(&temp_path)
            .map_err(|error| self.open_error("creating a temporary file", &temp_path, error))?;
        let result = (|| {
            let mut temp = temp;
            set_private(&temp).map_err(self.io("setting permissions", &temp_path))?;
            temp.write_all(&bytes)
                .map_err(self.io("writing", &temp_path))?;
            temp.sync_all().map_err(self.io("syncing", &temp_path))?;
            drop(temp);
            fs::rename(&temp_path, &self.path)
                .map_err(self.io("renaming into place", &self.path))?;
            sync_dir(&self.dir).map_err(self.io("syncing the directory", &self.dir))
        })();
        if result.is_err() {
            // The old file is untouched; do not leave our temporary file behind either (after a
            // failed rename it is still there; after a failed directory sync it is gone).
            let _ = fs::remove_file(&temp_path);
        }
        result
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `name` is a temporary file of the document `document`:
/// `.<document>.<pid>-<counter>-<nanos>.tmp`.
pub(super) fn is_temp_file_name(document: &str, name: &str) -> bool {
    let Some(middle) = name
        .strip_prefix(&format!(".{document}."))
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let parts: Vec<&str> = middle.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
}

/// Sets mode 0600 explicitly: `open`'s mode is filtered by the umask and applies only on creation.
#[cfg(unix)]
fn set_private(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Makes a rename durable: on Unix the directory entry is only on disk once the directory is synced.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
