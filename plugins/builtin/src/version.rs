//! Server version (`dmdbms_version{db_version_str, build_type, inner_ver}` = 1).
//!
//! Upstream decoded DM's `ID_CODE` function in SQL (REGEXP_SUBSTR, RAWTOHEX, TO_NUMBER), all
//! DM-only. Here, as in upstream's own fallback:
//! - builds whose V$INSTANCE has BUILD_VERSION (probed once per connection through
//!   V$DYNAMIC_TABLE_COLUMNS): `db_version_str` = `SVR_VERSION-BUILD_VERSION`. BUILD_VERSION
//!   comes in two shapes: the ID_CODE shape real DM 8.1.5.60 returns
//!   (`03134284604-20260707-335949-20228`, docs/DM8_EVIDENCE.md F1/E10), decoded like ID_CODE
//!   below (企业版, `8.1.5.60`); and an older dotted shape (`1-3-162-2024.07.03-…-ENT` →
//!   `8.1.3.162`, edition from the last field: `ENT` 企业版, `SEC` 安全版, `STD` 标准版,
//!   else 其他);
//! - older builds: `db_version_str` = the `DM Database Server …` banner of V$VERSION plus the
//!   ID_CODE-style banner line when V$VERSION has one; that line is decoded in Rust exactly
//!   as upstream decoded ID_CODE (first field: 2-digit edition 02/03/05 + a number whose four
//!   bytes are the version, `03134284194` → 企业版, `8.1.3.162`); without it both are `""`.
//!
//! In both, newlines and the words `DM Database Server` are removed, as upstream did. The
//! result is reused for `bigKeyDataCacheTime`.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CacheClass, CollectContext, CollectError, Collector, CollectorDescriptor, Family,
    MetricDef, MetricSpec, Sample,
};
use dmexp_core::query::{cell, Rows};

/// Newer builds: server version and build string.
pub const BUILD_SQL: &str = "SELECT /*+DM_EXPORTER*/ SVR_VERSION, BUILD_VERSION FROM V$INSTANCE";

/// Older builds: every banner line.
pub const BANNER_SQL: &str = "SELECT /*+DM_EXPORTER*/ BANNER FROM V$VERSION";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #25).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_version", "Information about DM database version").with_labels(&[
        "db_version_str",
        "build_type",
        "inner_ver",
    ])];

const SERVER: &str = "DM Database Server";

/// Upstream's clean-up of the version text: no newlines, no `DM Database Server`, trimmed.
fn clean(s: &str) -> String {
    s.replace(['\r', '\n'], "").replace(SERVER, "").trim().to_owned()
}

/// Edition from ID_CODE's 2-digit prefix (upstream's DECODE).
pub fn edition_from_code(code: &str) -> &'static str {
    match code {
        "03" => "企业版",
        "05" => "安全版",
        "02" => "标准版",
        _ => "其他",
    }
}

/// Edition from BUILD_VERSION's last field.
pub fn edition_from_suffix(suffix: &str) -> &'static str {
    match suffix.trim().to_ascii_uppercase().as_str() {
        "ENT" => "企业版",
        "SEC" => "安全版",
        "STD" => "标准版",
        _ => "其他",
    }
}

/// Decodes an ID_CODE-style string (`03134284194-20240703-234060-20108`) into (edition,
/// `a.b.c.d`), or `None` when it does not have that shape.
pub fn decode_id_code(id: &str) -> Option<(&'static str, String)> {
    let first = id.trim().split('-').next()?;
    if first.len() < 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (code, number) = first.split_at(2);
    let [a, b, c, d] = number.parse::<u32>().ok()?.to_be_bytes();
    Some((edition_from_code(code), format!("{a}.{b}.{c}.{d}")))
}

/// True for a banner line shaped like ID_CODE: four `-`-separated fields, the first of at
/// least three digits, the second a `YYYYMMDD` date.
fn is_id_code_line(line: &str) -> bool {
    let fields: Vec<&str> = line.trim().split('-').collect();
    fields.len() == 4
        && fields[0].len() >= 3
        && fields.iter().all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        && fields[1].len() == 8
}

/// Decodes BUILD_VERSION (`1-3-162-2024.07.03-234060-20108-ENT`) into (edition, `8.a.b.c`).
/// The inner version is `""` when the first three fields are not numbers.
pub fn decode_build_version(build: &str) -> (&'static str, String) {
    let fields: Vec<&str> = build.trim().split('-').map(str::trim).collect();
    let edition = if fields.len() > 1 {
        fields.last().map_or("其他", |s| edition_from_suffix(s))
    } else {
        "其他"
    };
    let nums: Option<Vec<u32>> = fields.iter().take(3).map(|f| f.parse().ok()).collect();
    let inner = match nums.as_deref() {
        Some([a, b, c]) => format!("8.{a}.{b}.{c}"),
        _ => String::new(),
    };
    (edition, inner)
}

/// Maps the result of [`BUILD_SQL`]: `None` when there is no row or BUILD_VERSION is NULL.
pub fn map_build(rows: &Rows) -> Option<Sample> {
    let row = rows.first()?;
    let build = cell(row, 1).map(str::trim).filter(|b| !b.is_empty())?;
    let svr = cell(row, 0).map(str::trim).unwrap_or_default();
    let (edition, inner) = if is_id_code_line(build) {
        decode_id_code(build).unwrap_or_else(|| decode_build_version(build))
    } else {
        decode_build_version(build)
    };
    let text = if svr.is_empty() { clean(build) } else { clean(&format!("{svr}-{build}")) };
    Some(Sample::with_labels(0, vec![text, edition.to_owned(), inner], 1.0))
}

