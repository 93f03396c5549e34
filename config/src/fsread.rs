//! Bounded reads of the files the exporter is given (issue #15, finding L5): the
//! configuration, custom-metrics, password (`dbPwdFile`) and web-config files must be regular
//! files of at most [`MAX_CONFIG_FILE_BYTES`]. `/dev/zero`, a FIFO, a directory or a huge file
//! is an error naming what the path is, never an out-of-memory or a read that blocks: the
//! file is opened non-blocking and checked with `fstat` on the open descriptor (no race with
//! a rename), and the read stops one byte past the cap.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::path::Path;

/// Largest configuration, custom-metrics, password or web-config file read (16 MiB).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` as UTF-8 text: a regular file (symlinks followed) of at most
/// [`MAX_CONFIG_FILE_BYTES`]. The error says what is wrong (not a regular file: which kind;
/// too large: the size and the cap; not UTF-8); callers add which file and key it was.
pub fn read_text_file(path: &Path) -> io::Result<String> {
    let bytes = read_file(path, MAX_CONFIG_FILE_BYTES)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not valid UTF-8"))
}

/// Reads `path` as bytes with the checks of [`read_text_file`] and the cap `max`.
pub fn read_file(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}, not a regular file", kind(&meta)),
        ));
    }
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.by_ref().take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        // It grew while being read.
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

fn too_large(size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is larger than the {} MiB allowed ({size} bytes or more)",
            max / (1024 * 1024)
        ),
    )
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: opening a FIFO without a writer returns at once instead of blocking; the
    // flag changes nothing for the regular files that are then read.
    OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// What a non-regular file is, in words.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        return "the path is a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return "the path is a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "the path is a character device (such as /dev/zero)";
        }
        if ft.is_block_device() {
            return "the path is a block device";
        }
        if ft.is_socket() {
            return "the path is a socket";
        }
    }
    "the path is a special file"
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dmexp-fsread-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_is_read() {
        let dir = scratch("regular");
        std::fs::write(dir.join("a.toml"), "x = 1\n").unwrap();
        assert_eq!(read_text_file(&dir.join("a.toml")).unwrap(), "x = 1\n");
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_without_blocking() {
        let dev = read_text_file(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(dev.contains("character device") && dev.contains("not a regular file"), "{dev}");
        let dir = scratch("kinds");
        let err = read_text_file(&dir).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // No writer: a blocking open would hang here.
        let err = read_text_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        // A symlink to /dev/zero is followed and refused the same way.
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.toml")).unwrap();
        let err = read_text_file(&dir.join("zero.toml")).unwrap_err().to_string();
        assert!(err.contains("character device"), "{err}");
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = scratch("big");
        let f = File::create(dir.join("big.toml")).unwrap();
        f.set_len(MAX_CONFIG_FILE_BYTES + 1).unwrap();
        let err = read_text_file(&dir.join("big.toml")).unwrap_err().to_string();
        assert!(err.contains("larger than the 16 MiB allowed"), "{err}");
        assert_eq!(
            read_file(&dir.join("big.toml"), 4).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::write(dir.join("ok.toml"), "1234").unwrap();
        assert_eq!(read_file(&dir.join("ok.toml"), 4).unwrap(), b"1234");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let dir = scratch("utf8");
        std::fs::write(dir.join("bad.toml"), [0xff, 0xfe, 0x41]).unwrap();
        let err = read_text_file(&dir.join("bad.toml")).unwrap_err().to_string();
        assert!(err.contains("not valid UTF-8"), "{err}");
    }
}
