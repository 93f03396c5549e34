//! Content negotiation of the scrape answer: OpenMetrics 1.0.0 when the client prefers it by
//! `Accept` (q-values, RFC 9110 §12.5.1), the text format 0.0.4 otherwise.
//!
//! Each candidate takes the quality of the most specific media range that matches it (a
//! range with the right `version`, then the type without `version`, then `type/*`, then
//! `*/*`). OpenMetrics is chosen only when its quality is higher than the text format's; a
//! tie, a missing or unparsable header and `*/*` alone keep the text format (what the Go
//! exporter always serves). Prometheus 2.x sends
//! `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`,
//! Prometheus 3 `application/openmetrics-text;version=1.0.0;q=0.5,…,text/plain;version=0.0.4;q=0.2,*/*;q=0.1`:
//! both get OpenMetrics.

use axum::http::{header, HeaderMap};

use crate::api::ExpositionFormat;

/// One candidate: type, subtype, and the `version` it is served in.
struct Candidate {
    kind: &'static str,
    subtype: &'static str,
    version: &'static str,
}

const OPENMETRICS: Candidate =
    Candidate { kind: "application", subtype: "openmetrics-text", version: "1.0.0" };
const TEXT: Candidate = Candidate { kind: "text", subtype: "plain", version: "0.0.4" };

/// The format to answer in, from every `Accept` header of the request.
pub(crate) fn exposition_format(headers: &HeaderMap) -> ExpositionFormat {
    let accept: Vec<&str> =
        headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    if accept.is_empty() {
        return ExpositionFormat::Text;
    }
    let ranges: Vec<Range<'_>> =
        accept.iter().flat_map(|h| h.split(',')).filter_map(Range::parse).collect();
    if quality(&OPENMETRICS, &ranges) > quality(&TEXT, &ranges) {
        ExpositionFormat::OpenMetrics
    } else {
        ExpositionFormat::Text
    }
}

/// One media range of `Accept`.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    version: Option<&'a str>,
    /// Thousandths (q=0.5 → 500), so comparisons are exact.
    q: u16,
}

impl<'a> Range<'a> {
    /// `type/subtype *(;param=value)`; `None` for an element that is not a media range.
    fn parse(element: &'a str) -> Option<Range<'a>> {
        let mut parts = element.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() {
            return None;
        }
        let mut range = Range { kind, subtype, version: None, q: 1000 };
        for param in parts {
            let Some((name, value)) = param.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => range.q = parse_q(value)?,
                "version" => range.version = Some(value),
                _ => {}
            }
        }
        Some(range)
    }

    /// How specifically this range names `c` (higher is more specific), `None` when it
    /// does not match it.
    fn specificity(&self, c: &Candidate) -> Option<u8> {
        if self.kind == "*" {
            return (self.subtype == "*").then_some(0);
        }
        if !self.kind.eq_ignore_ascii_case(c.kind) {
            return None;
        }
        if self.subtype == "*" {
            return Some(1);
        }
        if !self.subtype.eq_ignore_ascii_case(c.subtype) {
            return None;
        }
        match self.version {
            None => Some(2),
            Some(v) if v == c.version => Some(3),
            Some(_) => None,
        }
    }
}

/// `q` as thousandths: `0`, `0.5`, `1`, `1.000`; `None` (the range is ignored) otherwise.
fn parse_q(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The quality the client gives `c`: that of its most specific matching range (the highest
/// of equally specific ones), 0 when none matches.
fn quality(c: &Candidate, ranges: &[Range<'_>]) -> u16 {
    let mut best: Option<(u8, u16)> = None;
    for r in ranges {
        if let Some(s) = r.specificity(c) {
            best = match best {
                Some((bs, bq)) if bs > s || (bs == s && bq >= r.q) => Some((bs, bq)),
                _ => Some((s, r.q)),
            };
        }
    }
    best.map_or(0, |(_, q)| q)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn format(accept: &[&str]) -> ExpositionFormat {
        let mut headers = HeaderMap::new();
        for a in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        exposition_format(&headers)
    }

    #[test]
    fn prometheus_and_collectors_get_openmetrics() {
        use ExpositionFormat::OpenMetrics;
        // Prometheus 3
        assert_eq!(format(&["application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"]), OpenMetrics);
        // Prometheus 2.x
        assert_eq!(format(&["application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"]), OpenMetrics);
        assert_eq!(format(&["application/openmetrics-text"]), OpenMetrics);
        assert_eq!(format(&["Application/OpenMetrics-Text; Version=\"1.0.0\""]), OpenMetrics);
        assert_eq!(
            format(&["text/plain;q=0.1", "application/openmetrics-text;q=0.2"]),
            OpenMetrics
        );
        // `*/*` at 0.1 for text, OpenMetrics named at 0.2.
        assert_eq!(format(&["application/openmetrics-text;q=0.2, */*;q=0.1"]), OpenMetrics);
    }

    #[test]
    fn everything_else_gets_text() {
        use ExpositionFormat::Text;
        assert_eq!(format(&[]), Text);
        assert_eq!(format(&["*/*"]), Text);
        assert_eq!(format(&["text/plain"]), Text);
        assert_eq!(format(&["text/html,application/xhtml+xml,*/*;q=0.8"]), Text);
        // a tie keeps text
        assert_eq!(format(&["application/openmetrics-text, text/plain"]), Text);
        assert_eq!(format(&["application/openmetrics-text;q=0.5, */*;q=0.5"]), Text);
        // the most specific range decides: OpenMetrics explicitly refused
        assert_eq!(format(&["application/openmetrics-text;q=0, */*"]), Text);
        assert_eq!(
            format(&["application/openmetrics-text;version=1.0.0;q=0, application/*"]),
            Text
        );
        // only the old OpenMetrics 0.0.1 is asked for: text (its `*/*` fallback)
        assert_eq!(format(&["application/openmetrics-text;version=0.0.1,*/*;q=0.1"]), Text);
        assert_eq!(format(&["application/protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"]), Text);
        // garbage and invalid q-values are ignored
        assert_eq!(format(&["garbage, ;;, /, application/openmetrics-text;q=2"]), Text);
        assert_eq!(format(&["application/openmetrics-text;q=0.5555"]), Text);
        assert_eq!(format(&["application/openmetrics-text;q=x"]), Text);
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        for bad in ["1.001", "2", "-0.1", "0.1234", "", ".5", "0.x"] {
            assert_eq!(parse_q(bad), None, "{bad:?}");
        }
    }
}
