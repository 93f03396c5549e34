//! Upgrading from the Go exporter: its Chinese alert rules (tests/fixtures/upstream/rules_zh.yml,
//! unchanged) work against our metrics. promtool accepts the file; every exporter metric and
//! label its expressions use is in a scrape of the three SQLite fixture instances; and
//! `promtool test rules`, fed that very scrape as input series, fires exactly the alerts the
//! fixture data calls for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::common::{fixture_ds, root, scratch, Engine, Exporter};
use crate::dashboards::{ours, promtool, rule_exprs, selectors};

const RULES: &str = "tests/fixtures/upstream/rules_zh.yml";

/// A scrape of `primary`, `standby` and `odd` with the labels upstream's rules group by.
fn scrape() -> String {
    let labels = |env: &str| format!("labels = \"env={env},region=beijing,cluster=order_cluster\"");
    let body = [
        fixture_ds(Engine::Sqlite, "primary", "primary", &labels("prod")),
        fixture_ds(Engine::Sqlite, "standby", "standby", &labels("prod")),
        fixture_ds(Engine::Sqlite, "odd", "odd", &labels("test")),
    ]
    .concat();
    let exp = Exporter::start("upstream-rules", &body);
    exp.metrics()
}

/// Label names of every series of each metric name in an exposition.
fn label_names(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or("").to_owned();
        let set = out.entry(name).or_default();
        if let Some(block) = line.split_once('{').and_then(|(_, r)| r.rsplit_once('}')).map(|p| p.0)
        {
            let mut rest = block;
            while let Some((key, tail)) = rest.split_once("=\"") {
                set.insert(key.trim_start_matches(',').to_owned());
                // skip the escaped value
                let mut end = 0;
                let bytes = tail.as_bytes();
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                rest = tail.get(end + 1..).unwrap_or("");
            }
        }
    }
    out
}

