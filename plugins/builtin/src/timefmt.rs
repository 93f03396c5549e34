//! Text forms of database timestamps for labels and SQL literals (`YYYY-MM-DD HH:MM:SS`,
//! `YYYY-MM-DD`), shared by the collectors that read times.

use dmexp_core::dbtime;

fn ymd_hms(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> String {
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// A stored timestamp as `YYYY-MM-DD HH:MM:SS` (its wall-clock text, fraction and offset
/// dropped), or `None` when it does not parse.
pub(crate) fn wall_text(text: &str) -> Option<String> {
    let w = dbtime::parse(text)?.wall;
    Some(ymd_hms(w.year(), w.month() as u8, w.day(), w.hour(), w.minute(), w.second()))
}

/// A timestamp for a label: `YYYY-MM-DD HH:MM:SS` (the same text on every engine and
/// driver); text that is not a timestamp is kept as it is (trimmed).
pub(crate) fn wall_label(text: &str) -> String {
    wall_text(text).unwrap_or_else(|| text.trim().to_owned())
}

/// A stored date or timestamp as `YYYY-MM-DD`, or `None` when it does not parse.
pub(crate) fn date_text(text: &str) -> Option<String> {
    let w = dbtime::parse(text)?.wall;
    Some(format!("{:04}-{:02}-{:02}", w.year(), w.month() as u8, w.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(wall_text("2026-11-24 08:05:30.123456").as_deref(), Some("2026-11-24 08:05:30"));
        assert_eq!(wall_text("2026-01-02 03:04:05 +08:00").as_deref(), Some("2026-01-02 03:04:05"));
        assert_eq!(wall_text("2030-06-30").as_deref(), Some("2030-06-30 00:00:00"));
        assert_eq!(wall_text("garbage"), None);
        assert_eq!(date_text("2030-06-30 00:00:00").as_deref(), Some("2030-06-30"));
        assert_eq!(date_text(""), None);
    }
}
