//! Integration tests against real PostgreSQL servers.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgharden_testcluster::{Cluster, ClusterOptions, Error, Installation};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Whether a process exists and is not a zombie. A postmaster whose parent (a
/// killed test process) is gone is reparented; if nothing reaps it, it stays a
/// zombie, which counts as gone.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // state is the first field after the parenthesised command name
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !matches!(state.and_then(|s| s.chars().next()), Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

fn wait_until_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !process_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !process_alive(pid)
}

fn pid_from_pidfile(data_dir: &Path) -> Result<u32, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid"))?;
    Ok(text.lines().next().ok_or("empty postmaster.pid")?.trim().parse()?)
}

#[test]
fn starts_answers_and_has_the_expected_layout() -> TestResult {
    let c = Cluster::start_default()?;
    assert!(c.is_running());
    assert_eq!(c.psql("select 1")?, "1");
    let num = c.psql("SHOW server_version_num")?;
    assert!(
        num.starts_with(&c.install().major().to_string()),
        "server_version_num {num} vs major {}",
        c.install().major()
    );
    assert_eq!(c.host(), "127.0.0.1");
    assert_eq!(c.superuser(), "postgres");
    assert_eq!(c.psql("select current_user")?, "postgres");
    assert_eq!(c.psql("SHOW listen_addresses")?, "127.0.0.1");
    assert_eq!(c.psql("SHOW port")?, c.port().to_string());
    assert_eq!(c.psql("SHOW server_encoding")?, "UTF8");

    // Who the server runs as.
    let me = nix::unistd::geteuid().as_raw();
    if me == 0 {
        assert_eq!(c.os_user().name, "postgres");
        assert_ne!(c.os_user().uid, 0);
    } else {
        assert_eq!(c.os_user().uid, me);
    }
    let pid = c.pid().ok_or("no pid")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).ok_or("no Uid line")?;
    let uids: Vec<u32> = uid_line.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>()?;
    assert!(uids.iter().all(|&u| u == c.os_user().uid), "postmaster uids {uids:?}");

    // Layout and ownership.
    for dir in [c.data_dir(), c.socket_dir()] {
        let meta = std::fs::metadata(dir)?;
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700, "{}", dir.display());
        assert_eq!(meta.uid(), c.os_user().uid, "{}", dir.display());
        assert_eq!(meta.gid(), c.os_user().gid, "{}", dir.display());
    }
    assert_eq!(std::fs::metadata(c.log_path())?.uid(), c.os_user().uid);
    assert_eq!(c.data_dir(), c.root_dir().join("data"));
    assert!(c.socket_path().exists());
    assert_eq!(c.psql("SHOW data_directory")?, c.data_dir().display().to_string());

    // Listening on TCP.
    TcpStream::connect((c.host(), c.port()))?;
    assert_eq!(c.tcp_conninfo(), format!("host=127.0.0.1 port={}", c.port()));

    // The log has the startup messages.
    assert!(c.log_len() > 0);
    assert!(c.log().contains("database system is ready to accept connections"), "{}", c.log());
    Ok(())
}

#[test]
fn bad_hba_line_fails_reload_and_server_keeps_answering() -> TestResult {
    let c = Cluster::start_default()?;
    c.write_hba("local all all trust\nthis is not a valid line\n")?;
    let err = c.reload().expect_err("reload with a broken pg_hba.conf must fail");
    let msg = err.to_string();
    assert!(matches!(err, Error::Reload { .. }), "{msg}");
    assert!(msg.contains("pg_hba.conf"), "{msg}");
    assert!(msg.contains("was not reloaded"), "{msg}");
    // The old pg_hba.conf is still in force.
    assert!(c.is_running());
    assert_eq!(c.psql("select 42")?, "42");

    // Repair it: reload succeeds again.
    c.write_hba("local all all trust\nhost all all 127.0.0.1/32 trust\n")?;
    let offset = c.log_len();
    c.reload()?;
    // reload() itself leaves no trace beyond the server's own message.
    let new_lines: Vec<String> = c.log_since(offset).lines().map(str::to_owned).collect();
    assert_eq!(new_lines.len(), 1, "{new_lines:?}");
    assert!(new_lines[0].contains("received SIGHUP, reloading configuration files"));
    assert_eq!(c.psql("select 43")?, "43");
    Ok(())
}