/// One expected alert: its labels (YAML flow mapping body), severity and annotations.
type Expected = (String, &'static str, String);

#[test]
fn its_chinese_alert_rules_work_against_our_metrics() {
    let dir = scratch("upstream-rules");
    let rules_text = std::fs::read_to_string(root().join(RULES)).expect("rules");
    let (ok, report) = promtool(&["check", "rules", RULES], &root());
    assert!(ok && report.contains("SUCCESS: 14 rules found"), "promtool check rules:\n{report}");

    let text = scrape();
    std::fs::write(dir.join("scrape.prom"), &text).expect("write");
    let labels = label_names(&text);
    let exprs = rule_exprs(&rules_text);
    assert_eq!(exprs.len(), 14);
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for e in &exprs {
        let names: Vec<String> =
            selectors(e).into_iter().filter(|s| ours(&s.name)).map(|s| s.name).collect();
        for s in selectors(e).into_iter().filter(|s| ours(&s.name)) {
            used.insert(s.name.clone());
            let Some(have) = labels.get(&s.name) else {
                problems.push(format!("{} is not exported", s.name));
                continue;
            };
            for m in s.matchers.iter().flat_map(|m| m.split(',')) {
                let key = m.split(['=', '!', '~']).next().unwrap_or("").trim();
                if !key.is_empty() && !have.contains(key) {
                    problems.push(format!("{} has no label {key}", s.name));
                }
            }
        }
        // by (…) / on (…) label lists: every metric of the expression carries them.
        for list in e.split(['(', ')']).collect::<Vec<_>>().windows(2) {
            let kw = list[0].split(|c: char| !c.is_ascii_alphanumeric() && c != '_').next_back();
            if kw == Some("by") || kw == Some("on") {
                for key in list[1].split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    for n in &names {
                        if labels.get(n).is_some_and(|h| !h.contains(key)) {
                            problems.push(format!("{n} has no label {key} (grouping)"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        [
            "dmdb_up",
            "dmdbms_dead_lock_num_total",
            "dmdbms_memory_curr_pool_info",
            "dmdbms_memory_total_pool_info",
            "dmdbms_parameter_info",
            "dmdbms_rapply_sys_task_mem_used",
            "dmdbms_rapply_sys_task_num",
            "dmdbms_session_type_info",
            "dmdbms_status_info",
            "dmdbms_switching_occurs",
            "dmdbms_tablespace_size_free_info",
            "dmdbms_tablespace_size_total_info",
            "dmdbms_trx_num_info",
        ]
    );

    // The scrape as promtool input series (as Prometheus stores it: job and instance added).
    let mut yaml = format!(
        "rule_files:\n  - {}\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n",
        root().join(RULES).display()
    );
    yaml.push_str("      - series: 'up{job=\"dameng_exporter\",instance=\"exp:9200\"}'\n        values: '1x10'\n");
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("sample");
        if value.parse::<f64>().map_or(true, |v| !v.is_finite()) {
            continue;
        }
        let series = match series.split_once('{') {
            Some((n, rest)) => format!("{n}{{job=\"dameng_exporter\",instance=\"exp:9200\",{rest}"),
            None => format!("{series}{{job=\"dameng_exporter\",instance=\"exp:9200\"}}"),
        };
        let _ = writeln!(
            yaml,
            "      - series: '{}'\n        values: '{value}x10'",
            series.replace('\'', "''")
        );
    }
    // The session ratio of 数据库连接数过高 joins on datasource, env, region and cluster:
    // sessions (11, 3, 5) × 100 / MAX_SESSIONS (1000, 1500, 50).
    yaml.push_str(concat!(
        "    promql_expr_test:\n",
        "      - expr: (sum by (datasource,env,region,cluster) (dmdbms_session_type_info)) * 100 / on(datasource,env,region,cluster) dmdbms_parameter_info{param_name=\"MAX_SESSIONS\"}\n",
        "        eval_time: 1m\n",
        "        exp_samples:\n",
        "          - labels: '{cluster=\"order_cluster\",datasource=\"primary\",env=\"prod\",region=\"beijing\"}'\n",
        "            value: 1.1\n",
        "          - labels: '{cluster=\"order_cluster\",datasource=\"standby\",env=\"prod\",region=\"beijing\"}'\n",
        "            value: 0.2\n",
        "          - labels: '{cluster=\"order_cluster\",datasource=\"odd\",env=\"test\",region=\"beijing\"}'\n",
        "            value: 10\n",
    ));
    // Every alert of the file, evaluated after its `for: 15s`: what the fixture data calls for
    // fires (odd is MOUNT; waiting transactions on primary (3) and odd (1); standby's redo
    // apply memory is 96 MiB of a 64 MiB REDOS_BUF_SIZE; APP_FULL on primary has no free
    // extent), nothing else (node_exporter rules: no node metrics here).
    let prod =
        |ds: &str| format!("cluster: order_cluster, datasource: {ds}, env: prod, region: beijing");
    let job = "instance: \"exp:9200\", job: dameng_exporter";
    let fired: [(&str, Vec<Expected>); 14] = [
        ("主机失联", vec![]),
        ("数据库实例不可用", vec![]),
        ("集群发生切换", vec![]),
        (
            "数据库状态转换",
            vec![(
                format!("cluster: order_cluster, datasource: odd, env: test, region: beijing, {job}"),
                "警告",
                "description: \"数据源：odd 数据库状态非OPEN状态\", summary: \"数据源：odd:数据库状态不为OPEN，请立即核实\"".to_owned(),
            )],
        ),
        ("数据库连接数过高", vec![]),
        ("数据库死锁数新增", vec![]),
        (
            "数据库存在事务阻塞",
            ["odd", "primary"]
                .iter()
                .map(|ds| {
                    let env = if *ds == "odd" { "test" } else { "prod" };
                    (
                        format!("cluster: order_cluster, datasource: {ds}, env: {env}, region: beijing, {job}"),
                        "警告",
                        format!("description: \"数据源：{ds} 数据库存在事务阻塞等待\", summary: \"数据源：{ds}:存在事务阻塞，请及时处理\""),
                    )
                })
                .collect(),
        ),
        ("cpu使用率过高", vec![]),
        ("内存使用率过高", vec![]),
        ("数据库内存池过高", vec![]),
        ("磁盘分区使用率超过80%", vec![]),
        (
            "备库重做日志内存堆积过高",
            vec![(
                prod("standby"),
                "警告",
                "description: \"数据源：standby 备库重做日志内存堆积使用率超过95%\", summary: \"数据源：standby:备库重做日志内存堆积使用率超95%，请确认是否正常\"".to_owned(),
            )],
        ),
        ("备库重做日志线程数", vec![]),
        (
            "表空间使用率超过95%",
            vec![(
                format!("{}, {job}, tablespace_name: APP_FULL", prod("primary")),
                "警告",
                "description: \"数据源：primary 存在表空间使用率超过95%\", summary: \"数据源：primary: 存在表空间使用率超过95%，请核实\"".to_owned(),
            )],
        ),
    ];
    let names: Vec<&str> = rules_text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- alert: "))
        .map(str::trim)
        .collect();
    assert_eq!(names, fired.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    yaml.push_str("    alert_rule_test:\n");
    for (name, alerts) in &fired {
        let _ = writeln!(yaml, "      - eval_time: 1m\n        alertname: {name}");
        if alerts.is_empty() {
            yaml.push_str("        exp_alerts: []\n");
            continue;
        }
        yaml.push_str("        exp_alerts:\n");
        for (labels, severity, annotations) in alerts {
            let _ = writeln!(
                yaml,
                "          - exp_labels: {{{labels}, severity: {severity}}}\n            exp_annotations: {{{annotations}}}"
            );
        }
    }
    let file = dir.join("rules_zh_test.yml");
    std::fs::write(&file, &yaml).expect("write");
    let (ok, report) = promtool(&["test", "rules", file.to_str().expect("utf-8")], &dir);
    assert!(ok, "promtool test rules {} (the fixture scrape as input):\n{report}", file.display());
}
