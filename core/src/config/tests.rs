use super::*;
use std::io::Write;

fn write(s: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(s.as_bytes()).unwrap();
    f
}

#[test]
fn unknown_key_is_named() {
    let f = write("[database]\nurl = \"sqlite://x.db\"\nbogus_key = 1\n");
    let err = Config::load(Some(f.path())).unwrap_err().to_string();
    assert!(err.contains("bogus_key"), "{err}");
}

#[test]
fn unknown_section_is_named() {
    let f = write("[databse]\nurl = \"x\"\n");
    let err = Config::load(Some(f.path())).unwrap_err().to_string();
    assert!(err.contains("databse"), "{err}");
}

#[test]
fn secret_from_file_and_layers() {
    let secret = write("s3cret\n");
    let f = write(&format!(
        "[ldap]\nbind_dn = \"cn=admin\"\nbind_password_file = \"{}\"\n[worker]\nconcurrency = 7\n",
        secret.path().display()
    ));
    let fig = Config::figment(Some(f.path())).merge(("worker.concurrency", 9));
    let cfg = Config::from_figment(fig).unwrap();
    assert_eq!(
        cfg.ldap
            .bind_password
            .as_ref()
            .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string()),
        Some("s3cret".into())
    );
    assert_eq!(cfg.worker.concurrency, 9, "CLI layer wins over the file");
    assert_eq!(cfg.ldap.bind_dn, "cn=admin");
}

#[test]
fn inline_and_file_secret_conflict() {
    let secret = write("a");
    let f = write(&format!(
        "[ldap]\nbind_password = \"b\"\nbind_password_file = \"{}\"\n",
        secret.path().display()
    ));
    let err = Config::load(Some(f.path())).unwrap_err().to_string();
    assert!(err.contains("ldap.bind_password"), "{err}");
}

#[test]
fn plaintext_needs_consent() {
    let f = write("[legacy]\nsecurity = \"plain\"\n");
    let err = Config::load(Some(f.path())).unwrap_err().to_string();
    assert!(err.contains("allow_plaintext"), "{err}");
}

#[test]
fn demo_config_documents_valid_keys() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/demo.toml"
    ));
    let cfg = Config::load(Some(path)).unwrap();
    assert_eq!(cfg.legacy.port, 14143);
    assert_eq!(cfg.ldap.flag_attribute, "mailHost");
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail error type
fn env_layer_overrides_file_and_unknown_env_key_is_named() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "[worker]\nconcurrency = 2\n")?;
        jail.set_env("CUTOVER_WORKER__CONCURRENCY", "6");
        jail.set_env("CUTOVER_SOURCE_PASSWORD", "not-config");
        jail.set_env("CUTOVER_DEMO_LEGACY_IMAP", "14143");
        let cfg = Config::load(Some(std::path::Path::new("c.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(cfg.worker.concurrency, 6);
        jail.set_env("CUTOVER_WORKER__CONCURENCY", "6");
        let err = Config::load(Some(std::path::Path::new("c.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurency"), "{err}");
        Ok(())
    });
}
