//! Benchmark (not a test): `pgharden lock` + `restore` against the STIG supplement's Appendix A
//! script (`benches/data/appendix-a-no_login.sh`, DISA's public-domain script as printed, with the
//! three faults that stop it running fixed; `PGHARDEN_APPENDIX_A=FILE` runs another copy).
//!
//! Prints, in one run, pgharden's lock and restore times for 10,000 login roles, and the script's
//! for a smaller number of roles (it runs one psql process per role, about 100 ms each, so 10,000
//! would take some 17 minutes) together with its per-role cost scaled to 10,000.
//!
//! Run: `cargo bench -p pgharden --bench lock` (PGHARDEN_BENCH_ROLES, PGHARDEN_BENCH_SCRIPT_ROLES
//! change the sizes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pgharden_testcluster::Cluster;

fn main() {
    let roles: usize = env_usize("PGHARDEN_BENCH_ROLES", 10_000);
    let script_roles: usize = env_usize("PGHARDEN_BENCH_SCRIPT_ROLES", 200);
    let bin = env!("CARGO_BIN_EXE_pgharden");
    let script = match std::env::var_os("PGHARDEN_APPENDIX_A") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/appendix-a-no_login.sh"),
    };
    assert!(script.is_file(), "{} is missing (PGHARDEN_APPENDIX_A names another copy)", script.display());
    println!("Appendix A script: {}", script.display());

    let ours = with_roles(roles);
    let conn =
        format!("host={} port={} user=postgres dbname=postgres", ours.socket_dir().display(), ours.port());
    let restore_file = tempfile::tempdir().expect("tempdir");
    let restore_path = restore_file.path().join(".restore_login");
    let lock = time(Command::new(bin).args([
        "lock",
        &conn,
        "--restore-file",
        restore_path.to_str().expect("utf-8"),
    ]));
    assert_eq!(ours.psql("SELECT count(*) FROM pg_roles WHERE rolcanlogin").expect("count"), "1");
    let restore = time(Command::new(bin).args(["restore", &conn]));
    assert_eq!(
        ours.psql("SELECT count(*) FROM pg_roles WHERE rolcanlogin").expect("count"),
        (roles + 1).to_string()
    );
    drop(ours);

    let theirs = with_roles(script_roles);
    let work = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::chown(work.path(), Some(theirs.os_user().uid), Some(theirs.os_user().gid))
        .expect("chown");
    let script_lock = time(&mut script_command(&theirs, &script, work.path(), "-l"));
    assert_eq!(
        theirs.psql("SELECT count(*) FROM pg_roles WHERE rolcanlogin").expect("count"),
        "1",
        "the script locked them all"
    );
    let script_restore = time(&mut script_command(&theirs, &script, work.path(), "-r"));
    assert_eq!(
        theirs.psql("SELECT count(*) FROM pg_roles WHERE rolcanlogin").expect("count"),
        (script_roles + 1).to_string()
    );

    let scale = roles as f64 / script_roles as f64;
    println!("emergency lockout of login roles (PGS9-00-011600), PostgreSQL {}", theirs.install().version());
    println!();
    println!("{:<34} {:>10} {:>12} {:>14}", "", "roles", "lock", "restore");
    println!("{:<34} {:>10} {:>12} {:>14}", "pgharden", roles, ms(lock), ms(restore));
    println!(
        "{:<34} {:>10} {:>12} {:>14}",
        "Appendix A script (measured)",
        script_roles,
        ms(script_lock),
        ms(script_restore)
    );
    println!(
        "{:<34} {:>10} {:>12} {:>14}",
        "Appendix A script (scaled)",
        roles,
        secs(script_lock.mul_f64(scale)),
        secs(script_restore.mul_f64(scale))
    );
    println!();
    println!(
        "per role: pgharden {:.3} ms lock / {:.3} ms restore; script {:.1} ms / {:.1} ms (one psql process per ALTER ROLE)",
        lock.as_secs_f64() * 1000.0 / roles as f64,
        restore.as_secs_f64() * 1000.0 / roles as f64,
        script_lock.as_secs_f64() * 1000.0 / script_roles as f64,
        script_restore.as_secs_f64() * 1000.0 / script_roles as f64
    );
    println!(
        "speed-up at {roles} roles (script scaled linearly): lock {:.0}x, restore {:.0}x",
        script_lock.as_secs_f64() * scale / lock.as_secs_f64(),
        script_restore.as_secs_f64() * scale / restore.as_secs_f64()
    );
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn with_roles(n: usize) -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster
        .psql(&format!("DO $$ BEGIN FOR i IN 1..{n} LOOP EXECUTE format('CREATE ROLE %I LOGIN', 'user_' || i); END LOOP; END $$"))
        .expect("create roles");
    cluster
}

/// The script as its users run it: as the cluster owner, psql reaching the server through PG*.
fn script_command(cluster: &Cluster, script: &Path, dir: &Path, action: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(["-d", "postgres", action]).current_dir(dir);
    cmd.env("PGHOST", cluster.socket_dir())
        .env("PGPORT", cluster.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres");
    if nix::unistd::Uid::effective().is_root() {
        use std::os::unix::process::CommandExt;
        cmd.uid(cluster.os_user().uid).gid(cluster.os_user().gid);
    }
    cmd
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}
