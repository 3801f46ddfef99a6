//! Every flag of the command line, defined once. Help, the man page and shell completions are all
//! generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pgharden_pki::KeyType;

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 a check found a problem (e.g. `pki verify` rejected the certificate),
2 a usage or runtime error.";

/// Take a PostgreSQL cluster to the DISA STIG / mutual-TLS posture, and prove it.
#[derive(Debug, Parser)]
#[command(name = "pgharden", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Certificates: the STIG Appendix G root CA, server and client intermediate CAs, leaves, CRLs.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// The whole job on a throwaway local cluster: initdb, PKI, apply, and proof that it holds.
    #[command(after_help = "\
Creates DIR/data (a new cluster, owned by `postgres` when run as root), DIR/run (its socket) and
DIR/pki (the Appendix G hierarchy; CA keys NOT encrypted: it is a demo), starts the server on
127.0.0.1, applies the stig profile, and then proves it: a verify-full connection with a client
certificate works, while plaintext and TLS without a certificate are refused. Run it again to reuse
the same cluster. It prints the psql command to connect, and how to stop the server.")]
    Quickstart(QuickstartArgs),
    /// Take a cluster to the STIG / mutual-TLS posture: plan, write with backups, validate, reload or restart.
    #[command(after_help = "\
What the stig profile sets (Appendices B, C, E and G of the STIG supplement):
  TLS: server.pem (the key, then the certificate and its intermediate: one file, mode 0600, so the
       pair can never mismatch; ssl_cert_file and ssl_key_file both name it), root.crt, root.crl into
       PGDATA; ssl = on, ssl_min_protocol_version = TLSv1.2, strong ssl_ciphers. The certificates come
       from --pki, or from another CA with --cert, --key, --ca and --crl.
  pg_hba.conf: the owner's `local … peer` line first, `hostssl … cert clientcert=verify-full map=pgharden`
       for each --allow network (with --level verify-server or encrypt: `hostssl … scram-sha-256`),
       `hostnossl … reject`; every other line is commented out, not deleted.
  pg_ident.conf: map pgharden: every certificate CN to the role of the same name, plus the
       CN of each `pki client --cn` certificate (from the PKI ledger) to its role (mutual only).
  Logging (Appendix C), pgaudit (Appendix B), pgcrypto (Appendix E), scram-sha-256. Values chosen
       per major version: PostgreSQL 18 gets ssl_tls13_ciphers and ssl_groups, and keeps a
       log_connections list that logs at least receipt, authentication and authorization; 14 to 17
       get ssl_ecdh_curve.
