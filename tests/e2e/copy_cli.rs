//! `cutover copy` / `cutover verify` through the real binary: the DESIGN.md contract.

use crate::copy::{USER, servers, test_corpus};
use cutover_testkit::DovecotOptions;

use crate::support::run_cutover as cutover;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_verify_commands_follow_the_contract() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    let loaded = legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let pw_file = tmp.path().join("legacy-master");
    std::fs::write(&pw_file, format!("{}\n", legacy.master_password)).unwrap();
    let source = format!("imap://{USER}@127.0.0.1:{}", legacy.imap_port);
    let target_url = format!("imap://{USER}@127.0.0.1:{}", target.imap_port);
    let database = format!("sqlite://{}", tmp.path().join("cutover.db").display());
    let env = [("CUTOVER_TARGET_PASSWORD", target.master_password.as_str())];
    let conn: Vec<&str> = vec![
        "--source",
        &source,
        "--target",
        &target_url,
        "--source-master",
        &legacy.master_user,
        "--target-master",
        &target.master_user,
        "--source-password-file",
        pw_file.to_str().unwrap(),
    ];
    let copy_args = |extra: &[&'static str]| {
        let mut a = vec!["copy"];
        a.extend(conn.iter().copied());
        a.extend(["--database", database.as_str()]);
        a.extend(extra);
        a
    };

    // imap:// without --allow-plaintext insists on STARTTLS, which this server lacks.
    let (code, _, _) = cutover(&copy_args(&["--json"]), &env);
    assert_ne!(code, 0);

    let (code, out, err) = cutover(&copy_args(&["--json", "--allow-plaintext"]), &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    for key in [
        "folders",
        "messages_copied",
        "messages_skipped",
        "bytes",
        "errors",
        "seconds",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["messages_copied"], loaded.messages as u64);
    assert_eq!(json["errors"].as_array().unwrap().len(), 0);

    let (code, out, _) = cutover(&copy_args(&["--json", "--allow-plaintext"]), &env);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["messages_copied"], 0, "second run copies nothing");
    assert_eq!(json["messages_skipped"], loaded.messages as u64);

    let mut verify = vec!["verify"];
    verify.extend(conn.iter().copied());
    verify.push("--allow-plaintext");
    let (code, out, err) = cutover(&verify, &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("target holds every source message"), "{out}");

    // A wrong password is an error with a non-zero exit status.
    let (code, _, err) = cutover(
        &copy_args(&["--allow-plaintext"]),
        &[("CUTOVER_TARGET_PASSWORD", "wrong")],
    );
    assert_ne!(code, 0);
    assert!(
        !err.contains(&legacy.master_password) && !err.contains("wrong"),
        "no password in output: {err}"
    );
}
