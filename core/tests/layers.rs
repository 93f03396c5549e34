//! Layers point one way (issue #13): no import circle between the modules of any crate of
//! the workspace. A module's imports are the `crate::x` paths in its files (test modules and
//! comments left out); two modules importing each other, directly or through others, fail
//! with the circle spelled out. Within a folder module, the same holds for its files
//! (`super::x` and `crate::folder::x` paths); a child using its parent's items is not a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir).expect("read source dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The file's code without comments and without its `#[cfg(test)] mod tests { … }` tail.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every `prefix` followed by an identifier, as the identifier.
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// A circle in `graph`, if any, as the list of modules around it.
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut c = stack[at..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                if let Some(c) = visit(next, graph, stack, done) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// Circles among the top-level modules of the crate at `src`, then among the files of each
/// folder module.
fn circles_in(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut top = Graph::new();
    let mut folders: BTreeMap<String, Graph> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(src).expect("under src");
        let parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let (first, last) = (parts[0].clone(), parts[parts.len() - 1].clone());
        if parts.len() == 1 && (first == "lib" || first == "main") {
            continue;
        }
        if parts.iter().any(|p| p == "tests") {
            continue;
        }
        let code = code(f);
        let deps = paths_after(&code, "crate::");
        top.entry(first.clone()).or_default().extend(deps.into_iter().filter(|d| *d != first));
        if parts.len() == 2 && last != "mod" {
            let mut inner = paths_after(&code, "super::");
            inner.extend(paths_after(&code, &format!("crate::{first}::")));
            inner.remove(&last);
            folders.entry(first).or_default().insert(last, inner);
        }
    }
    let mut found = Vec::new();
    if let Some(c) = circle(&top) {
        found.push(format!("{}: {}", src.display(), c.join(" -> ")));
    }
    for (folder, graph) in &folders {
        if let Some(c) = circle(graph) {
            found.push(format!("{}/{folder}: {}", src.display(), c.join(" -> ")));
        }
    }
    found
}

#[test]
fn no_import_circle_in_any_crate_of_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let crates =
        ["core/src", "config/src", "src", "plugins/builtin/src", "plugins/sdk/src", "sqlguard/src"];
    let mut found = Vec::new();
    for c in crates {
        let src = root.join(c);
        assert!(src.is_dir(), "{} is not a directory", src.display());
        found.extend(circles_in(&src));
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn a_circle_is_found_and_spelled_out() {
    // The checker itself: two modules importing each other through a third.
    let dir = std::env::temp_dir().join(format!("dmexp-layers-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("pool")).expect("mkdir");
    fs::write(dir.join("lib.rs"), "mod pool; mod query; mod api;").expect("write");
    fs::write(dir.join("query.rs"), "use crate::pool::PoolError; // crate::api in a comment")
        .expect("write");
    fs::write(dir.join("pool/mod.rs"), "use crate::api::Thing;").expect("write");
    fs::write(dir.join("pool/budget.rs"), "use super::conn; fn f() { crate::api::g() }")
        .expect("write");
    fs::write(dir.join("pool/conn.rs"), "use super::budget::Budget;").expect("write");
    fs::write(dir.join("api.rs"), "pub use crate::query::QueryError;").expect("write");
    let found = circles_in(&dir);
    let _ = fs::remove_dir_all(&dir);
    let shown: Vec<String> =
        found.iter().map(|f| f.rsplit(": ").next().unwrap_or("").to_owned()).collect();
    assert_eq!(shown, ["api -> query -> pool -> api", "budget -> conn -> budget"], "{found:?}");
}