On a Debian cluster (configuration in /etc/postgresql/VERSION/NAME, made by pg_createcluster), apply
keeps Debian's conventions unless --no-debian-conventions: restarts go through pg_ctlcluster, the
collector writes the log pg_lsclusters shows (/var/log/postgresql/postgresql-VERSION-NAME.log, which
pg_ctlcluster creates 0640 for group adm and Debian's logrotate rotates), and postgresql.conf stays
readable by all (0644).
The plan's \"Debian conventions kept:\" section names the audit rules each one costs.
With --server-key-passphrase-file the key in server.pem is encrypted and the server reads the
passphrase from server.key.pass beside postgresql.conf (see that option for the trade-off).
Every changed file is kept as FILE.pgharden-TIMESTAMP. The server checks the new files before it
loads them; if it refuses them, or the reload or restart fails, every file is put back (and the
error quotes the server's FATAL line).

Without pgaudit installed, Appendix B cannot be met: the rest is still applied, and the plan, the
summary and --json (\"unmet\") say NOT MET with the command that installs it.

Exit codes:
  0  the stig profile is in place (with --plan: the plan was printed and nothing is unmet);
  1  part of it is not: pgaudit is not installed (unless --allow-missing-pgaudit), or a second
     plan still finds changes; without --plan, everything else was applied;
  2  usage or runtime error: nothing was changed, or every file was put back (the error says
     so, or which file could not be).

Examples:
  pgharden apply --pgdata /var/lib/postgresql/15/main --pki /etc/pgharden/pki --host db1.example.com --plan
  sudo pgharden apply --pgdata /var/lib/pgsql/15/data --pki pki --host db1 --allow 10.0.0.0/8 --yes
  sudo pgharden apply --pgdata /var/lib/postgresql/15/main --pki /etc/pgharden/pki --host db1 --yes \\
      --no-debian-conventions
  sudo pgharden apply --pgdata /var/lib/postgresql/15/main --pki /etc/pgharden/pki --host db1 --yes \\
      --level verify-server      # passwords over verify-full TLS; the plan names the STIG rules it fails
  sudo pgharden apply --pgdata /var/lib/postgresql/15/main --pki /etc/pgharden/pki --host db1 --yes \\
      --server-key-passphrase-file /root/db1-key-passphrase
  sudo pgharden apply --pgdata /var/lib/postgresql/15/main --host db1.example.com --yes \\
      --cert /etc/step/db.crt --key /etc/step/db.key --ca /etc/step/clients_ca.crt --crl /etc/step/clients.crl")]
    Apply(ApplyArgs),
    /// Prove the posture: every automatable STIG rule, judged on files, settings and the live server.
    #[command(after_help = "\
Rules come from pgharden's catalogue of the PostgreSQL STIGs (PGS9 V2R5, Crunchy Data CD12 V3R1 and
CD16 V1R1, linked by SRG). Each finding is PASS, FAIL, NOT CHECKED (the evidence could not be had:
no superuser, no file access, no TCP listener; never counted as a pass) or MANUAL (a person must
judge; the finding says what to look at). Host rules (FIPS mode) are reported in their own area;
--scope cluster leaves them out.

Exit codes (a CI gate can rely on them):
  0  every rule at or above --fail-on passed (or is MANUAL);
  1  one failed, or could not be checked (NOT CHECKED counts unless --allow-not-checked);
     a closed pipe (`pgharden audit | head`) does not change that;
  2  usage error, or the audit reached nothing: no such data directory, connection refused,
     authentication failed, no such database. A stopped server with a readable data directory
     still has its files judged: the SQL and network rules are NOT CHECKED, so the exit code is 1.
What the organization approved is given with --approved-superuser, --approved-mapping,
--approved-admin and --approved-language; those are then not findings.

Examples:
  sudo pgharden audit --pgdata /var/lib/postgresql/15/main
  sudo pgharden audit --pgdata $PGDATA --approved-superuser jane --approved-mapping app:backup
  pgharden audit --coverage
  pgharden audit 'host=db1 user=auditor sslmode=verify-full' --format sarif --output pgharden.sarif
  pgharden audit --pgdata $PGDATA --format ckl --benchmark U_CD_Postgres_16_STIG_V1R1_Manual-xccdf.xml -o db1.ckl")]
    Audit(AuditArgs),
    /// What the network says about servers, without credentials: TLS versions, suites, certificates, pg_hba answers.
    #[command(after_help = "\
For each target: sends an SSLRequest and a GSSENCRequest; scans SSLv2, SSLv3 and TLS 1.0 to 1.3,
listing every cipher suite each version accepts in the server's order (with key exchange, forward
secrecy and weaknesses), the groups and the DHE prime size; reads the served certificate chain
(checked against --sslrootcert under verify-ca and verify-full, and each certificate against the
CRLs of --sslcrl); tries direct TLS (PostgreSQL 17+); and starts up as --user/--dbname in
plaintext and over TLS without a client certificate to see whether pg_hba.conf refuses. No
password is ever sent.

Targets come from the command line and --targets FILE (one per line; # starts a comment; blank
lines are ignored), are probed --jobs at a time, and are reported in the order given, followed by
a summary: targets answered and not, versions older than TLS 1.2, suites without forward secrecy,
weak suites. Each probe of a target is bounded by --timeout, so a dead target costs its timeout,
not the run. --json prints {\"format\": 2, \"targets\": [...], \"summary\": {...}} (README, \"Proving it\").

Exit codes: 0 every target answered and its facts are printed; 2 no target answered the first
SSLRequest (connection refused, no route, a name that does not resolve, no answer in time) -- or,
with several targets, some did not: every report and the summary are printed first, then exit 2.

Examples:
  pgharden probe db1.example.com:5432 --sslrootcert pki/root/ca.crt --sslcrl pki/crls.pem
  pgharden probe db1:5432 db2:5433 --targets fleet.txt --jobs 16 --timeout 5 --json")]
    Probe(ProbeArgs),
    /// Explain a connection that fails (or works weaker than it looks), step by step, with the fix for each.
    #[command(after_help = "\
Takes the connection string psql was given and follows it as a DBA would, step by step; each step
prints what it saw, its verdict (ok, warn, FAIL, skipped) and the fix, as a command or an exact
setting:
  1 resolve       the host name and the addresses tried (or hostaddr)
  2 tcp           the TCP connection, and the client address the server sees
  3 ssl-request   the server's answer to an SSLRequest: 'S' (TLS) or 'N' (ssl = off)
  4 server-chain  the served chain against sslrootcert (default ~/.postgresql/root.crt): missing
                  file, wrong CA, intermediate not sent, expired, revoked, a CA without a CRL in sslcrl
  5 host-name     the host against the certificate's SANs (the CN only when there is no SAN of the
                  host's type): why verify-full fails where require works
  6 client-cert   sslcert/sslkey: libpq's key file mode rule (0600, or 0640 owned by root),
                  clientAuth, and with --pgdata: issued by a CA of ssl_ca_file, revoked per
                  ssl_crl_file, a CA of its chain without a CRL there
  7 pg-hba        with --pgdata: the pg_hba.conf line this connection matches, and the later lines
                  it shadows (a host line before hostssl ... cert)
  8 sslmode       plaintext, prefer's and allow's downgrade, require without server authentication
Then it connects for real, with libpq's rules, and names the step that explains the error.
No password is sent except in that last connection, the one you asked for.

--pgdata reads the server's postgresql.conf, pg_hba.conf, ssl_ca_file and ssl_crl_file (as the
data directory's owner when run as root). --json prints {\"format\": 1, \"steps\": [...],
\"connection\": {...}}.

Exit codes: 0 every step is ok and the connection works; 1 a step failed or warned, or the
connection failed; 2 doctor could not run (a bad connection string, a Unix socket).

Examples:
  pgharden doctor 'host=db1.example.com user=bob sslmode=verify-full sslrootcert=root.crt'
  pgharden doctor 'host=db1 user=bob sslcert=bob.crt sslkey=bob.key' --pgdata $PGDATA
  pgharden doctor 'postgresql://bob@db1/app?sslmode=require' --json")]
    Doctor(DoctorArgs),
    /// Emergency lockout (STIG PGS9-00-011600): every login role but yours and --keep becomes NOLOGIN.
    #[command(after_help = "\
Needs a superuser connection; any other is refused before anything changes, and so is a --keep
role that does not exist. Which roles were locked is recorded in the same transaction as the
locking, in the table pgharden.locked_roles of the connected database, so a crash at any point
leaves nothing locked and unrecorded. That table is used only if it can be trusted: schema and
table owned by superusers, no triggers, rules, policies or code outside pg_catalog, nothing granted
to other roles. Otherwise (anyone with CREATE on the database could have made it) it is neither
read nor written, the output says why, and the roles are recorded in a ledger of pgharden's own,
pgharden_<16 hex digits>.locked_roles. Their sessions are then terminated in every database. The
list is also written to a restore file (mode 0600), as the STIG's script did; its first line names
the ledger, and the output says where it was written. The ledger is the record `pgharden restore`
reads: if no restore file can be written anywhere, a warning says so and the lock still succeeds.
If ending sessions fails after the commit, the roles are still locked: the error says so and how
to undo (exit code 2). A second lock while roles are locked is refused (a dry run says so, with
the time of the earlier lock): restore first. As root, run it as the cluster's owner (runuser -u
postgres -- pgharden lock …) so that peer authentication lets it in. Roles that could not log in before are not touched, so restore never
re-enables them. Concurrent locks and restores on one database take turns.

Examples:
  pgharden lock 'host=/var/run/postgresql dbname=postgres' --keep backup_agent --dry-run
  pgharden lock 'host=/var/run/postgresql dbname=postgres' --keep backup_agent
  pgharden restore 'host=/var/run/postgresql dbname=postgres'")]
    Lock(LockArgs),
    /// Undo `pgharden lock`: re-enable exactly the roles it recorded, in one transaction.
    #[command(after_help = "\
Reads pgharden.locked_roles and pgharden's own ledgers (pgharden_<16 hex digits>.locked_roles) of
the connected database, each only if it can be trusted (the same check as lock's); an untrusted
one is reported and its rows are not read, so a row someone inserted there re-enables nobody.")]
    Restore(RestoreArgs),
    /// Row-level security by security label (STIG supplement, Appendix D).
    #[command(subcommand)]
    Rls(RlsCommand),
    /// pg_hba.conf as the server reads it: which line a connection meets, and the lines none can reach.
    #[command(subcommand)]
    Hba(HbaCommand),
    /// Install a role's certificate for libpq: ~/.postgresql/{root.crt,postgresql.crt,postgresql.key,root.crl}.
    #[command(after_help = "\
Every file is written with mode 0600 in a 0700 directory, owned by the owner of the home directory
(run as root to install for another user). root.crl holds every CA's CRL, because libpq checks
revocation for the whole server chain. Existing files are kept as NAME.pgharden-bak-TIMESTAMP with --force.
Prints the sslmode=verify-full connection string, ready to paste.

Example:
  pgharden client --pki /etc/pgharden/pki --role alice --host db1.example.com
  sudo pgharden client --pki pki --role bob --home /home/bob --host db1.example.com")]
    Client(ClientArgs),
    /// Keep the posture alive: refresh CRLs and certificates that are due, deploy them with a reload, prove it.
    #[command(after_help = RENEW_HELP)]
    Renew(RenewArgs),
    /// Install a server certificate from another CA (step-ca, Vault, certbot, a corporate CA) into a cluster.
    #[command(after_help = DEPLOY_HELP)]
    Deploy(DeployArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): pgharden(1), or a subcommand's (`man apply`, `man pki init`); or write them all.
    #[command(after_help = "\
Examples:
  pgharden man | man -l -
  pgharden man pki init | man -l -
  pgharden man --dir /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print, e.g. `apply` or `pki init` (pgharden-pki-init(1)).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Vec<String>,
    /// Write every page (pgharden.1, pgharden-apply.1, pgharden-pki-init.1, …) into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Sarif,
    Ckl,
}

/// Severity thresholds for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    Low,
    Medium,
    High,
}

