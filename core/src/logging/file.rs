//! The file sink of the logging module: `<logDir>/dameng_exporter.log`, rotated by size with
//! a count and an age limit (see the parent module for the policy).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendCount, SuffixScheme};
use file_rotate::{ContentLimit, FileRotate, SuffixInfo};
use tracing_subscriber::fmt::MakeWriter;

use super::{LoggingError, RotationPolicy, LOG_FILE_NAME};

/// The file sink: `dir/dameng_exporter.log`, rotated by size with a count and an age limit.
///
/// Cheap to clone (shared handle). Each write takes a lock; the fmt layer writes one whole
/// event per call, so events are never interleaved or split.
#[derive(Debug, Clone)]
pub struct RotatingFileWriter {
    path: Arc<Path>,
    inner: Arc<Mutex<RotatingInner>>,
}

#[derive(Debug)]
struct RotatingInner {
    policy: RotationPolicy,
    /// `None` after the rotation library panicked; rebuilt on the next write.
    rotate: Option<FileRotate<CountAndAge>>,
}

impl RotatingFileWriter {
    /// Creates `dir` if needed, checks that the log file can be appended to, deletes rotated
    /// files beyond the policy, and opens the file.
    pub fn open(dir: &Path, policy: RotationPolicy) -> Result<Self, LoggingError> {
        if policy.max_bytes == 0 {
            return Err(LoggingError::ZeroSizeLimit);
        }
        fs::create_dir_all(dir)
            .map_err(|source| LoggingError::CreateDir { dir: dir.to_path_buf(), source })?;
        // file-rotate resolves relative paths with unwrap() at every rotation.
        let dir = std::path::absolute(dir)
            .map_err(|source| LoggingError::CreateDir { dir: dir.to_path_buf(), source })?;
        let path = dir.join(LOG_FILE_NAME);
        // file-rotate silently drops writes when it cannot open the file: check first.
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| LoggingError::OpenFile { path: path.clone(), source })?;
        prune_rotated(&path, &policy)
            .map_err(|source| LoggingError::ReadDir { dir: dir.clone(), source })?;
        let rotate = new_file_rotate(&path, &policy);
        Ok(RotatingFileWriter {
            path: Arc::from(path),
            inner: Arc::new(Mutex::new(RotatingInner { policy, rotate: Some(rotate) })),
        })
    }

    /// Path of the current log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for &RotatingFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let RotatingInner { policy, rotate } = &mut *inner;
        // file-rotate asserts on unexpected file-system states (e.g. a rotated file deleted
        // by hand). A log write must never take the process down: drop the state, rescan the
        // directory on the next write.
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            rotate.get_or_insert_with(|| new_file_rotate(&self.path, policy)).write(buf)
        }));
        match result {
            Ok(written) => written,
            Err(_) => {
                *rotate = None;
                Err(io::Error::other("log file rotation failed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.rotate.as_mut() {
            Some(rotate) => rotate.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RotatingFileWriter {
    type Writer = &'a RotatingFileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

fn new_file_rotate(path: &Path, policy: &RotationPolicy) -> FileRotate<CountAndAge> {
    FileRotate::new(
        path,
        CountAndAge {
            count: AppendCount::new(policy.max_backups),
            basepath: path.to_path_buf(),
            max_age: policy.max_age,
        },
        // Rotate before an event once the file has passed the limit, so that no event is cut
        // in two (ContentLimit::Bytes cuts at the exact byte).
        ContentLimit::BytesSurpassed(usize::try_from(policy.max_bytes).unwrap_or(usize::MAX)),
        Compression::None,
        None,
    )
}

/// `AppendCount` (`.1` newest … `.N` oldest) that also considers files too old by mtime.
struct CountAndAge {
    count: AppendCount,
    basepath: PathBuf,
    max_age: Option<Duration>,
}

impl std::fmt::Debug for CountAndAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountAndAge")
            .field("basepath", &self.basepath)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl SuffixScheme for CountAndAge {
    type Repr = usize;

    fn rotate_file(
        &mut self,
        basepath: &Path,
        newest_suffix: Option<&usize>,
        suffix: &Option<usize>,
    ) -> io::Result<usize> {
        self.count.rotate_file(basepath, newest_suffix, suffix)
    }

    fn parse(&self, suffix: &str) -> Option<usize> {
        self.count.parse(suffix)
    }

    fn too_old(&self, suffix: &usize, file_number: usize) -> bool {
        self.count.too_old(suffix, file_number)
            || is_older_than(&rotated_path(&self.basepath, *suffix), self.max_age)
    }
}

fn rotated_path(basepath: &Path, number: usize) -> PathBuf {
    SuffixInfo { suffix: number, compressed: false }.to_path(basepath)
}

fn is_older_than(path: &Path, max_age: Option<Duration>) -> bool {
    let Some(max_age) = max_age else {
        return false;
    };
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > max_age)
}

/// Startup pruning: deletes `<path>.<N>` files with N above `max_backups` or older than
/// `max_age`. Files that cannot be deleted are left alone.
fn prune_rotated(path: &Path, policy: &RotationPolicy) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let Some(number) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let rotated = entry.path();
        if number > policy.max_backups || is_older_than(&rotated, policy.max_age) {
            let _ = fs::remove_file(&rotated);
        }
    }
    Ok(())
}
