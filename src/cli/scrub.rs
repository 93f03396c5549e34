//! Scrubbing secrets from the process's command line (finding L12). A password given as
//! `--dbPwd VALUE` (or `--dbPwd=VALUE`) is readable by every local user in
//! `/proc/PID/cmdline` and `ps`. After the arguments are parsed, every byte of such a value
//! in the argument area of the process's memory is overwritten with `x` (same length, so
//! the other arguments stay where they are). On Linux this goes through `/proc/self/mem` at
//! the addresses the kernel reports in `/proc/self/stat` (`arg_start`, `arg_end`): no
//! `unsafe`. Elsewhere nothing is scrubbed (the caller warns).
//!
//! The value stays visible from the exec until this runs (milliseconds), and in the shell's
//! history: the environment-variable and file forms avoid both.

/// Byte ranges (start, end) in the NUL-separated `cmdline` of the values of `flags` (long
/// names with their `--`), as clap reads them: `--flag VALUE` and `--flag=VALUE`, up to `--`.
pub(super) fn secret_ranges(cmdline: &[u8], flags: &[&str]) -> Vec<(usize, usize)> {
    let mut args = Vec::new();
    let mut at = 0;
    for part in cmdline.split(|b| *b == 0) {
        args.push((at, part));
        at += part.len() + 1;
    }
    let mut ranges = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let (start, arg) = args[i];
        if arg == b"--" {
            break;
        }
        for flag in flags {
            let flag = flag.as_bytes();
            if arg == flag {
                if let Some((s, v)) = args.get(i + 1) {
                    if !v.is_empty() {
                        ranges.push((*s, s + v.len()));
                    }
                    i += 1;
                }
                break;
            }
            if arg.len() > flag.len() && arg.starts_with(flag) && arg[flag.len()] == b'=' {
                ranges.push((start + flag.len() + 1, start + arg.len()));
                break;
            }
        }
        i += 1;
    }
    ranges.retain(|(s, e)| e > s);
    ranges
}

/// Overwrites the values of `flags` in the process's argument memory. Returns how many
/// values were scrubbed, or why it could not be done.
#[cfg(target_os = "linux")]
pub(super) fn scrub(flags: &[&str]) -> Result<usize, String> {
    use std::os::unix::fs::FileExt as _;
    let cmdline =
        std::fs::read("/proc/self/cmdline").map_err(|e| format!("/proc/self/cmdline: {e}"))?;
    let ranges = secret_ranges(&cmdline, flags);
    if ranges.is_empty() {
        return Ok(0);
    }
    let stat =
        std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
    let (arg_start, arg_end) = arg_area(&stat).ok_or("/proc/self/stat has no argument area")?;
    let len = usize::try_from(arg_end.saturating_sub(arg_start)).map_err(|e| e.to_string())?;
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")
        .map_err(|e| format!("/proc/self/mem: {e}"))?;
    let mut area = vec![0u8; len];
    mem.read_exact_at(&mut area, arg_start).map_err(|e| format!("/proc/self/mem: {e}"))?;
    // The argument area must be what the kernel shows as cmdline (it is, unless something
    // rewrote it, e.g. a setproctitle): otherwise write nothing.
    if area.get(..cmdline.len()) != Some(&cmdline[..]) {
        return Err("the argument area does not match /proc/self/cmdline".into());
    }
    for (s, e) in &ranges {
        let x = vec![b'x'; e - s];
        mem.write_all_at(&x, arg_start + *s as u64).map_err(|e| format!("/proc/self/mem: {e}"))?;
    }
    Ok(ranges.len())
}

/// Not Linux: nothing is scrubbed.
#[cfg(not(target_os = "linux"))]
pub(super) fn scrub(flags: &[&str]) -> Result<usize, String> {
    let _ = flags;
    Err("scrubbing the command line is only implemented on Linux".into())
}

/// `arg_start` and `arg_end` (fields 48 and 49) of `/proc/PID/stat`. Field 2 (the command
/// name, in parentheses) may hold spaces and parentheses: fields are counted after the last `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn arg_area(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_both_spellings_are_found_up_to_the_separator() {
        let cmd = b"exe\0--dbPwd\0s3cret\0--dbUser\0u\0--basicAuthPassword=pw=x\0--\0--dbPwd\0y\0";
        let r = secret_ranges(cmd, &["--dbPwd", "--basicAuthPassword"]);
        let texts: Vec<&[u8]> = r.iter().map(|(s, e)| &cmd[*s..*e]).collect();
        assert_eq!(texts, [&b"s3cret"[..], b"pw=x"]);
        // A flag whose name only starts like one, an empty value, a flag at the end.
        let cmd = b"exe\0--dbPwdFile\0f\0--dbPwd=\0--dbPwd\0";
        assert!(secret_ranges(cmd, &["--dbPwd"]).is_empty());
    }

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let mut stat = String::from("42 (a) b) c) S");
        for n in 4..=52 {
            stat.push_str(&format!(" {n}"));
        }
        assert_eq!(arg_area(&stat), Some((48, 49)));
        assert_eq!(arg_area("1 (x) S 2 3"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_own_argument_area_is_found() {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
        let (s, e) = arg_area(&stat).expect("arg area");
        let cmdline = std::fs::read("/proc/self/cmdline").expect("cmdline");
        assert_eq!(usize::try_from(e - s).expect("size"), cmdline.len());
    }
}
