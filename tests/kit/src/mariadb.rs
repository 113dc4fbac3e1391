//! MariaDB: one fresh database per [`MariaDb`], on a shared server.
//!
//! A server already answering on 127.0.0.1:3306 as root without a password
//! (a developer machine, a CI service) is used as is. Otherwise one `mariadbd`
//! is started for this process and shared by every live [`MariaDb`]; it stops
//! when the last one is dropped.

use crate::ports::free_port;
use crate::process::ServerProcess;
use crate::{random_token, run_cmd};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

/// The shared server, if this process started one.
static SERVER: Mutex<Weak<Server>> = Mutex::new(Weak::new());

struct Server {
    port: u16,
    socket: Option<String>,
    /// `None` for an external server.
    process: Option<Mutex<ServerProcess>>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database, dropped (with `DROP DATABASE`) on drop.
pub struct MariaDb {
    /// `mysql://root@127.0.0.1:PORT/cutover_t_<random>`
    pub url: String,
    pub port: u16,
    pub database: String,
    server: Arc<Server>,
}

impl MariaDb {
    pub fn create() -> anyhow::Result<MariaDb> {
        Self::create_on(shared_server()?)
    }

    /// Like [`MariaDb::create`], but always on a server of its own (that
    /// stops on drop), even if one answers on port 3306.
    pub fn create_private() -> anyhow::Result<MariaDb> {
        Self::create_on(Arc::new(start_server()?))
    }

    fn create_on(server: Arc<Server>) -> anyhow::Result<MariaDb> {
        let database = format!("cutover_t_{}", random_token(6));
        server.sql(&format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))?;
        Ok(MariaDb {
            url: format!("mysql://root@127.0.0.1:{}/{database}", server.port),
            port: server.port,
            database,
            server,
        })
    }

    /// Runs SQL in this database with the `mariadb` client; returns its output.
    pub fn sql(&self, sql: &str) -> anyhow::Result<String> {
        run_cmd(self.server.client().arg(&self.database).args(["-e", sql]))
    }

    /// The server's log (empty for an external server).
    pub fn log(&self) -> String {
        self.server
            .process
            .as_ref()
            .map(|p| p.lock().map(|p| p.log()).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self
            .server
            .sql(&format!("DROP DATABASE IF EXISTS `{}`", self.database));
    }
}

impl Server {
    fn client(&self) -> Command {
        let mut cmd = Command::new("mariadb");
        cmd.args(["--no-defaults", "-uroot", "--batch"]);
        match &self.socket {
            Some(s) => cmd.arg(format!("--socket={s}")),
            None => cmd.args(["-h", "127.0.0.1", "-P", &self.port.to_string()]),
        };
        cmd
    }

    fn sql(&self, sql: &str) -> anyhow::Result<String> {
        run_cmd(self.client().args(["-e", sql]))
    }
}

fn shared_server() -> anyhow::Result<Arc<Server>> {
    let mut guard = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = guard.upgrade() {
        return Ok(s);
    }
    let external = Server {
        port: 3306,
        socket: None,
        process: None,
        _dir: None,
    };
    let s = Arc::new(if external.sql("SELECT 1").is_ok() {
        external
    } else {
        start_server()?
    });
    *guard = Arc::downgrade(&s);
    Ok(s)
}

/// `mariadb-install-db` + `mariadbd` in a temp dir on a free port.
fn start_server() -> anyhow::Result<Server> {
    let dir = crate::server_dir("mariadb")?;
    let d = dir.path();
    let port = free_port()?;
    let user = if crate::is_root() {
        "root".to_owned()
    } else {
        std::env::var("USER").unwrap_or_else(|_| "nobody".into())
    };
    let datadir = format!("--datadir={}/data", d.display());
    let socket = format!("{}/mysql.sock", d.display());
    run_cmd(
        Command::new("mariadb-install-db")
            .args(["--no-defaults", &datadir, &format!("--user={user}")])
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
    )
    .map_err(|e| anyhow::anyhow!("mariadb-install-db: {e:#}"))?;
    let mut cmd = Command::new("mariadbd");
    cmd.args(["--no-defaults", &datadir, &format!("--user={user}")])
        .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
        .arg(format!("--socket={socket}"))
        .arg(format!("--pid-file={}/mariadbd.pid", d.display()))
        .args(["--skip-name-resolve", "--innodb-buffer-pool-size=64M"])
        .args(["--skip-log-bin", "--innodb-flush-log-at-trx-commit=0"]);
    let mut process = ServerProcess::spawn("mariadbd", cmd, &d.join("error.log"), &[])?;
    process.wait_ports(&[port])?;
    let server = Server {
        port,
        socket: Some(socket),
        process: Some(Mutex::new(process)),
        _dir: Some(dir),
    };
    // root over TCP (127.0.0.1), like a developer's server
    server
        .sql(
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; \
             GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
        )
        .map_err(|e| anyhow::anyhow!("{e:#}\n{}", server.log()))?;
    Ok(server)
}

impl Server {
    fn log(&self) -> String {
        self.process
            .as_ref()
            .and_then(|p| p.lock().ok().map(|p| p.log()))
            .unwrap_or_default()
    }
}
