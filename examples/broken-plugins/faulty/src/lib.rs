//! A plugin that fails on purpose, as its config says (`fault = "…"`), for the loader tests.
//! See ../README.md. Never deploy it.

use std::time::Duration;

use dmexp_plugin_sdk::{export_plugin, Error, Host, Metric, Plugin, Samples};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "none")]
    fault: String,
    #[serde(default)]
    sleep_ms: u64,
}

fn none() -> String {
    "none".to_owned()
}

/// The misbehaving plugin.
#[derive(Debug)]
pub struct Faulty {
    fault: String,
    sleep: Duration,
    runs: u64,
}

impl Plugin for Faulty {
    fn create(config: &str, host: &Host<'_>) -> Result<Self, Error> {
        let c: Config = toml::from_str(config)?;
        match c.fault.as_str() {
            "constructor-error" => return Err("the constructor refuses this config".into()),
            "panic-in-constructor" => panic!("boom in create"),
            _ => {}
        }
        host.info(&format!("faulty plugin created with fault {}", c.fault));
        Ok(Faulty { fault: c.fault, sleep: Duration::from_millis(c.sleep_ms), runs: 0 })
    }

    fn metrics(&self) -> Vec<Metric> {
        let name = if self.fault == "bad-metric" { "0bad name" } else { "faulty_runs_total" };
        vec![Metric::counter(name, "Collects run by the faulty plugin.")]
    }

    fn collect(&mut self, host: &Host<'_>, out: &mut Samples) -> Result<(), Error> {
        self.runs += 1;
        match self.fault.as_str() {
            "panic-in-collect" => panic!("boom in collect"),
            "error-in-collect" => return Err("collect failed on purpose".into()),
            "slow-collect" => std::thread::sleep(self.sleep),
            "write-query" => {
                host.query("DELETE FROM ORDERS")?;
            }
            // Passes the host's first-keyword check; the read-only connection must refuse it.
            "sneaky-write" => {
                host.query("WITH d AS (DELETE FROM JOB_QUEUE WHERE JOB_ID < 0 RETURNING 1) SELECT COUNT(*) FROM d")?;
            }
            _ => {}
        }
        out.push(0, &[], self.runs as f64);
        Ok(())
    }
}

export_plugin!(Faulty, name: "faulty", version: "0.0.1");
