use crate::common::{sqlite_cs, Exporter};

fn body(password: &str) -> String {
    format!(
        "enableBasicAuth = true\nbasicAuthUsername = \"prom\"\nbasicAuthPassword = \"{password}\"\n\
         [[datasource]]\nname = \"primary\"\nodbcConnectionString = \"{}\"\n",
        sqlite_cs("primary")
    )
}

#[test]
fn plaintext_password() {
    let exp = Exporter::start("auth-plain", &body("s3cret-pw"));
    assert_eq!(exp.try_get("/metrics", None).expect("get").0, 401);
    assert_eq!(exp.try_get("/metrics", Some(("prom", "wrong"))).expect("get").0, 401);
    assert_eq!(exp.try_get("/metrics", Some(("other", "s3cret-pw"))).expect("get").0, 401);
    let (status, text) = exp.try_get("/metrics", Some(("prom", "s3cret-pw"))).expect("get");
    assert_eq!(status, 200);
    assert!(text.contains("dmdbms_thread_num_info{datasource=\"primary\"} 12"), "{text}");
    // Liveness stays open for orchestrators.
    assert_eq!(exp.try_get("/-/healthy", None).expect("get").0, 200);
}

#[test]
fn bcrypt_and_enc_passwords() {
    let hash = bcrypt::hash("hashed-pw", 4).expect("hash");
    let exp = Exporter::start("auth-bcrypt", &body(&hash));
    assert_eq!(exp.try_get("/metrics", Some(("prom", "hashed-pw"))).expect("get").0, 200);
    // The hash itself is not a password (no pass-the-hash).
    assert_eq!(exp.try_get("/metrics", Some(("prom", &hash))).expect("get").0, 401);
    drop(exp);
    // ENC() of "Dameng123." (docs/UPSTREAM.md §1.8 vector).
    let exp = Exporter::start("auth-enc", &body("ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)"));
    assert_eq!(exp.try_get("/metrics", Some(("prom", "Dameng123."))).expect("get").0, 200);
    assert_eq!(
        exp.try_get("/metrics", Some(("prom", "ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)")))
            .expect("get")
            .0,
        401
    );
}