#[test]
fn bad_postgresql_conf_fails_reload_good_change_applies() -> TestResult {
    let c = Cluster::start_default()?;
    c.append_conf("work_mem = '7MB'")?;
    c.reload()?;
    assert_eq!(c.psql("SHOW work_mem")?, "7MB");

    c.append_conf("work_mem = 'not a size'")?;
    let err = c.reload().expect_err("invalid postgresql.conf must fail the reload");
    let msg = err.to_string();
    assert!(msg.contains("contains errors"), "{msg}");
    assert!(msg.contains("work_mem"), "{msg}");
    assert_eq!(c.psql("SHOW work_mem")?, "7MB");
    Ok(())
}

#[test]
fn reload_does_not_need_a_login_and_psql_uses_peer() -> TestResult {
    let c = Cluster::start_default()?;
    // Only peer over the socket, TCP rejected: reload must still finish, and
    // psql() must still get in because it runs as the cluster's OS user.
    // Peer requires OS user name = role name unless mapped; the map covers a
    // non-root run, where the OS user is not "postgres".
    let hba = "local all all peer map=m\nhost all all 127.0.0.1/32 reject\n";
    c.write_ident(&format!("m {} postgres\n", c.os_user().name))?;
    c.write_hba(hba)?;
    c.reload()?;
    assert_eq!(c.psql("select 'peer ok'")?, "peer ok");

    let out = c
        .psql_command()
        .args(["-X", "-A", "-t", "-d"])
        .arg(format!("{} user=postgres dbname=postgres", c.tcp_conninfo()))
        .args(["-c", "select 1"])
        .stdin(Stdio::null())
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_hba.conf rejects connection"), "{stderr}");
    Ok(())
}

#[test]
fn psql_command_runs_as_caller_with_clean_environment() -> TestResult {
    let c = Cluster::start_default()?;
    let cmd = c.psql_command();
    let envs: Vec<(String, Option<String>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned())))
        .collect();
    let get = |key: &str| envs.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.clone());
    let home = PathBuf::from(get("HOME").ok_or("HOME not set")?);
    assert!(home.is_dir());
    assert_eq!(std::fs::read_dir(&home)?.count(), 0, "HOME must be empty");
    assert_eq!(std::fs::metadata(&home)?.uid(), nix::unistd::geteuid().as_raw());
    for key in ["PGSERVICEFILE", "PGSYSCONFDIR"] {
        let p = PathBuf::from(get(key).ok_or(key)?);
        assert!(!p.exists(), "{key} must point to nothing");
    }

    let out = c
        .psql_command()
        .args(["-X", "-A", "-t", "-d"])
        .arg(format!("{} user=postgres dbname=postgres", c.tcp_conninfo()))
        .args(["-c", "select 2"])
        .stdin(Stdio::null())
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    Ok(())
}

#[test]
fn psql_errors_carry_stderr_and_sql_and_statements_run_in_order() -> TestResult {
    let c = Cluster::start_default()?;
    let err = c.psql("select 1;\nselect * from no_such_table;").expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("no_such_table\" does not exist"), "{msg}");
    assert!(msg.contains("select * from no_such_table;"), "{msg}");

    // Multiple statements, including ones that cannot run in a transaction.
    c.psql("create database other;\ncreate table t(x int);")?;
    c.psql_db("other", "create table u(y text); insert into u values ('é')")?;
    assert_eq!(c.psql_db("other", "select y from u")?, "é");
    assert_eq!(c.psql("select count(*) from t")?, "0");
    Ok(())
}

#[test]
fn two_clusters_in_parallel_get_different_ports() -> TestResult {
    let handles: Vec<_> = (0..2).map(|_| std::thread::spawn(Cluster::start_default)).collect();
    let mut clusters = Vec::new();
    for h in handles {
        clusters.push(h.join().map_err(|_| "thread panicked")??);
    }
    let (a, b) = (&clusters[0], &clusters[1]);
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    assert_eq!(a.psql("SHOW port")?, a.port().to_string());
    assert_eq!(b.psql("SHOW port")?, b.port().to_string());
    Ok(())
}

#[test]
fn drop_stops_the_server_and_removes_the_directory() -> TestResult {
    let c = Cluster::start_default()?;
    let root = c.root_dir().to_path_buf();
    let pid = pid_from_pidfile(c.data_dir())?;
    assert_eq!(Some(pid), c.pid());
    assert!(process_alive(pid));
    drop(c);
    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!process_alive(pid), "postmaster {pid} still alive");
    Ok(())
}

