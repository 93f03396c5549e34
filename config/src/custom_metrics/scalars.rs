//! Scalar values of a custom metrics file: strings, row caps and durations.

use std::time::Duration;

use toml_edit::{Item, Value};

use super::load::{At, Loader};
use super::MAX_CUSTOM_MAX_ROWS;
use crate::toml_walk::type_name;

impl Loader<'_> {
    pub(super) fn string(&mut self, item: &Item, at: &At<'_>, example: &str) -> Option<String> {
        match item.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(
                    at,
                    format!("must be a string, found {}; e.g. {example}", type_name(item)),
                );
                None
            }
        }
    }

    pub(super) fn max_rows(&mut self, item: &Item, at: &At<'_>) -> Option<usize> {
        match item.as_integer() {
            Some(n) if n >= 1 && n as u64 <= MAX_CUSTOM_MAX_ROWS as u64 => usize::try_from(n).ok(),
            Some(n) => {
                self.error(at, format!("{n} is out of range: use 1 to {MAX_CUSTOM_MAX_ROWS} rows"));
                None
            }
            None => {
                self.error(
                    at,
                    format!("must be a whole number of rows, found {}; e.g. 100", type_name(item)),
                );
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        item: &Item,
        at: &At<'_>,
        max: Duration,
        example: &str,
    ) -> Option<Duration> {
        let parsed = match item.as_value() {
            Some(Value::Integer(i)) => u64::try_from(*i.value())
                .map(Duration::from_secs)
                .map_err(|_| "is negative".to_owned()),
            Some(Value::Float(f)) => Duration::try_from_secs_f64(*f.value())
                .map_err(|_| "is not a valid number of seconds".to_owned()),
            Some(Value::String(s)) => parse_duration(s.value()),
            _ => Err(format!("must be seconds or a duration string, found {}", type_name(item))),
        };
        let min = Duration::from_secs(1);
        match parsed {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(d) => {
                self.error(
                    at,
                    format!("{d:?} is out of range: use 1s to {}s, e.g. {example}", max.as_secs()),
                );
                None
            }
            Err(m) => {
                self.error(at, format!("{m}; write seconds (10) or a duration such as {example}"));
                None
            }
        }
    }
}

/// Parses `90`, `"90"`, `"500ms"`, `"30s"`, `"5m"`, `"1h30m"` (Go-style durations).
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let n: f64 = num.parse().map_err(|_| format!("\"{text}\" is not a duration"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            u => return Err(format!("\"{text}\" has unknown unit \"{u}\" (use ms, s, m, h or d)")),
        };
        total += Duration::try_from_secs_f64(n * scale)
            .map_err(|_| format!("\"{text}\" is not a duration"))?;
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
