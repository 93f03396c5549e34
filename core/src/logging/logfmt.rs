//! `--log.format=logfmt`: one `ts=… level=… target=… msg=… key=value` line per event, the
//! format of Prometheus' own `--log.format=logfmt`. Values with a space, `=`, `"`, `\` or a
//! control character are quoted, with `"`, `\` and control characters escaped. The fields of
//! the spans the event is in follow the event's own, after `span=outer>inner`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Logfmt;

/// The field formatter (span fields are stored formatted by it).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogfmtFields;

/// Appends `value` to `out`, quoted and escaped when logfmt needs it.
pub(crate) fn push_value(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value.chars().any(|c| matches!(c, ' ' | '=' | '"' | '\\') || c.is_control());
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A key: characters logfmt cannot have in a key become `_`.
fn push_key(out: &mut String, key: &str) {
    out.extend(key.chars().map(|c| if c == '=' || c == '"' || c <= ' ' { '_' } else { c }));
}

/// The event's message, `log` crate metadata and other fields.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    log_target: Option<String>,
    /// ` key=value` pairs, each with its leading space.
    rest: String,
}

impl Fields {
    fn push(&mut self, name: &str, value: &str) {
        match name {
            "message" => self.message = Some(value.to_owned()),
            "log.target" => self.log_target = Some(value.to_owned()),
            // Metadata of events bridged from the `log` crate.
            n if n.starts_with("log.") => {}
            n => {
                self.rest.push(' ');
                push_key(&mut self.rest, n);
                self.rest.push('=');
                push_value(&mut self.rest, value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field.name(), &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field.name(), &format!("{value:?}"));
    }
}

impl<'w> FormatFields<'w> for LogfmtFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut f = Fields::default();
        fields.record(&mut f);
        // A span's fields: the message (if any) is just one more field.
        let mut out = String::new();
        if let Some(m) = f.message {
            out.push_str(" message=");
            push_value(&mut out, &m);
        }
        out.push_str(&f.rest);
        writer.write_str(out.trim_start())
    }
}

fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let mut line = format!("ts={} level={}", timestamp(), meta.level().as_str().to_lowercase());
        line.push_str(" target=");
        push_value(&mut line, f.log_target.as_deref().unwrap_or(meta.target()));
        line.push_str(" msg=");
        push_value(&mut line, f.message.as_deref().unwrap_or(""));
        line.push_str(&f.rest);
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<_> = scope.from_root().collect();
            if !spans.is_empty() {
                let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
                line.push_str(" span=");
                push_value(&mut line, &names.join(">"));
                for span in &spans {
                    let ext = span.extensions();
                    if let Some(fields) = ext.get::<FormattedFields<N>>() {
                        if !fields.is_empty() {
                            line.push(' ');
                            line.push_str(fields);
                        }
                    }
                }
            }
        }
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        let q = |v: &str| {
            let mut s = String::new();
            push_value(&mut s, v);
            s
        };
        assert_eq!(q("primary"), "primary");
        assert_eq!(q(""), r#""""#);
        assert_eq!(q("Collector failed."), r#""Collector failed.""#);
        assert_eq!(q("a=b"), r#""a=b""#);
        assert_eq!(q("say \"hi\"\\"), r#""say \"hi\"\\""#);
        assert_eq!(q("two\nlines\t\u{1}"), r#""two\nlines\t\u0001""#);
        assert_eq!(q("无效的表或视图名[V$X]"), "无效的表或视图名[V$X]");
    }
}
