//! Test harness: fixtures over real ODBC, the real exporter binary, real HTTP.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run_build(args: &[&str]) {
    let out = Command::new("bash")
        .arg(root().join("tests/fixtures/build.sh"))
        .args(args)
        .output()
        .expect("run tests/fixtures/build.sh");
    assert!(
        out.status.success(),
        "tests/fixtures/build.sh {:?} failed:\n{}\n{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Directory with the SQLite fixture files, built once per test process.
pub fn sqlite_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fixtures-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run_build(&["sqlite", dir.to_str().expect("utf-8 path")]);
        dir
    })
}

/// Connection string of a SQLite fixture instance (`primary`, `standby`, `odd`).
pub fn sqlite_cs(instance: &str) -> String {
    format!("Driver=SQLite3;Database={}", sqlite_dir().join(format!("{instance}.db")).display())
}

/// Builds the PostgreSQL fixture databases once per test process.
pub fn pg_ready() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| run_build(&["pg"]));
}

/// Connection string of a PostgreSQL fixture instance.
pub fn pg_cs(instance: &str) -> String {
    pg_ready();
    format!(
        "Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port=5432;Database=dmexp_{instance};UID=dmexp;PWD=dmexp"
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A running exporter process.
pub struct Exporter {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
    /// CA certificate (PEM) to trust when the exporter serves HTTPS; `None` for plain HTTP.
    pub tls_ca: Option<PathBuf>,
}

impl Exporter {
    /// Writes `body` (without listenAddress/logDir, which are added) to a config file in a
    /// scratch dir and starts the binary on it; waits until /-/ready answers 200.
    pub fn start(name: &str, body: &str) -> Exporter {
        Self::start_with_args(name, body, &[])
    }

    pub fn start_with_args(name: &str, body: &str, args: &[&str]) -> Exporter {
        Self::launch(name, body, args, None, &[])
    }

    /// Like [`Exporter::start_with_args`] under `prlimit --nofile=soft:hard` (the process
    /// starts with that open-files limit).
    pub fn start_with_nofile(
        name: &str,
        body: &str,
        args: &[&str],
        soft: u64,
        hard: u64,
    ) -> Exporter {
        let limit = format!("--nofile={soft}:{hard}");
        Self::launch_wrapped(name, body, args, None, &[], &["prlimit", &limit, "--"])
    }

    /// Like [`Exporter::start`] with extra environment variables for the process.
    pub fn start_with_env(name: &str, body: &str, env: &[(&str, &str)]) -> Exporter {
        Self::launch(name, body, &[], None, env)
    }

    /// Like [`Exporter::start_with_args`] for an exporter serving HTTPS (`args` carry
    /// `--web.config.file`): readiness and [`Exporter::try_get`] go over TLS, trusting the CA
    /// certificate `ca` (PEM).
    pub fn start_https(name: &str, body: &str, args: &[&str], ca: &Path) -> Exporter {
        Self::launch(name, body, args, Some(ca.to_owned()), &[])
    }

    fn launch(
        name: &str,
        body: &str,
        args: &[&str],
        tls_ca: Option<PathBuf>,
        env: &[(&str, &str)],
    ) -> Exporter {
        Self::launch_wrapped(name, body, args, tls_ca, env, &[])
    }

    /// [`Exporter::launch`] through `wrapper` (a command that execs the rest, e.g. prlimit).
    fn launch_wrapped(
        name: &str,
        body: &str,
        args: &[&str],
        tls_ca: Option<PathBuf>,
        env: &[(&str, &str)],
        wrapper: &[&str],
    ) -> Exporter {
        let text = |port: u16, dir: &Path| {
            format!(
                "listenAddress = \"127.0.0.1:{port}\"\nlogDir = \"{}\"\nretryIntervalSeconds = 1\n{body}",
                dir.join("logs").display()
            )
        };
        Self::launch_full(name, &text, args, tls_ca, env, &[], wrapper)
    }

    /// Starts the binary on the whole config text `text(port, scratch dir)` (nothing added),
    /// with extra environment variables and without the inherited ones in `env_remove`;
    /// waits until /-/ready answers 200 (over TLS trusting `tls_ca` when given).
    pub fn launch_text(
        name: &str,
        text: &dyn Fn(u16, &Path) -> String,
        args: &[&str],
        tls_ca: Option<PathBuf>,
        env: &[(&str, &str)],
        env_remove: &[&str],
    ) -> Exporter {
        Self::launch_full(name, text, args, tls_ca, env, env_remove, &[])
    }

    /// [`Exporter::launch_text`] through `wrapper` (a command that execs the rest).
    fn launch_full(
        name: &str,
        text: &dyn Fn(u16, &Path) -> String,
        args: &[&str],
        tls_ca: Option<PathBuf>,
        env: &[(&str, &str)],
        env_remove: &[&str],
        wrapper: &[&str],
    ) -> Exporter {
        let dir = scratch(name);
        let port = free_port();
        let config = dir.join("dameng_exporter.toml");
        std::fs::write(&config, text(port, &dir)).expect("write config");
        let bin = env!("CARGO_BIN_EXE_dameng_exporter");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        for name in env_remove {
            command.env_remove(name);
        }
        let child = command
            .arg("--config")
            .arg(&config)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdout(Stdio::from(std::fs::File::create(dir.join("stdout.log")).expect("stdout")))
            .stderr(Stdio::from(std::fs::File::create(dir.join("stderr.log")).expect("stderr")))
            .spawn()
            .expect("start exporter");
        let mut e = Exporter { child, port, dir, config, tls_ca };
        e.wait_ready();
        e
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exporter exited early with {status}:\n{}", self.output());
            }
            if let Ok((200, _)) = self.try_get("/-/ready", None) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("exporter not ready after 30 s:\n{}", self.output());
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// stdout + stderr so far.
    pub fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("--- stdout\n{}\n--- stderr\n{}", read("stdout.log"), read("stderr.log"))
    }

    /// Everything the exporter logged (stdout, stderr, log files).
    pub fn all_logs(&self) -> String {
        let mut s = self.output();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("logs")) {
            for e in entries.flatten() {
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        s
    }

    pub fn try_get(&self, path: &str, auth: Option<(&str, &str)>) -> Result<(u16, String), String> {
        match &self.tls_ca {
            Some(ca) => https_get(self.port, path, auth, ca),
            None => http_get(self.port, path, auth),
        }
    }

    /// GET, panicking on transport errors.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.try_get(path, None).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.output()))
    }

    /// GET /metrics, asserting 200.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("exporter did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plain HTTP GET with optional basic auth; returns status and body.
pub fn http_get(
    port: u16,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    get_with(&agent, &format!("http://127.0.0.1:{port}{path}"), auth)
}

/// HTTPS GET of `https://127.0.0.1:{port}{path}` trusting only the CA certificate `ca` (PEM),
/// with optional basic auth; returns status and body.
pub fn https_get(
    port: u16,
    path: &str,
    auth: Option<(&str, &str)>,
    ca: &Path,
) -> Result<(u16, String), String> {
    let pem = std::fs::read(ca).map_err(|e| format!("read {}: {e}", ca.display()))?;
    let cert = ureq::tls::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .tls_config(tls)
        .build()
        .into();
    get_with(&agent, &format!("https://127.0.0.1:{port}{path}"), auth)
}

fn get_with(
    agent: &ureq::Agent,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let mut req = agent.get(url);
    if let Some((u, p)) = auth {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header("Authorization", format!("Basic {token}"));
    }
    let mut resp = req.call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut body = String::new();
    resp.body_mut().as_reader().read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Runs the binary with arguments; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run exporter");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Value of the series `name{labels}` in an exposition, labels given as a sorted
/// `k="v",…` string exactly as the exporter prints them.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

/// All series lines of one metric name.
pub fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .collect()
}

/// Which fixture engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite through the SQLite3 ODBC driver.
    Sqlite,
    /// PostgreSQL through the PostgreSQL Unicode ODBC driver.
    Postgres,
}

/// A `[[datasource]]` table for fixture `instance` on `engine`, named `name`, with `extra`
/// TOML lines appended. SQLite instances with a SYSJOB file get it attached as `SYSJOB`.
pub fn fixture_ds(engine: Engine, name: &str, instance: &str, extra: &str) -> String {
    let (cs, init) = match engine {
        Engine::Sqlite => {
            let f = sqlite_dir().join(format!("{instance}_sysjob.db"));
            let init = if f.exists() {
                format!("connectionInitSql = [\"ATTACH DATABASE '{}' AS SYSJOB\"]\n", f.display())
            } else {
                String::new()
            };
            (sqlite_cs(instance), init)
        }
        Engine::Postgres => (pg_cs(instance), String::new()),
    };
    format!("[[datasource]]\nname = \"{name}\"\nodbcConnectionString = \"{cs}\"\n{init}{extra}\n")
}

/// TLS material for end-to-end tests, generated with rcgen: a CA and a server certificate for
/// `localhost` and `127.0.0.1` signed by it, as PEM files.
pub struct TlsFiles {
    /// CA certificate: what clients (Prometheus) trust.
    pub ca: PathBuf,
    /// Server certificate.
    pub cert: PathBuf,
    /// Server private key.
    pub key: PathBuf,
}

/// Writes `ca.pem`, `server.pem` and `server.key` into `dir`.
pub fn tls_files(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "dameng_exporter e2e CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).expect("write ca.pem");
    std::fs::write(&files.cert, cert.pem()).expect("write server.pem");
    std::fs::write(&files.key, key.serialize_pem()).expect("write server.key");
    files
}
