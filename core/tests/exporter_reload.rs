//! The exporter's two-phase reload with a fake [`ReloadHook`] (no database, no HTTP): typed
//! errors, nothing swapped when a phase fails, and the restart-required notes and series.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dmexp_config::Config;
use dmexp_core::api::{MetricsSource, ReloadError, RestartRequired, ScrapeRequest};
use dmexp_core::exporter::{CommitReload, ConfigLoader, Exporter, ReloadHook};
use dmexp_core::runtime::BuildInfo;

/// A config with disabled datasources only (nothing connects).
fn config(names: &[&str]) -> Config {
    let text: String = names
        .iter()
        .map(|n| {
            format!(
                "[[datasource]]\nname = \"{n}\"\nenabled = false\n\
                 odbcConnectionString = \"Driver={{SQLite3}};Database=/nonexistent/{n}.db\"\n"
            )
        })
        .collect();
    dmexp_config::load_str(&text, Path::new("t.toml")).unwrap()
}

fn info() -> BuildInfo {
    BuildInfo {
        version: "v0".into(),
        revision: "r".into(),
        branch: "b".into(),
        rustversion: "1".into(),
    }
}

/// What the loader returns next: a config, or an error message.
type Next = Arc<Mutex<Result<Vec<&'static str>, &'static str>>>;

fn loader(next: &Next) -> ConfigLoader {
    let next = Arc::clone(next);
    Box::new(move || match &*next.lock().unwrap() {
        Ok(names) => Ok(config(names)),
        Err(message) => Err((*message).into()),
    })
}

/// A hook that fails `prepare` when told to and counts commits.
#[derive(Default)]
struct FakeHook {
    fail: Mutex<bool>,
    notes: Mutex<Vec<RestartRequired>>,
    commits: Arc<AtomicUsize>,
}

impl ReloadHook for FakeHook {
    fn prepare(&self, _config: &Config) -> Result<CommitReload, ReloadError> {
        if *self.fail.lock().unwrap() {
            return Err(ReloadError::Http(
                "web.yml: basic_auth_users.alice: not a bcrypt hash".into(),
            ));
        }
        let notes = self.notes.lock().unwrap().clone();
        let commits = Arc::clone(&self.commits);
        Ok(Box::new(move || {
            commits.fetch_add(1, Ordering::SeqCst);
            notes
        }))
    }
}

fn names(exporter: &Exporter) -> Vec<String> {
    exporter.statuses().into_iter().map(|s| s.name).collect()
}

async fn scrape(exporter: &Exporter) -> String {
    exporter.scrape(ScrapeRequest::default()).await.unwrap()
}

#[tokio::test]
async fn a_failed_prepare_swaps_nothing_and_a_commit_runs_after_the_swap() {
    let next: Next = Arc::new(Mutex::new(Ok(vec!["a", "b"])));
    let exporter =
        Exporter::new(&config(&["a"]), info(), "t.toml".into(), Some(loader(&next))).unwrap();
    let hook = Arc::new(FakeHook::default());
    exporter.set_reload_hook(Arc::clone(&hook) as Arc<dyn ReloadHook>);

    *hook.fail.lock().unwrap() = true;
    let error = exporter.reload_config().await.unwrap_err();
    assert!(matches!(error, ReloadError::Http(_)), "{error:?}");
    assert_eq!(error.kind(), "http");
    assert_eq!(error.to_string(), "web.yml: basic_auth_users.alice: not a bcrypt hash");
    assert_eq!(names(&exporter), ["a"], "the runtime was swapped despite the failed prepare");
    assert_eq!(hook.commits.load(Ordering::SeqCst), 0);
    let text = scrape(&exporter).await;
    assert!(text.contains("\ndameng_exporter_config_last_reload_successful 0\n"), "{text}");

    *hook.fail.lock().unwrap() = false;
    *hook.notes.lock().unwrap() = vec![RestartRequired::new(
        "listenAddress",
        "listening on \":9200\", the configuration says \":9300\"",
    )];
    exporter.reload_config().await.unwrap();
    assert_eq!(names(&exporter), ["a", "b"]);
    assert_eq!(hook.commits.load(Ordering::SeqCst), 1);
    let text = scrape(&exporter).await;
    assert!(text.contains("\ndameng_exporter_config_last_reload_successful 1\n"), "{text}");
    assert!(
        text.contains("\ndameng_exporter_config_restart_required{key=\"listenAddress\"} 1\n"),
        "{text}"
    );
    let status = exporter.exporter_status();
    assert_eq!(status.restart_required.len(), 1);
    assert_eq!(status.restart_required[0].key, "listenAddress");

    // A failed reload keeps the notes of the running process; a matching one clears them.
    *next.lock().unwrap() = Err("t.toml:3: `queryTimeout`: expected an integer");
    let error = exporter.reload_config().await.unwrap_err();
    assert!(matches!(error, ReloadError::Config(_)), "{error:?}");
    assert_eq!(error.to_string(), "t.toml:3: `queryTimeout`: expected an integer");
    assert_eq!(exporter.restart_required().len(), 1);
    *next.lock().unwrap() = Ok(vec!["a"]);
    hook.notes.lock().unwrap().clear();
    exporter.reload_config().await.unwrap();
    let text = scrape(&exporter).await;
    assert!(!text.contains("dameng_exporter_config_restart_required"), "{text}");
    assert!(exporter.exporter_status().restart_required.is_empty());
}

#[tokio::test]
async fn without_a_loader_reload_is_refused_as_no_config_file() {
    let exporter = Exporter::new(&config(&["a"]), info(), "command line".into(), None).unwrap();
    let error = exporter.reload_config().await.unwrap_err();
    assert!(matches!(error, ReloadError::NoConfigFile), "{error:?}");
    assert_eq!(error.to_string(), "no configuration file to reload (command-line mode)");
}