/// Audit scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditScope {
    All,
    Cluster,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// A connection (libpq keyword string or URI); or --pgdata, or both.
    pub conninfo: Option<String>,
    /// The cluster's data directory (file checks; connects as its owner through the socket).
    #[arg(long, value_name = "DIR")]
    pub pgdata: Option<PathBuf>,
    /// `text` for people; `json` (versioned schema), `sarif` (code scanning) and `ckl` (STIG
    /// Viewer, needs --benchmark) for tools. --coverage takes `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The XCCDF benchmark a `--format ckl` checklist is built from.
    #[arg(long, value_name = "XCCDF", required_if_eq("format", "ckl"))]
    pub benchmark: Option<PathBuf>,
    /// Exit with 1 when a rule of this severity or higher fails, or could not be checked.
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOn,
    /// `cluster` leaves out rules about the host (FIPS mode, packages).
    #[arg(long, value_enum, default_value = "all")]
    pub scope: AuditScope,
    /// Write the report here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Skip the network probe (the network rules are then NOT CHECKED).
    #[arg(long)]
    pub no_probe: bool,
    /// Let NOT CHECKED rules pass the gate: the exit code then follows the FAIL findings only.
    /// Without it, a rule at or above --fail-on whose evidence could not be had (server stopped,
    /// no superuser, no TCP listener, --no-probe) makes the exit code 1, as a failure does.
    #[arg(long)]
    pub allow_not_checked: bool,
    /// A certificate or CRL that expires (or whose next update is due) within N days fails.
    #[arg(long, value_name = "N", default_value_t = pgharden_audit::run::DEFAULT_WARN_DAYS)]
    pub warn_days: u32,
    /// A superuser the ISSM approved, besides the bootstrap superuser (repeat for more). Other
    /// superusers fail the privilege rules.
    #[arg(long = "approved-superuser", value_name = "ROLE")]
    pub approved_superusers: Vec<String>,
    /// A pg_ident.conf mapping that is approved although it lets a certificate become another
    /// role than its CN: every line of map MAP whose database user is ROLE (repeat for more).
    /// Example: --approved-mapping pgharden:backup_agent
    #[arg(long = "approved-mapping", value_name = "MAP:ROLE", value_parser = parse_mapping)]
    pub approved_mappings: Vec<(String, String)>,
    /// A role that is not a superuser but is approved to hold CREATEROLE, CREATEDB or BYPASSRLS
    /// (repeat for more).
    #[arg(long = "approved-admin", value_name = "ROLE")]
    pub approved_admins: Vec<String>,
    /// An untrusted procedural language (plperlu, plpython3u, …) the AO authorized (repeat for more).
    #[arg(long = "approved-language", value_name = "LANG")]
    pub approved_languages: Vec<String>,
    /// An extension the ISSM approved, besides plpgsql, pgaudit and pgcrypto that the profile
    /// installs (repeat for more).
    #[arg(long = "approved-extension", value_name = "NAME")]
    pub approved_extensions: Vec<String>,
    /// Print how many STIG ids of each family pgharden decides automatically, partly and only
    /// manually, beside MITRE's InSpec profiles, and exit. Needs no cluster.
    #[arg(long, conflicts_with_all = ["conninfo", "pgdata", "benchmark", "no_probe", "allow_not_checked"])]
    pub coverage: bool,
}