#[test]
fn restart_keeps_the_port() -> TestResult {
    let mut c = Cluster::start_default()?;
    let port = c.port();
    let pid = c.pid().ok_or("no pid")?;
    c.append_conf("shared_buffers = '16MB'")?;
    c.restart()?;
    assert_eq!(c.port(), port);
    assert_ne!(c.pid(), Some(pid));
    assert!(!process_alive(pid));
    assert_eq!(c.psql("SHOW shared_buffers")?, "16MB");
    assert_eq!(c.psql("SHOW port")?, port.to_string());

    c.stop()?;
    assert!(!c.is_running());
    assert!(c.psql("select 1").is_err());
    assert!(matches!(c.reload(), Err(Error::NotRunning { .. })));
    c.stop()?; // idempotent
    c.start_server()?;
    assert!(matches!(c.start_server(), Err(Error::AlreadyRunning { .. })));
    assert_eq!(c.port(), port);
    assert_eq!(c.psql("select 1")?, "1");
    Ok(())
}

#[test]
fn init_then_configure_then_start() -> TestResult {
    let opts = ClusterOptions::for_tests()?.setting("work_mem", "3MB").initdb_arg("--data-checksums");
    let mut c = Cluster::init(opts)?;
    assert!(!c.is_running());
    assert!(c.data_dir().join("PG_VERSION").exists());
    c.append_conf("log_connections = on")?;
    c.start_server()?;
    assert_eq!(c.psql("SHOW log_connections")?, "on");
    assert_eq!(c.psql("SHOW data_checksums")?, "on");
    assert_eq!(c.psql("SHOW fsync")?, "off");
    assert_eq!(c.psql("SHOW work_mem")?, "3MB");
    assert_eq!(c.psql("select source from pg_settings where name = 'work_mem'")?, "command line");
    // Documented behaviour: command-line settings beat postgresql.conf.
    c.append_conf("work_mem = '9MB'")?;
    c.reload()?;
    assert_eq!(c.psql("SHOW work_mem")?, "3MB");
    Ok(())
}

#[test]
fn write_file_sets_owner_and_mode() -> TestResult {
    let c = Cluster::start_default()?;
    let p = c.write_file("server.key", b"not really a key\n", 0o600)?;
    assert_eq!(p, c.data_dir().join("server.key"));
    let meta = std::fs::metadata(&p)?;
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), c.os_user().uid);
    assert_eq!(std::fs::read(&p)?, b"not really a key\n");

    // Overwrite with a wider mode, in a new subdirectory.
    let p = c.write_file("conf.d/extra.conf", b"work_mem = '5MB'\n", 0o640)?;
    let meta = std::fs::metadata(&p)?;
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), c.os_user().uid);
    let dmeta = std::fs::metadata(c.data_dir().join("conf.d"))?;
    assert_eq!(dmeta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(dmeta.uid(), c.os_user().uid);

    // The server can read what we wrote.
    c.append_conf("include_dir = 'conf.d'")?;
    c.reload()?;
    assert_eq!(c.psql("SHOW work_mem")?, "5MB");

    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(c.data_dir())?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".testcluster-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    for bad in ["", "/etc/passwd", "../x", "a/../../x", "./x"] {
        assert!(matches!(c.write_file(bad, b"", 0o600), Err(Error::InvalidPath { .. })), "{bad:?} accepted");
    }
    Ok(())
}

#[test]
fn startup_failure_reports_command_and_log_tail() -> TestResult {
    let opts = ClusterOptions::for_tests()?.setting("shared_buffers", "bogus");
    let err = Cluster::start(opts).expect_err("bogus shared_buffers must fail");
    let msg = err.to_string();
    assert!(matches!(err, Error::StartFailed { .. }), "{msg}");
    assert!(msg.contains("shared_buffers=bogus"), "command missing: {msg}");
    assert!(msg.contains("invalid value for parameter \"shared_buffers\""), "log tail missing: {msg}");
    Ok(())
}

#[test]
fn missing_installation_says_what_to_install() {
    let err = Installation::debian(99).expect_err("there is no PostgreSQL 99");
    let msg = err.to_string();
    assert!(msg.contains("apt-get install postgresql-99"), "{msg}");
    let err = Installation::from_bindir("/nonexistent/bin").expect_err("no such dir");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/bin/initdb"), "{msg}");
    assert!(msg.contains("PGHARDEN_TEST_PGBIN"), "{msg}");
}

#[test]
fn installation_for_tests_is_usable() -> TestResult {
    let inst = Installation::for_tests()?;
    assert!(inst.major() >= 10);
    assert!(inst.version().starts_with(&inst.major().to_string()));
    assert!(inst.bin("initdb").is_file());
    assert_eq!(inst.bin("postgres"), inst.bindir().join("postgres"));
    assert_eq!(Installation::from_bindir(inst.bindir())?, inst);
    Ok(())
}