/// Maps the result of [`BANNER_SQL`]: `None` when neither a server banner nor an
/// ID_CODE-style line is there.
pub fn map_banner(rows: &Rows) -> Option<Sample> {
    let lines: Vec<&str> = rows.rows.iter().filter_map(|r| cell(r, 0)).collect();
    let server = lines.iter().find(|l| l.trim_start().starts_with(SERVER));
    let id = lines.iter().find(|l| is_id_code_line(l)).map(|l| l.trim());
    let text =
        clean(&[server.copied(), id].iter().flatten().copied().collect::<Vec<&str>>().join(" "));
    if server.is_none() && id.is_none() {
        return None;
    }
    let (edition, inner) = match id.and_then(decode_id_code) {
        Some((e, v)) => (e.to_owned(), v),
        None => (String::new(), String::new()),
    };
    Some(Sample::with_labels(0, vec![text, edition, inner], 1.0))
}

/// The collector.
#[derive(Debug, Default)]
pub struct VersionCollector;

impl Collector for VersionCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        if ctx.has_columns("V$INSTANCE", &["BUILD_VERSION"])? {
            if let Some(s) = map_build(&ctx.query(BUILD_SQL)?) {
                out.push(s);
                return Ok(());
            }
        }
        out.extend(map_banner(&ctx.query(BANNER_SQL)?));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(VersionCollector))
}

inventory::submit! {
    CollectorDescriptor::new("version", "V$INSTANCE, V$VERSION", Family::Database, METRICS, build)
        .queries(&[BUILD_SQL, BANNER_SQL])
        .cached(CacheClass::BigKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: r.iter().map(|x| x.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Rows::default()
        }
    }

    fn s(text: &str, edition: &str, inner: &str) -> Sample {
        Sample::with_labels(0, vec![text.into(), edition.into(), inner.into()], 1.0)
    }

    #[test]
    fn id_code_decoding() {
        assert_eq!(
            decode_id_code("03134284194-20240703-234060-20108"),
            Some(("企业版", "8.1.3.162".into()))
        );
        assert_eq!(
            decode_id_code("02134283860-20220525-163502-20017"),
            Some(("标准版", "8.1.2.84".into()))
        );
        assert_eq!(decode_id_code("05134283838"), Some(("安全版", "8.1.2.62".into())));
        assert_eq!(decode_id_code("09134283838-x"), Some(("其他", "8.1.2.62".into())));
        assert_eq!(decode_id_code("0399999999999-1"), None);
        assert_eq!(decode_id_code("DM Database Server"), None);
        assert_eq!(decode_id_code(""), None);
    }

    #[test]
    fn build_version_decoding() {
        assert_eq!(
            decode_build_version("1-3-162-2024.07.03-234060-20108-ENT"),
            ("企业版", "8.1.3.162".into())
        );
        assert_eq!(
            decode_build_version("1-4-48-2025.01.01-1-2-SEC"),
            ("安全版", "8.1.4.48".into())
        );
        assert_eq!(decode_build_version("1-2-84-x-std"), ("标准版", "8.1.2.84".into()));
        assert_eq!(decode_build_version("V8"), ("其他", String::new()));
        assert_eq!(decode_build_version("a-b-c-ENT"), ("企业版", String::new()));
    }

    #[test]
    fn real_dm_8_1_5_60_build_version_is_the_id_code_shape() {
        // docs/DM8_EVIDENCE.md F1: the value official DM8 20260708 media returns (E10).
        let r =
            rows(&[&[Some("DM Database Server 64 V8"), Some("03134284604-20260707-335949-20228")]]);
        assert_eq!(
            map_build(&r),
            Some(s("64 V8-03134284604-20260707-335949-20228", "企业版", "8.1.5.60"))
        );
        let std = rows(&[&[
            Some("DM Database Server x64 V8"),
            Some(" 02134283860-20220525-163502-20017 "),
        ]]);
        assert_eq!(
            map_build(&std),
            Some(s("x64 V8-02134283860-20220525-163502-20017", "标准版", "8.1.2.84"))
        );
    }

    #[test]
    fn newer_build_from_v_instance() {
        let r = rows(&[&[
            Some("DM Database Server 64 V8"),
            Some("1-3-162-2024.07.03-234060-20108-ENT"),
        ]]);
        assert_eq!(
            map_build(&r),
            Some(s("64 V8-1-3-162-2024.07.03-234060-20108-ENT", "企业版", "8.1.3.162"))
        );
        assert_eq!(map_build(&rows(&[&[Some("DM Database Server 64 V8"), None]])), None);
        assert_eq!(map_build(&Rows::default()), None);
        assert_eq!(
            map_build(&rows(&[&[None, Some("1-3-162-2024.07.03-234060-20108-ENT")]])),
            Some(s("1-3-162-2024.07.03-234060-20108-ENT", "企业版", "8.1.3.162"))
        );
    }

    #[test]
    fn older_build_from_banner() {
        let r = rows(&[
            &[Some("DM Database Server x64 V8")],
            &[Some("DB Version: 0x7000c")],
            &[Some("02134283860-20220525-163502-20017")],
            &[Some("Msg Version: 9")],
        ]);
        assert_eq!(
            map_banner(&r),
            Some(s("x64 V8 02134283860-20220525-163502-20017", "标准版", "8.1.2.84"))
        );
        // DM7-style banner, no ID_CODE line.
        let r = rows(&[
            &[Some("DM Database Server x64 V7.6.0.145-Build(2019.03.20-104220)ENT\n")],
            &[None],
        ]);
        assert_eq!(map_banner(&r), Some(s("x64 V7.6.0.145-Build(2019.03.20-104220)ENT", "", "")));
        assert_eq!(map_banner(&rows(&[&[Some("DB Version: 0x7000c")]])), None);
        assert_eq!(map_banner(&Rows::default()), None);
    }
}