/// `MAP:ROLE` → `(MAP, ROLE)`. The first `:` separates them (a map name is one pg_ident token;
/// a role name may hold a colon); neither side may be empty.
fn parse_mapping(value: &str) -> Result<(String, String), String> {
    match value.split_once(':') {
        Some((map, role)) if !map.is_empty() && !role.is_empty() => Ok((map.to_string(), role.to_string())),
        _ => Err(format!("expected MAP:ROLE (a pg_ident.conf map name and a role), got {value:?}")),
    }
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// HOST or HOST:PORT (default port 5432); an IPv6 address with a port goes in square brackets.
    #[arg(value_name = "HOST[:PORT]", required_unless_present = "targets")]
    pub target: Vec<String>,
    /// A file of targets, one per line (# comments and blank lines are ignored).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// A root certificate to check the served chain against (verify-ca and verify-full).
    #[arg(long, value_name = "FILE")]
    pub sslrootcert: Option<PathBuf>,
    /// CRLs (PEM, one or more) to check each served certificate's revocation against.
    #[arg(long, value_name = "FILE")]
    pub sslcrl: Option<PathBuf>,
    /// The user the startup probes name (no password is sent).
    #[arg(long, default_value = "postgres")]
    pub user: String,
    /// The database the startup probes name.
    #[arg(long, default_value = "postgres")]
    pub dbname: String,
    /// How many targets to probe at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: u16,
    /// The deadline of each probe of a target, connect included, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print the facts as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The connection that fails: a libpq keyword string or URI, as given to psql (PG* variables apply).
    pub conninfo: String,
    /// The server's data directory: adds pg_hba.conf, ssl_ca_file and ssl_crl_file to the diagnosis.
    #[arg(long, value_name = "DIR")]
    pub pgdata: Option<PathBuf>,
    /// The deadline of each network probe, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print the steps as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// A superuser connection (libpq keyword string or URI); its database holds the ledger.
    pub conninfo: String,
    /// A role to leave able to log in (repeat; it must exist). You and the bootstrap superuser always are.
    #[arg(long = "keep", value_name = "ROLE")]
    pub keep: Vec<String>,
    /// List exactly what would be locked, which sessions would end and which ledger would be used; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the list of locked roles (mode 0600), as the STIG script's `.restore_login`;
    /// checked before anything is locked. Default: .restore_login in the current directory, or,
    /// where you cannot write, $XDG_STATE_HOME/pgharden/restore_login-DB-TIME (else
    /// ~/.local/state/pgharden/…); the output says which.
    #[arg(long, value_name = "FILE")]
    pub restore_file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// A superuser connection to the database that holds the ledger (the one `lock` used).
    pub conninfo: String,
    /// List what would be re-enabled; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RlsCommand {
    /// Enable and force row-level security on TABLE, showing a row to members of the role named in COLUMN.
    #[command(after_help = "\
The policy is written with pg_has_role over pg_roles, so a label naming no existing role hides the
row instead of failing the query (Appendix D used pg_group/pg_user, which are deprecated).

Example:
  pgharden rls label 'dbname=app' --table public.accounts --column security_label")]
    Label {
        /// A connection as the table's owner or a superuser.
        conninfo: String,
        /// The table, optionally schema-qualified.
        #[arg(long)]
        table: String,
        /// The column holding a role name as the row's security label.
        #[arg(long)]
        column: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// For every label role, the rows its members see (the Appendix D results table).
    #[command(after_help = "\
Computed by switching to each member role inside a transaction that is rolled back, so nothing is
changed. Needs a superuser (or a role that is a member of every label role's members).")]
    Check {
        /// A superuser connection.
        conninfo: String,
        /// The table, optionally schema-qualified.
        #[arg(long)]
        table: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum HbaCommand {
    /// Which pg_hba.conf line a connection meets, why every earlier line did not, and every line no
    /// connection can ever reach.
    #[command(after_help = HBA_EXPLAIN_HELP)]
    Explain(HbaExplainArgs),
}

const HBA_EXPLAIN_HELP: &str = "\
The server tries the lines of pg_hba.conf in order and takes the first whose connection type,
database, user and address all fit; that line's method decides, and a failure there (a reject
line, a cert line without a client certificate, a wrong password) does not fall through to later
lines. explain walks the lines the same way, as the cluster's major version reads them (include,
include_if_exists and include_dir are followed on PostgreSQL 16 and later; before 16 they are
errors), and prints for every line what it did with this connection, then the lines no connection
can reach because an earlier line takes everything they would.

The connection is described, not made: without --address it is a Unix-socket (`local`)
connection; with --address it comes over TCP from that IP, in plaintext unless --ssl (TLS) or
--gss (GSSAPI encryption). --cert says the client presents a certificate the server's CA accepts
(it implies --ssl). The user defaults to the cluster owner's name and the database to the user,
as libpq's defaults would be for that OS user.

`+group` users and `samerole` databases need role membership: when the server runs, explain asks
it (as the cluster owner, over the Unix socket), counting memberships as pg_hba.conf does
(superuser status does not make a role a member of anything); when it is stopped such lines are
reported as undecidable, and so are host names, samehost and samenet, which need DNS or the
server's interfaces.

Exit codes: 0 a line admits the connection to authentication (its method then decides); 1 the
connection is refused by pg_hba.conf (a reject line, a certificate it lacks, no line at all) or
the answer cannot be decided here; 2 usage or runtime error (no such data directory, a
pg_hba.conf that cannot be read).

Examples:
  sudo pgharden hba explain --pgdata /var/lib/postgresql/15/main --user app --database app \\
      --address 10.0.0.7 --ssl --cert
  sudo pgharden hba explain --pgdata $PGDATA --user alice --address 127.0.0.1
  sudo pgharden hba explain --pgdata $PGDATA --user postgres            # a local (socket) connection
  sudo pgharden hba explain --pgdata $PGDATA --user repl --replication --address 10.0.0.9 --ssl --json";

#[derive(Debug, Args)]
pub(crate) struct HbaExplainArgs {
    /// The cluster's data directory; its files are read as the cluster owner, and a running server
    /// names the pg_hba.conf it uses.
    #[arg(long, value_name = "DIR")]
    pub pgdata: PathBuf,
    /// The role the client asks for (default: the cluster owner's name).
    #[arg(long, short = 'U', value_name = "ROLE")]
    pub user: Option<String>,
    /// The database the client asks for (default: the role's name, as libpq's default).
    #[arg(long, short = 'd', value_name = "DB")]
    pub database: Option<String>,
    /// The client's IP address: a TCP connection from it (host, hostssl, … lines). Without it, a
    /// Unix-socket connection (local lines).
    #[arg(long, value_name = "IP", value_parser = parse_client_address)]
    pub address: Option<std::net::IpAddr>,
    /// The connection uses TLS (hostssl lines fit it, hostnossl lines do not).
    #[arg(long, requires = "address", conflicts_with = "gss")]
    pub ssl: bool,
    /// The client presents a certificate the server's CA accepts (implies --ssl): what `cert`
    /// and `clientcert=verify-ca|verify-full` lines need.
    #[arg(long, requires = "address", conflicts_with = "gss")]
    pub cert: bool,
    /// The connection uses GSSAPI encryption (hostgssenc lines fit it).
    #[arg(long, requires = "address")]
    pub gss: bool,
    /// A physical replication connection (`replication=true`, pg_basebackup): only the
    /// `replication` keyword matches it in the database field.
    #[arg(long, conflicts_with = "database")]
    pub replication: bool,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// An IP address; a host name is refused with why (pg_hba.conf matches the address the server
/// sees, and a host name would have to be resolved first).
fn parse_client_address(value: &str) -> Result<std::net::IpAddr, String> {
    value.parse().map_err(|_| {
        format!(
            "expected the client's IP address (e.g. 10.0.0.7 or ::1), got {value:?}: the server matches \
             pg_hba.conf against the address it sees, so resolve a host name first"
        )
    })
}

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Where the demo lives.
    #[arg(long, default_value = "pgharden-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1 (default: the first free one from 5433).
    #[arg(long)]
    pub port: Option<u16>,
    /// The server's bin directory (initdb, pg_ctl, postgres), e.g. /usr/lib/postgresql/18/bin
    /// (default: the newest /usr/lib/postgresql/N/bin, else pg_ctl on PATH).
    #[arg(long, value_name = "DIR")]
    pub pgbin: Option<PathBuf>,
    /// Finish with exit 0 even though pgaudit is not installed (the STIG's audit logging,
    /// Appendix B, is then missing, and the audit fails the rules that need it), as apply's flag.
    #[arg(long)]
    pub allow_missing_pgaudit: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// A superuser connection (libpq keyword string or URI) to a cluster on this host; or --pgdata.
    #[arg(required_unless_present = "pgdata", conflicts_with = "pgdata")]
    pub conninfo: Option<String>,
    /// The cluster's data directory; pgharden connects as its owner through the Unix socket.
    #[arg(long, value_name = "DIR")]
    pub pgdata: Option<PathBuf>,
    /// The PKI directory (made by `pgharden pki init`); or --cert and --key from another CA.
    #[arg(
        long,
        env = "PGHARDEN_PKI_DIR",
        value_name = "DIR",
        required_unless_present = "cert",
        conflicts_with = "cert"
    )]
    pub pki: Option<PathBuf>,
    /// A server certificate from another CA (PEM, leaf first, then intermediates) instead of --pki.
    #[arg(long, value_name = "FILE", requires_all = ["key", "ca"])]
    pub cert: Option<PathBuf>,
    /// With --cert: its private key (PEM, unencrypted).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// With --cert: the CAs client certificates must chain to (PEM), for ssl_ca_file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub ca: Option<PathBuf>,
    /// With --cert: a CRL (PEM or DER) for ssl_crl_file; repeat for every CA of the client chain.
    #[arg(long = "crl", value_name = "FILE", requires = "cert")]
    pub crls: Vec<PathBuf>,
    /// Encrypt the server key in PGDATA under the passphrase on the first line of FILE.
    ///
    /// server.pem then holds the key as encrypted PKCS#8 (PBKDF2-HMAC-SHA256, AES-256-CBC), so a
    /// copy of PGDATA (a backup, a stolen disk image of it) does not give the key away. The
    /// passphrase is copied to server.key.pass beside postgresql.conf (mode 0600, the cluster
    /// owner's), and ssl_passphrase_command (/bin/cat of that file) with
    /// ssl_passphrase_command_supports_reload = on lets the server unlock the key at every start and
    /// reload: the command line, postgresql.conf, `ps` and the log name the file, never the
    /// passphrase. Trade-off: the server can restart unattended only while that file is there, so
    /// anyone who can read the owner's files can still read the key; what it protects are copies
    /// of PGDATA without the configuration directory (on Debian, /etc/postgresql/VERSION/NAME holds
    /// the passphrase, PGDATA the key). Without this flag, the systemd credential
    /// pgharden-server-key-passphrase ($CREDENTIALS_DIRECTORY) is used when present; a key
    /// encrypted by an earlier apply stays encrypted, and renew and deploy encrypt a new key under
    /// the same passphrase.
    #[arg(long, value_name = "FILE")]
    pub server_key_passphrase_file: Option<PathBuf>,
    /// Host names clients connect to; the server certificate must carry them all (repeat).
    #[arg(long = "host", required = true, value_name = "NAME_OR_IP")]
    pub hosts: Vec<String>,
    /// Networks allowed to connect over TLS (repeat; default: loopback, as Appendix G).
    #[arg(long = "allow", value_name = "CIDR", default_values_t = ["127.0.0.1/32".to_string(), "::1/128".to_string()])]
    pub allow: Vec<String>,
    /// How TCP logins authenticate: mutual (the STIG's, default), verify-server or encrypt.
    ///
    /// mutual: `hostssl … cert clientcert=verify-full map=pgharden`; every login presents a client
    /// certificate (install one with `pgharden client`), and the pg_ident.conf map pgharden names
    /// each certificate's role.
    ///
    /// verify-server and encrypt: `hostssl … scram-sha-256` (a SCRAM password, never md5 or
    /// password), no client certificate, no pg_ident.conf map. Both write the SAME server
    /// configuration, because a server cannot make a client check its certificate: the difference
    /// is the client's sslmode, which apply prints. verify-server clients use
    /// `sslmode=verify-full sslrootcert=ROOT_CA` and so refuse a man in the middle; encrypt clients
    /// use `sslmode=require`, which encrypts but does NOT authenticate the server.
    ///
    /// At every level plaintext is refused (`hostnossl … reject`), the server presents its
    /// certificate and the TLS settings are the same. A lower level fails the STIG rules that
    /// demand PKI authentication; the plan names each (PGH-AUTH-01, PGH-AUTH-06, PGH-AUTH-08,
    /// PGH-TLS-02) and `pgharden audit` fails them. Applying another level later replaces
    /// pgharden's lines; nothing piles up.
    #[arg(long, value_name = "LEVEL", default_value = "mutual")]
    pub level: pgharden_cluster::plan::Level,
    /// Log to syslog (facility LOCAL0) instead of the logging collector's files.
    #[arg(long)]
    pub syslog: bool,
    /// On a Debian cluster, take the STIG's layout instead of Debian's conventions: the log in
    /// PGDATA/log (weekday files, mode 0600) and postgresql.conf mode 0600.
    ///
    /// By default a Debian cluster keeps its log in /var/log/postgresql (where pg_lsclusters shows
    /// it and logrotate rotates it) and postgresql.conf readable by all (every user's pg_lsclusters
    /// and psql read the port from it); the plan says which audit rules that costs. With this flag
    /// those rules pass, pg_lsclusters shows log/postgresql-%a.log, Debian's logrotate no longer
    /// rotates the log, and users other than root and the owner must give psql -h and -p.
    #[arg(long)]
    pub no_debian_conventions: bool,
    /// The server-wide statement_timeout: a statement running longer is cancelled (units ms, s, min,
    /// h, d; no unit means ms).
    ///
    /// It must not be 0: 0 turns the timeout off, and the STIG (CD16-00-004700, PGS9-00-010600) says
    /// "If these settings are not set to something other than zero, this is a finding." Long batch
    /// jobs (dumps, migrations, reports) should `SET statement_timeout` in their own session (or get
    /// `ALTER ROLE … SET statement_timeout` for their role); otherwise raise this value.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub statement_timeout: pgharden_cluster::profile::StatementTimeout,
    /// Also let apply write configuration files under DIR (repeat). By default it writes only in the
    /// data directory and the directory of postgresql.conf, and refuses an include, hba_file or
    /// ident_file elsewhere.
    #[arg(long = "write-dir", value_name = "DIR")]
    pub write_dirs: Vec<PathBuf>,
    /// Accept a cluster without pgaudit: exit 0 although STIG Appendix B (audit logging) is not met.
    ///
    /// Without pgaudit installed for the server's major version, apply still writes and applies the
    /// rest of the profile, but says NOT MET and exits 1: the audit fails every rule that needs
    /// pgaudit. This flag changes only the exit status; the plan and the summary still say what is
    /// missing and how to install it.
    #[arg(long)]
    pub allow_missing_pgaudit: bool,
    /// Only print what would change (a diff of every file and setting).
    #[arg(long)]
    pub plan: bool,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan (with --plan) or the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The PKI directory (made by `pgharden pki init`).
    #[arg(long, env = "PGHARDEN_PKI_DIR", value_name = "DIR")]
    pub pki: PathBuf,
    /// The role whose client certificate to install.
    #[arg(long)]
    pub role: String,
    /// Home directory to install into (default: $HOME).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Server host name for the connection string (default: the PKI's only server certificate's first name).
    #[arg(long)]
    pub host: Option<String>,
    /// Server port for the connection string.
    #[arg(long, default_value_t = 5432)]
    pub port: u16,
    /// Database for the connection string.
    #[arg(long, default_value = "postgres")]
    pub dbname: String,
    /// Replace existing files (backups are kept).
    #[arg(long)]
    pub force: bool,
    /// Add `sslnegotiation=direct` to the connection string: TLS from the first byte, without the
    /// SSLRequest round trip. Needs a PostgreSQL 17+ server and a libpq 17+ client (an older libpq
    /// refuses the option: `invalid connection option "sslnegotiation"`).
    #[arg(long)]
    pub direct_tls: bool,
    /// Print what was installed as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Key types on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    /// ECDSA P-256 with SHA-256.
    P256,
    /// ECDSA P-384 with SHA-384 (default: FIPS 186 approved, the CNSA curve, fast).
    P384,
    /// RSA 2048-bit with SHA-256 (the minimum the STIG accepts).
    Rsa2048,
    /// RSA 3072-bit with SHA-256.
    Rsa3072,
    /// RSA 4096-bit with SHA-256 (Appendix G's choice; slow to generate).
    Rsa4096,
    /// Ed25519 (not FIPS 140-2 approved; written as PKCS#8 v1 so OpenSSL 3.0 reads it).
    Ed25519,
}

