//! A server and a command under a [`FakeClock`]: they read the moved time, follow a change of the
//! offset without a restart, and keep the clock across restarts.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use pgharden_testcluster::{Cluster, ClusterOptions, FakeClock};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: i64 = 86_400;

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Assert that `read` (a time in Unix seconds) falls between the real time before and after it
/// was taken, moved by `offset`. One second of slack each side covers the whole-second rounding.
fn assert_moved_by(
    offset: i64,
    read: impl FnOnce() -> Result<i64, Box<dyn std::error::Error>>,
) -> TestResult {
    let before = unix_now();
    let seen = read()?;
    let after = unix_now();
    assert!(
        before + offset - 1 <= seen && seen <= after + offset + 1,
        "expected the real time moved by {offset} s ({}..{}), the process read {seen}",
        before + offset,
        after + offset
    );
    Ok(())
}

fn server_now(cluster: &Cluster) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(cluster.psql("SELECT extract(epoch FROM clock_timestamp())::bigint")?.parse()?)
}

#[test]
fn a_server_under_a_fake_clock_sees_the_moved_time_and_follows_it_without_a_restart() -> TestResult {
    let clock = FakeClock::new()?;
    clock.set(25 * DAY)?;
    let mut cluster = Cluster::start(ClusterOptions::for_tests()?.envs(clock.env()))?;
    assert_moved_by(25 * DAY, || server_now(&cluster))?;
    // `now()` is the transaction's start, read through the same clock.
    assert_moved_by(25 * DAY, || Ok(cluster.psql("SELECT extract(epoch FROM now())::bigint")?.parse()?))?;

    let pid = cluster.pid().ok_or("no postmaster")?;
    let session_before = cluster.psql("SELECT pg_postmaster_start_time()")?;
    clock.set(31 * DAY)?;
    assert_moved_by(31 * DAY, || server_now(&cluster))?;
    clock.set(-3600)?;
    assert_moved_by(-3600, || server_now(&cluster))?;
    assert_eq!(cluster.pid(), Some(pid), "moving the clock must not restart the server");
    assert_eq!(cluster.psql("SELECT pg_postmaster_start_time()")?, session_before);

    // The environment is given on every start.
    clock.set(2 * DAY)?;
    cluster.restart()?;
    assert_ne!(cluster.pid(), Some(pid));
    assert_moved_by(2 * DAY, || server_now(&cluster))?;
    let environ = std::fs::read(format!("/proc/{}/environ", cluster.pid().ok_or("no postmaster")?))?;
    let environ = String::from_utf8_lossy(&environ);
    let preload = format!("LD_PRELOAD={}", clock.library().display());
    assert!(environ.split('\0').any(|v| v == preload), "{preload} not in the postmaster's environment");
    Ok(())
}

#[test]
fn a_server_without_the_environment_keeps_the_real_clock() -> TestResult {
    let clock = FakeClock::new()?;
    clock.set(40 * DAY)?;
    let cluster = Cluster::start_default()?;
    assert_moved_by(0, || server_now(&cluster))?;
    Ok(())
}

#[test]
fn any_command_gets_the_clock_from_env() -> TestResult {
    let clock = FakeClock::new()?;
    let date = || -> Result<i64, Box<dyn std::error::Error>> {
        let out = Command::new("date").arg("+%s").envs(clock.env()).stdin(Stdio::null()).output()?;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8(out.stdout)?.trim().parse()?)
    };
    assert_moved_by(0, date)?;
    clock.set(17 * 3600)?;
    assert_eq!(clock.offset(), 17 * 3600);
    assert_moved_by(17 * 3600, date)?;
    // `now()` says what the processes read.
    assert_moved_by(17 * 3600, || Ok(clock.now().duration_since(UNIX_EPOCH)?.as_secs() as i64))?;
    Ok(())
}

#[test]
fn the_offset_file_is_readable_by_the_server_account_and_replaced_whole() -> TestResult {
    let clock = FakeClock::new()?;
    clock.set(-90)?;
    assert_eq!(std::fs::read_to_string(clock.path())?, "-90\n");
    clock.set(31 * DAY)?;
    assert_eq!(std::fs::read_to_string(clock.path())?, format!("+{}\n", 31 * DAY));
    let file = std::fs::metadata(clock.path())?;
    assert_eq!(file.permissions().mode() & 0o7777, 0o644);
    let dir_path = clock.path().parent().ok_or("no parent")?;
    let dir = std::fs::metadata(dir_path)?;
    assert_eq!(dir.permissions().mode() & 0o7777, 0o755);
    // Owned by the test, so the server's account can read it but never move the clock itself.
    assert_eq!(file.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(dir.uid(), nix::unistd::geteuid().as_raw());
    let names: Vec<String> = std::fs::read_dir(dir_path)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, ["offset"], "no temporary file is left behind");

    let dir_path = dir_path.to_path_buf();
    drop(clock);
    assert!(!dir_path.exists(), "{} is removed with the clock", dir_path.display());
    Ok(())
}
