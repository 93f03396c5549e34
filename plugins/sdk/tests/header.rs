//! The committed C header matches the Rust ABI: regenerate it with cbindgen and diff.
//! `DMEXP_BLESS=1 cargo test -p dmexp-plugin-sdk --test header` rewrites it.

use std::path::PathBuf;

#[test]
fn c_header_is_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/abi.rs"))
        .generate()
        .expect("cbindgen")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8");
    let path = dir.join("include/dm_exporter_plugin.h");
    if std::env::var_os("DMEXP_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date; run DMEXP_BLESS=1 cargo test -p dmexp-plugin-sdk --test header",
        path.display()
    );
}