impl From<KeyTypeArg> for KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::P256 => Self::P256,
            KeyTypeArg::P384 => Self::P384,
            KeyTypeArg::Rsa2048 => Self::Rsa2048,
            KeyTypeArg::Rsa3072 => Self::Rsa3072,
            KeyTypeArg::Rsa4096 => Self::Rsa4096,
            KeyTypeArg::Ed25519 => Self::Ed25519,
        }
    }
}

/// Where the PKI lives.
#[derive(Debug, Args)]
pub(crate) struct DirArg {
    /// The PKI directory (made by `pgharden pki init`).
    #[arg(long, env = "PGHARDEN_PKI_DIR", value_name = "DIR")]
    pub dir: PathBuf,
}

/// How to unlock the CA keys.
#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// Read the CA key passphrase from the first line of FILE. Without it, the environment variable
    /// PGHARDEN_CA_PASSPHRASE is used, else the systemd credential pgharden-ca-passphrase (in
    /// $CREDENTIALS_DIRECTORY, as `renew --systemd --credential` sets up), else pgharden asks on
    /// the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PkiCommand {
    /// Create the hierarchy: root CA, server and client intermediate CAs, and a CRL for each.
    #[command(after_help = "\
Layout: DIR/root/, DIR/server-ca/, DIR/client-ca/ (ca.crt, ca.key, crl.pem each), DIR/crls.pem
(every CRL, for ssl_crl_file / sslcrl), DIR/ledger.json. Keys are created with mode 0600; CA keys
are encrypted (PKCS#8, PBKDF2-HMAC-SHA256 + AES-256-CBC) unless you pass --no-passphrase.

Example:
  pgharden pki init --dir /etc/pgharden/pki --org 'Example Corp' --passphrase-file ~/.ca-pass")]
    Init {
        #[command(flatten)]
        dir: DirArg,
        /// Key type of the CAs, and the default for certificates issued later. p384 is the default
        /// because ECDSA P-384 is FIPS 186 approved, is the NSA CNSA curve DoD systems ask for, and is
        /// stronger than RSA-3072 at a fraction of RSA-4096's cost.
        #[arg(long, value_enum, default_value = "p384")]
        key_type: KeyTypeArg,
        /// Organisation (O=) in every subject, and the prefix of the CA names.
        #[arg(long, default_value = "pgharden")]
        org: String,
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Store the CA keys unencrypted (for throwaway test hierarchies only).
        #[arg(long, conflicts_with = "passphrase_file")]
        no_passphrase: bool,
        /// Root CA validity in days; the intermediates get at most 1825 (five years, as Appendix G).
        #[arg(long, default_value_t = pgharden_pki::ROOT_DAYS, value_name = "N")]
        days: u32,
        /// How long each CRL stays valid. PostgreSQL refuses every connection once a CRL in
        /// ssl_crl_file has expired, so re-run `pgharden pki crl` well before.
        #[arg(long, default_value_t = pgharden_pki::CRL_DAYS, value_name = "N")]
        crl_days: u32,
        /// Replace an existing hierarchy (every certificate it issued stops chaining).
        #[arg(long)]
        force: bool,
    },
    /// Issue a server certificate with a SAN for every --host (the first is also the CN).
    #[command(after_help = "\
libpq's sslmode=verify-full compares the host a client connects to with these names, so list every
name and address clients use. Writes DIR/servers/NAME/server.crt (leaf + server intermediate) and
server.key (0600).

Example:
  pgharden pki server --dir pki --host db1.example.com --host db1 --host 10.0.0.5")]
    Server {
        #[command(flatten)]
        dir: DirArg,
        /// A DNS name (a leading '*.' makes a wildcard) or an IP address; repeat for more.
        #[arg(long = "host", required = true, value_name = "NAME_OR_IP")]
        hosts: Vec<String>,
        /// Directory name under DIR/servers/ (default: the first --host).
        #[arg(long)]
        name: Option<String>,
        /// Validity in days (default 397).
        #[arg(long, value_name = "N", conflicts_with = "valid")]
        days: Option<u32>,
        /// Validity in hours or days (24h, 90d). Short-lived certificates (hours to a few days) make a
        /// stolen key worth little without revocation; choose them only with `pgharden renew` on a timer
        /// that runs well within a third of the lifetime.
        #[arg(long, value_name = "DURATION")]
        valid: Option<pgharden_pki::Validity>,
        /// Key type (default: the hierarchy's).
        #[arg(long, value_enum)]
        key_type: Option<KeyTypeArg>,
        /// Replace an existing certificate of that name (the old one stays valid until revoked).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Print what was issued as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a client certificate whose CN is the role, for `cert` authentication.
    #[command(after_help = "\
Writes DIR/clients/ROLE/client.crt (leaf + client intermediate) and client.key (0600). With --cn the
certificate's CN differs from the role, and pg_ident.conf must map it (`apply` does).
Several --role flags issue several certificates in one run.

Example:
  pgharden pki client --dir pki --role alice --role bob
  pgharden pki client --dir pki --role bob --cn bob@ssl-test.com")]
    Client {
        #[command(flatten)]
        dir: DirArg,
        /// The PostgreSQL role the certificate logs in as; repeat to issue several.
        #[arg(long = "role", required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// Subject CN when it is not the role name (only with a single --role).
        #[arg(long)]
        cn: Option<String>,
        /// Directory name under DIR/clients/ (default: the role; only with a single --role).
        #[arg(long)]
        name: Option<String>,
        /// Validity in days (default 365).
        #[arg(long, value_name = "N", conflicts_with = "valid")]
        days: Option<u32>,
        /// Validity in hours or days (24h, 90d). Short-lived certificates (hours to a few days) make a
        /// stolen key worth little without revocation; choose them only with `pgharden renew` on a timer
        /// that runs well within a third of the lifetime.
        #[arg(long, value_name = "DURATION")]
        valid: Option<pgharden_pki::Validity>,
        /// Key type (default: the hierarchy's).
        #[arg(long, value_enum)]
        key_type: Option<KeyTypeArg>,
        /// Replace an existing certificate of that name (the old one stays valid until revoked).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Print what was issued as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a certificate and re-issue its CA's CRL.
    #[command(after_help = "\
The server and clients only notice after the new CRL reaches them: copy DIR/crls.pem to the
server's ssl_crl_file and reload (`pgharden apply` does both).

Example:
  pgharden pki revoke --dir pki --cert pki/clients/bob/client.crt --reason key-compromise")]
    Revoke {
        #[command(flatten)]
        dir: DirArg,
        /// Serial number in hex (colons and a `serial=` prefix, as openssl prints it, are fine).
        #[arg(long, required_unless_present = "cert", conflicts_with = "cert", value_name = "HEX")]
        serial: Option<String>,
        /// The certificate file to revoke (its first certificate).
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// unspecified, key-compromise, ca-compromise, affiliation-changed, superseded or
        /// cessation-of-operation.
        #[arg(long, default_value = "unspecified")]
        reason: String,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Re-issue the CRL of every CA (root included) with a fresh validity.
    Crl {
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// List every certificate the PKI issued: kind, name, subject, serial, expiry, status.
    List {
        #[command(flatten)]
        dir: DirArg,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Explain a certificate, chain, CSR, CRL or key file in plain words.
    Show {
        /// The file (PEM or DER).
        file: PathBuf,
        /// Print the facts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a certificate as libpq and PostgreSQL would: chain, CRLs, purpose, validity, host name.
    #[command(after_help = "\
Exit code 0 when the certificate would be accepted, 1 when it would be refused.
For a server certificate, --host applies sslmode=verify-full's name rules exactly as libpq does
(SAN dNSName and iPAddress; the CN only when there is no SAN of the host's type; '*.' wildcards
match one label).

Example:
  pgharden pki verify --dir pki pki/servers/db1/server.crt --host db1.example.com
  pgharden pki verify --dir pki --client pki/clients/bob/client.crt")]
    Verify {
        #[command(flatten)]
        dir: DirArg,
        /// The certificate file; further certificates in it are used as intermediates.
        file: PathBuf,
        /// Check verify-full host-name matching against this host (server certificates).
        #[arg(long, conflicts_with = "client")]
        host: Option<String>,
        /// Verify as a client certificate (clientAuth) instead of a server certificate.
        #[arg(long)]
        client: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

const RENEW_HELP: &str = "\
What is due, with the default --threshold 1/3 (less than a third of its lifetime left):
  every CA's CRL (PostgreSQL refuses every client certificate once a CRL in ssl_crl_file has passed
  its next update), server certificates (re-issued with the same names and a fresh key; the old
  one is marked replaced in the ledger) and client certificates (re-issued; the output lists the
  roles whose new certificate must be installed with `pgharden client`).
Then, for each --pgdata or CONNINFO, what changed is installed in PGDATA (server.pem, root.crt,
root.crl; each file replaced atomically, the key and its certificate in one file so they always
match), checked by the server, and loaded with a reload: open sessions survive and the postmaster
keeps its pid. A handshake then proves the server serves the new certificate and accepts a client
certificate; if it does not, the old files are put back.
A key that `apply --server-key-passphrase-file` encrypted stays encrypted: the new key is encrypted
under the passphrase in server.key.pass beside postgresql.conf, which the reload unlocks.
A second run finds nothing due and changes nothing. --plan --json lists the `actions` (an empty
array when nothing is due) and `next_due`, when the next one falls due.

Short-lived certificates (`pki server --valid 24h`) limit what a stolen key is worth without
revocation; choose them only when renew runs on a timer well inside the last third of their life
(`--systemd --on-calendar hourly` for 24h; --systemd warns when its timer could miss it).

The CA passphrase comes from --passphrase-file, PGHARDEN_CA_PASSPHRASE, or the systemd credential
pgharden-ca-passphrase ($CREDENTIALS_DIRECTORY); it is never taken from the command line.

Exit codes: 0 done, or nothing was due; 2 an error (nothing half-done is left behind).

Examples:
  sudo pgharden renew --pki /etc/pgharden/pki --pgdata /var/lib/postgresql/15/main --plan
  sudo pgharden renew --pki /etc/pgharden/pki --pgdata /var/lib/postgresql/15/main
  sudo pgharden renew --pki /etc/pgharden/pki --pgdata /var/lib/postgresql/15/main --systemd \\
      --credential /etc/pgharden/ca-passphrase --install";

const DEPLOY_HELP: &str = "\
The TLS files alone, without the rest of the profile: the certificate (leaf first, then its
intermediates) and its key become PGDATA/server.pem (mode 0600, key and chain in one file, so a
crash can never leave a key beside a certificate it does not belong to), --ca becomes root.crt and
the --crl files root.crl; ssl_cert_file, ssl_key_file (and ssl_ca_file, ssl_crl_file when given)
are pointed at them. The server checks the files, reloads (no restart), and a handshake proves it
serves the new certificate; on any failure the old files are put back. A key that
`apply --server-key-passphrase-file` encrypted stays encrypted: the new key is encrypted under the
passphrase in server.key.pass beside postgresql.conf.

Made for the hooks other tools run after they renew:
  step ca renew --daemon --exec \"pgharden deploy --pgdata /var/lib/postgresql/15/main \\
      --cert /etc/step/db.crt --key /etc/step/db.key --ca /etc/step/root_ca.crt\" /etc/step/db.crt /etc/step/db.key
  certbot renew --deploy-hook 'pgharden deploy --pgdata /var/lib/postgresql/15/main \\
      --cert \"$RENEWED_LINEAGE/fullchain.pem\" --key \"$RENEWED_LINEAGE/privkey.pem\"'";

/// `pgharden renew`.
#[derive(Debug, Args)]
pub(crate) struct RenewArgs {
    /// The PKI directory (made by `pgharden pki init`).
    #[arg(long, env = "PGHARDEN_PKI_DIR", value_name = "DIR")]
    pub pki: PathBuf,
    /// A data directory to deploy what changed to (repeat); pgharden acts as its owner.
    #[arg(long = "pgdata", value_name = "DIR")]
    pub pgdata: Vec<PathBuf>,
    /// A superuser connection to a cluster on this host to deploy to (repeat).
    #[arg(value_name = "CONNINFO")]
    pub conninfo: Vec<String>,
    /// Renew what has less than this left: a share of its lifetime (1/3, 0.25, 25%) or a time (7d, 12h).
    #[arg(long, default_value = "1/3", value_name = "WHEN")]
    pub threshold: String,
    /// Also let renew write under DIR (repeat), as with apply.
    #[arg(long = "write-dir", value_name = "DIR")]
    pub write_dirs: Vec<PathBuf>,
    /// Only print what is due and would be done.
    #[arg(long)]
    pub plan: bool,
    /// Print the plan (with --plan) or the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Print a systemd service and timer that run this renew (the same --pki, --pgdata, CONNINFO,
    /// --threshold and --write-dir) daily.
    #[arg(long)]
    pub systemd: bool,
    /// With --systemd: write the units into --unit-dir instead of printing them.
    #[arg(long, requires = "systemd")]
    pub install: bool,
    /// With --systemd --install: where the units go.
    #[arg(long, requires = "systemd", value_name = "DIR", default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
    /// With --systemd: a file holding the CA passphrase, handed to the service as the systemd
    /// credential pgharden-ca-passphrase (a file made by `systemd-creds encrypt`, ending in .cred,
    /// is loaded encrypted).
    #[arg(long, requires = "systemd", value_name = "FILE")]
    pub credential: Option<PathBuf>,
    /// With --systemd: when the timer fires (a systemd OnCalendar= expression).
    #[arg(long, requires = "systemd", value_name = "SPEC", default_value = "daily")]
    pub on_calendar: String,
}

/// `pgharden deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// A superuser connection to a cluster on this host; or --pgdata.
    #[arg(required_unless_present = "pgdata", conflicts_with = "pgdata")]
    pub conninfo: Option<String>,
    /// The cluster's data directory; pgharden acts as its owner.
    #[arg(long, value_name = "DIR")]
    pub pgdata: Option<PathBuf>,
    /// The server certificate (PEM): the leaf first, then its intermediates.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The server certificate's private key (PEM, unencrypted).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The CAs client certificates must chain to (PEM), for ssl_ca_file.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A CRL (PEM or DER) for ssl_crl_file; repeat for every CA of the chain.
    #[arg(long = "crl", value_name = "FILE")]
    pub crls: Vec<PathBuf>,
    /// Host names clients connect to: the certificate must carry them all (repeat).
    #[arg(long = "host", value_name = "NAME_OR_IP")]
    pub hosts: Vec<String>,
    /// Also let deploy write under DIR (repeat), as with apply.
    #[arg(long = "write-dir", value_name = "DIR")]
    pub write_dirs: Vec<PathBuf>,
    /// Only print what would change.
    #[arg(long)]
    pub plan: bool,
    /// Print the plan (with --plan) or the result as JSON.
    #[arg(long)]
    pub json: bool,
}
