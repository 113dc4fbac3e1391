//! The UID-map lookups of CONDSTORE delta passes, on SQLite and MariaDB.

use cutover_core::db::Db;
use cutover_core::db::sync_index::{MapSummary, SyncIndexRepo};
use cutover_core::db::sync_state::{MessageRow, SyncStateRepo};

fn row(source_uid: u32, target_uid: Option<u32>) -> MessageRow {
    MessageRow {
        source_uid,
        target_uid,
        flags: format!("\\Seen {source_uid}"),
        ident: format!("id-{source_uid}"),
    }
}

async fn suite(db: &Db) {
    db.migrate().await.unwrap();
    let (f, _) = db
        .open_folder("alice", "INBOX", "INBOX", 7, 9)
        .await
        .unwrap();
    assert_eq!(db.map_summary(f.id).await.unwrap(), MapSummary::default());

    let rows: Vec<MessageRow> = (1..=1200)
        .map(|u| row(u, (u != 1100).then_some(u + 10)))
        .collect();
    db.put_messages(f.id, &rows).await.unwrap();
    let (other, _) = db.open_folder("alice", "Sent", "Sent", 7, 9).await.unwrap();
    db.put_messages(other.id, &[row(5000, Some(1))])
        .await
        .unwrap();

    let s = db.map_summary(f.id).await.unwrap();
    assert_eq!(
        s,
        MapSummary {
            rows: 1200,
            max_source_uid: 1200,
            in_flight: 1
        }
    );
    // More UIDs than one query takes; unknown ones are left out.
    let want: Vec<u32> = (1..=1300).step_by(2).collect();
    let mut got = db.sync_messages_in(f.id, &want).await.unwrap();
    got.sort_unstable_by_key(|r| r.source_uid);
    assert_eq!(got.len(), 600);
    assert_eq!(got[0], rows[0]);
    assert_eq!(got[599], rows[1198]);
    assert!(db.sync_messages_in(f.id, &[]).await.unwrap().is_empty());

    let mapped = db.mapped_uids(f.id).await.unwrap();
    assert_eq!(mapped.len(), 1200);
    assert_eq!(mapped[0], (1, Some(11)));
    assert_eq!(mapped[1099], (1100, None));
    assert!(mapped.windows(2).all(|w| w[0].0 < w[1].0));
}

#[tokio::test]
async fn uid_map_lookups_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/m.db", dir.path().display()))
        .await
        .unwrap();
    suite(&db).await;
}

#[tokio::test]
async fn uid_map_lookups_on_mariadb() {
    let maria = cutover_testkit::MariaDb::create().expect("MariaDB must be available");
    let db = Db::connect(&maria.url).await.unwrap();
    suite(&db).await;
}