#[test]
fn panicking_test_still_cleans_up() -> TestResult {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let c = Cluster::start_default().expect("cluster starts");
        tx.send((c.root_dir().to_path_buf(), c.pid().expect("running"))).expect("receiver alive");
        panic!("simulated test failure while a cluster is alive");
    });
    assert!(handle.join().is_err(), "the thread should have panicked");
    let (root, pid) = rx.recv()?;
    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!process_alive(pid), "postmaster {pid} survived the panic");
    Ok(())
}

/// Shared clusters live in statics; the thread that created one ends long
/// before the process. The parent-death signal must follow the process, not
/// that thread.
#[test]
fn server_outlives_the_thread_that_started_it() -> TestResult {
    let c = std::thread::spawn(Cluster::start_default).join().map_err(|_| "thread panicked")??;
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.is_running());
    assert_eq!(c.psql("select 1")?, "1");
    Ok(())
}

const CHILD_ENV: &str = "TESTCLUSTER_PDEATHSIG_CHILD";

/// Run by `killed_test_process_takes_its_server_along` in a child process.
#[test]
#[ignore = "helper, run in a child process by killed_test_process_takes_its_server_along"]
fn pdeathsig_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let c = Cluster::start_default().expect("cluster starts");
    println!("CLUSTER {} {}", c.pid().expect("running"), c.root_dir().display());
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn killed_test_process_takes_its_server_along() -> TestResult {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "pdeathsig_child", "--ignored", "--nocapture"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut found = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("CLUSTER ") {
            let (pid, root) = rest.split_once(' ').ok_or("bad line")?;
            found = Some((pid.parse::<u32>()?, PathBuf::from(root)));
            break;
        }
    }
    let Some((pid, root)) = found else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("child test process did not start a cluster".into());
    };
    assert!(process_alive(pid));
    child.kill()?; // SIGKILL: no destructors run in the child
    child.wait()?;
    let gone = wait_until_gone(pid, Duration::from_secs(30));
    // Clean up what the killed process could not.
    if !gone {
        let _ =
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(gone, "postmaster {pid} survived the death of its test process");
    Ok(())
}

#[test]
fn taken_port_is_replaced_on_first_start_only() -> TestResult {
    let mut c = Cluster::init(ClusterOptions::for_tests()?)?;
    let planned = c.port();
    let blocker = std::net::TcpListener::bind(("127.0.0.1", planned))?;
    c.start_server()?;
    assert_ne!(c.port(), planned, "must have moved to another port");
    assert!(c.log().contains("Address already in use"), "{}", c.log());
    assert_eq!(c.psql("SHOW port")?, c.port().to_string());
    drop(blocker);

    // Once started, the port is part of the cluster's identity: no silent move.
    let port = c.port();
    c.stop()?;
    let blocker = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let err = c.start_server().expect_err("port is taken");
    let msg = err.to_string();
    assert!(msg.contains("Address already in use"), "{msg}");
    assert_eq!(c.port(), port);
    drop(blocker);
    c.start_server()?;
    assert_eq!(c.psql("select 1")?, "1");
    Ok(())
}

#[test]
fn cluster_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cluster>();
    assert_send_sync::<Installation>();
    assert_send_sync::<Error>();
}

/// A server restarted with `pg_ctl` (as the code under test may do) is adopted: `reload` reaches
/// it and dropping the cluster stops it.
#[test]
fn a_server_restarted_with_pg_ctl_is_adopted_and_stopped() {
    let cluster = Cluster::start_default().unwrap();
    let pg_ctl = cluster.install().bin("pg_ctl");
    let data = cluster.data_dir().to_path_buf();
    let user = cluster.os_user().clone();
    let mut cmd = Command::new(&pg_ctl);
    cmd.args(["restart", "-D"]).arg(&data).args(["-m", "fast", "-w", "-l"]).arg(cluster.log_path());
    if nix::unistd::Uid::effective().is_root() {
        use std::os::unix::process::CommandExt;
        cmd.uid(user.uid).gid(user.gid);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(cluster.psql("select 1").unwrap(), "1");
    let pid = cluster.pid().expect("the restarted server is found through postmaster.pid");
    cluster.reload().unwrap();
    drop(cluster);
    assert!(wait_until_gone(pid, Duration::from_secs(10)), "the adopted postmaster {pid} must be stopped");
}
