//! Writing command output to stdout without panicking when stdout is closed
//! (`--test-custom-metrics FILE | head -1`: `println!` would panic with "Broken pipe").

use std::io::Write as _;

/// Writes `text` to stdout and flushes. False when stdout cannot be written (a closed pipe,
/// a full disk): the caller stops printing and exits quietly with its normal exit code.
pub(super) fn out(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_ok()
}

/// [`out`] with a newline.
pub(super) fn line(text: &str) -> bool {
    out(&format!("{text}\n"))
}
