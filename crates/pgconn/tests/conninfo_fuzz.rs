//! Property tests of connection-string reading, after the security review's 900-input fuzz: odd
//! quoting, %-escapes, IPv6 brackets, duplicate keys, NUL, huge values, unknown keywords, and
//! random mutations of all of these, as keyword/value strings and as URIs.
//!
//! [`Conninfo::parse`] and [`Conninfo::resolve`] must never panic; every error must name the
//! keyword or the offending text (checked per error variant, against the input), stay bounded in
//! size, and never quote a password back.

#![allow(clippy::unwrap_used)]

use pgharden_pgconn::conninfo::KEYWORDS;
use pgharden_pgconn::{Conninfo, ConninfoError, Env, Error};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Inputs

fn keyword_names() -> Vec<&'static str> {
    KEYWORDS.iter().map(|k| k.name).collect()
}

/// Mostly real keywords, some unknown ones, some in the wrong case, libpq's `requiressl` alias.
fn keyword() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(keyword_names()).prop_map(str::to_owned),
        1 => Just("requiressl".to_owned()),
        1 => "[a-zA-Z_]{1,12}",
        1 => prop::sample::select(keyword_names()).prop_map(|k| k.to_uppercase()),
    ]
}

/// Values that mean something to some keyword, odd characters, any text, and huge values.
fn value() -> impl Strategy<Value = String> {
    let meaningful = vec![
        "",
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
        "system",
        "direct",
        "postgres",
        "0",
        "1",
        "-1",
        "5432",
        "70000",
        " 12 ",
        "2147483648",
        "99999999999",
        "TLSv1.2",
        "tlsv1.3",
        "TLSv1.4",
        "any",
        "read-write",
        "prefer-standby",
        "master",
        "::1",
        "127.0.0.1",
        "[::1]",
        "/tmp",
        "/var/run/postgresql",
        "@abstract",
        "a,b,c",
        "1,2",
        ",,",
        "on",
        "true",
        "random",
        "3.0",
        "utf8",
        "latin1",
    ];
    let odd = vec![
        '\'', '\\', ' ', '\t', '\n', '=', '%', '\0', '[', ']', ',', '&', '?', '/', '@', ':', '#', 'é', '"',
    ];
    prop_oneof![
        4 => "[a-z0-9./:,@-]{0,20}",
        3 => prop::sample::select(meaningful).prop_map(str::to_owned),
        2 => any::<String>().prop_map(|s| s.chars().take(30).collect()),
        2 => prop::collection::vec(prop::sample::select(odd), 0..12).prop_map(|v| v.into_iter().collect()),
        1 => (1usize..200_000).prop_map(|n| "v".repeat(n)),
    ]
}

/// How one pair is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `k=v` with `\` before whitespace, quotes and backslashes (`k=''` if empty, since an empty
    /// bare value would take the next pair as its value).
    Escaped,
    /// `k='v'` with `\'` and `\\`.
    Quoted,
    /// `k=v` as is, whatever `v` holds.
    Raw,
    /// `k v`: no `=`.
    NoEquals,
    /// `k = 'v'`.
    Spaced,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        3 => Just(Form::Escaped),
        3 => Just(Form::Quoted),
        2 => Just(Form::Raw),
        1 => Just(Form::NoEquals),
        1 => Just(Form::Spaced),
    ]
}

fn escape(v: &str, quoted: bool) -> String {
    let mut out = String::new();
    for c in v.chars() {
        let special = c == '\'' || c == '\\' || (!quoted && c.is_ascii_whitespace());
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn render(k: &str, v: &str, form: Form) -> String {
    match form {
        Form::Escaped if v.is_empty() => format!("{k}=''"),
        Form::Escaped => format!("{k}={}", escape(v, false)),
        Form::Quoted => format!("{k}='{}'", escape(v, true)),
        Form::Raw => format!("{k}={v}"),
        Form::NoEquals => format!("{k} {v}"),
        Form::Spaced => format!("{k} = '{}'", escape(v, true)),
    }
}

/// A keyword/value string of up to eight pairs (duplicates likely: the keyword set is small).
fn keyword_value_string() -> impl Strategy<Value = String> {
    let pair = (keyword(), value(), form()).prop_map(|(k, v, f)| render(&k, &v, f));
    let gap = prop::sample::select(vec![" ", "  ", "\t", "\n ", ""]);
    prop::collection::vec((pair, gap), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(p, g)| format!("{p}{g} ")).collect())
}

/// `%XX` for every byte that is not unreserved, sometimes; sometimes broken escapes.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn uri_part(raw: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (raw, 0..4u8).prop_map(|(s, how)| match how {
        0 => encode(&s),
        1 => format!("{s}%"),
        2 => format!("%{}", encode(&s)),
        _ => s,
    })
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9.-]{0,12}",
        2 => "\\[[0-9a-fz:]{0,10}\\]",
        1 => "\\[[0-9a-f:]{0,6}",
        1 => "\\[\\][a-z:]?",
        2 => "%2F[a-z]{1,5}(%2F[a-z]{1,5}){0,2}",
        1 => "%[0-9A-Fa-fzZ]{0,2}[a-z]{0,3}",
        1 => value(),
    ]
}

/// A URI: scheme, user info, a host list with ports, a database, query parameters.
fn uri() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["postgresql://", "postgres://"]);
    let user_info = prop::option::of((
        uri_part("[a-z]{0,6}".prop_map(String::from)),
        prop::option::of(uri_part(value())),
    ));
    let hosts = prop::collection::vec((host(), prop::option::of("[0-9]{0,6}|[a-z]{1,3}")), 0..4);
    let dbname = prop::option::of(uri_part(value()));
    let param = (uri_part(keyword()), uri_part(value()), prop::sample::select(vec!["=", "", "=="]));
    let params = prop::option::of(prop::collection::vec(param, 0..5));
    (scheme, user_info, hosts, dbname, params).prop_map(|(scheme, user_info, hosts, dbname, params)| {
        let mut s = scheme.to_owned();
        if let Some((user, password)) = user_info {
            s.push_str(&user);
            if let Some(p) = password {
                s.push(':');
                s.push_str(&p);
            }
            s.push('@');
        }
        let list: Vec<String> = hosts
            .into_iter()
            .map(|(h, port)| match port {
                Some(p) => format!("{h}:{p}"),
                None => h,
            })
            .collect();
        s.push_str(&list.join(","));
        if let Some(db) = dbname {
            s.push('/');
            s.push_str(&db);
        }
        if let Some(params) = params {
            s.push('?');
            let list: Vec<String> = params.into_iter().map(|(k, v, sep)| format!("{k}{sep}{v}")).collect();
            s.push_str(&list.join("&"));
        }
        s
    })
}

/// One edit of a string, at a position taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Duplicate(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let ch = prop_oneof![
        prop::sample::select(vec!['\'', '\\', ' ', '=', '%', '\0', '[', ']', ',', '&', '?', '/', '@', ':']),
        any::<char>(),
    ];
    let edit = prop_oneof![
        (any::<usize>(), ch).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(s: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Edit::Insert(i, c) => {
                let i = at(i, chars.len() + 1);
                chars.insert(i, c);
            }
            Edit::Delete(i) if !chars.is_empty() => {
                let i = at(i, chars.len());
                chars.remove(i);
            }
            Edit::Delete(_) => {}
            Edit::Duplicate(i, n) => {
                let i = at(i, chars.len());
                let piece: Vec<char> = chars.iter().skip(i).take(n).copied().collect();
                chars.splice(i..i, piece);
            }
        }
    }
    chars.into_iter().collect()
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => keyword_value_string(),
        3 => uri(),
        2 => (keyword_value_string(), edits()).prop_map(|(s, e)| mutate(&s, &e)),
        2 => (uri(), edits()).prop_map(|(s, e)| mutate(&s, &e)),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Checks

/// libpq's `conninfo_uri_decode`, leniently: valid escapes decoded, anything else kept.
fn lenient_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push(u8::try_from(hi << 4 | lo).unwrap());
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The elements of a comma-separated value, as the host/port/hostaddr lists are split.
fn elements<'a>(info: &'a Conninfo, keyword: &str) -> Vec<&'a str> {
    info.get(keyword).map(|v| v.split(',').collect()).unwrap_or_default()
}

/// Whether the typed error names the keyword or the offending text of `input` (or of the
/// options parsed from it, for errors found while resolving), and its message shows that.
fn check_error(err: &Error, input: &str, parsed: Option<&Conninfo>) -> Result<(), String> {
    let msg = err.to_string();
    let fail = |why: &str| Err(format!("{why}: {msg:?} for {input:?}"));
    if msg.is_empty() {
        return fail("empty message");
    }
    // Bounded: at most the input once, plus libpq's words.
    if msg.len() > input.len() + 400 {
        return fail("message longer than the input allows");
    }
    let Error::Conninfo(e) = err else {
        return fail("not a conninfo error");
    };
    let decoded = lenient_decode(input);
    let from_input = |t: &str| input.contains(t) || decoded.contains(t);
    let shows = |t: &str| msg.contains(t);
    // The value set, or one element of it (host, hostaddr and port are lists).
    let value_of = |keyword: &str, value: &str| {
        parsed.is_some_and(|p| p.get(keyword) == Some(value) || elements(p, keyword).contains(&value))
    };
    let ok = match e {
        ConninfoError::MissingEquals(t) => !t.is_empty() && input.contains(t.as_str()) && shows(t),
        ConninfoError::InvalidOption(t) => {
            (input.contains(t.as_str()) && shows(t)) && (!t.is_empty() || input.contains('='))
        }
        ConninfoError::UnterminatedQuote(k) => input.contains(k.as_str()) && input.contains('\'') && shows(k),
        ConninfoError::InvalidUriParameter(k) => from_input(k) && shows(k),
        ConninfoError::UriMissingSeparator(k) | ConninfoError::UriExtraSeparator(k) => {
            input.contains(k.as_str()) && shows(k)
        }
        ConninfoError::UriUnterminatedIpv6(u) | ConninfoError::UriEmptyIpv6(u) => {
            (u == input || u.contains("***")) && shows(u)
        }
        ConninfoError::UriUnexpectedChar { ch, uri, .. } => {
            input.contains(*ch) && (uri == input || uri.contains("***")) && shows(uri)
        }
        // The host and port lists are decoded joined with commas, as in libpq.
        ConninfoError::InvalidPercentEncoding(t)
        | ConninfoError::PercentEncodedNul(t)
        | ConninfoError::NotUtf8(t) => {
            t.contains('%') && t.split(',').all(|part| input.contains(part)) && shows(t)
        }
        ConninfoError::UriSecretEncoding(k) => {
            // The keywords libpq marks as secrets ("*" in its debug option list).
            matches!(
                *k,
                "password" | "sslpassword" | "scram_client_key" | "scram_server_key" | "oauth_client_secret"
            ) && input.contains('%')
                && shows(k)
        }
        ConninfoError::InvalidValue { keyword, value } | ConninfoError::InvalidInteger { keyword, value } => {
            value_of(keyword, value) && shows(keyword)
        }
        ConninfoError::Unsupported { keyword, value, .. } => value_of(keyword, value) && shows(keyword),
        ConninfoError::InvalidPort(t) => {
            parsed.is_some_and(|p| elements(p, "port").contains(&t.as_str())) && shows(t)
        }
        ConninfoError::InvalidHostaddr(t) => {
            parsed.is_some_and(|p| elements(p, "hostaddr").contains(&t.as_str())) && shows(t)
        }
        ConninfoError::HostCountMismatch { .. } => shows("host") && shows("hostaddr"),
        ConninfoError::PortCountMismatch { .. } => shows("port") && shows("host"),
        ConninfoError::WeakSslModeWithSystemRoots(_) => shows("sslmode") && shows("sslrootcert"),
        ConninfoError::WeakSslModeWithDirect(_) => shows("sslmode") && shows("sslnegotiation"),
        ConninfoError::InvalidProtocolRange { min, max } => {
            shows("ssl_min_protocol_version") && shows("ssl_max_protocol_version") && shows(min) && shows(max)
        }
        other => return fail(&format!("unexpected error {other:?}")),
    };
    if ok { Ok(()) } else { fail("does not name the keyword or the offending text") }
}

fn env() -> Env {
    Env::new().with_os_user("fuzz")
}

/// Parse and resolve `input`, checking every error; returns the settings' Display if resolved.
fn read(input: &str) -> Result<Option<String>, String> {
    let info = match Conninfo::parse(input) {
        Ok(info) => info,
        Err(e) => return check_error(&e, input, None).map(|()| None),
    };
    // What parsed reads back the same from its own Display (secrets aside).
    let shown = info.to_string();
    let again = Conninfo::parse(&shown).map_err(|e| format!("{shown:?} does not parse back: {e}"))?;
    for kw in KEYWORDS.iter().filter(|k| !k.secret) {
        if again.get(kw.name) != info.get(kw.name) {
            return Err(format!("{} differs after a round trip through {shown:?}", kw.name));
        }
    }
    match info.clone().resolve(&env()) {
        Ok(settings) => Ok(Some(settings.to_string())),
        Err(e) => check_error(&e, input, Some(&info)).map(|()| None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_connection_string_reads_or_fails_clearly(input in any_input()) {
        if let Err(why) = read(&input) {
            return Err(TestCaseError::fail(why));
        }
    }

    /// A password anywhere in a well-formed string or any URI never shows up in an error or in
    /// the resolved settings' Display.
    #[test]
    fn passwords_are_never_quoted_back(
        secret in "[A-Za-z0-9]{12}",
        pairs in prop::collection::vec((keyword(), value(), prop_oneof![Just(Form::Escaped), Just(Form::Quoted)]), 0..6),
        at in any::<usize>(),
        uri in uri(),
        in_query in any::<bool>(),
    ) {
        let secret = format!("Pw{secret}");
        // Keyword/value: the password pair among others, all well-formed.
        let mut rendered: Vec<String> = pairs.iter().map(|(k, v, f)| render(k, v, *f)).collect();
        rendered.insert(at % (rendered.len() + 1), format!("password='{secret}'"));
        let kv = rendered.join(" ");
        // URI: as user-info password or as a query parameter, the rest random. (With an `@`
        // before the first `/`, what follows a `?` is user info and host, not a query.)
        let uri = match uri.split_once("://") {
            Some((_, rest)) if in_query && !rest.contains('@') && rest.contains('?') => {
                format!("{uri}&password={secret}")
            }
            Some((_, rest)) if in_query && !rest.contains('@') => format!("{uri}?password={secret}"),
            Some((scheme, rest)) => format!("{scheme}://u:{secret}@{rest}"),
            None => unreachable!("uri() always has a scheme"),
        };
        for input in [kv, uri] {
            let outcome = Conninfo::parse(&input).and_then(|c| c.resolve(&env()));
            let text = match outcome {
                Ok(settings) => format!("{settings} {settings:?}"),
                Err(e) => format!("{e} {e:?}"),
            };
            prop_assert!(!text.contains(&secret), "{secret} in {text:?} from {input:?}");
        }
    }
}

#[test]
fn the_reviews_odd_inputs_are_read_or_refused_clearly() {
    let huge = "x".repeat(200_000);
    let inputs = [
        "host=a host=b host='c d'".to_owned(),
        "dbname='unterminated".to_owned(),
        "dbname='escaped at end\\".to_owned(),
        "host=\0 port=\0".to_owned(),
        "postgresql://[::1".to_owned(),
        "postgresql://[]:5432".to_owned(),
        "postgresql://[fe80::1%25eth0]:5432/db".to_owned(),
        "postgresql://u:p@h/d?sslmode=verify-full&sslmode=disable".to_owned(),
        "postgresql://h/%00".to_owned(),
        "postgresql://h?%ZZ=1".to_owned(),
        "postgresql://h?=".to_owned(),
        format!("application_name={huge}"),
        format!("postgresql://h/{huge}"),
        format!("{huge}=1"),
        "ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2".to_owned(),
        "nosuchkeyword=1".to_owned(),
    ];
    for input in &inputs {
        read(input).unwrap();
    }
    // Unterminated quotes name the keyword; protocol ranges name both values.
    assert_eq!(
        Conninfo::parse("dbname='unterminated").unwrap_err().to_string(),
        "unterminated quoted string in connection info string (the value of \"dbname\")"
    );
    let range = Conninfo::parse("ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2")
        .and_then(|c| c.resolve(&env()))
        .unwrap_err();
    assert_eq!(
        range.to_string(),
        "invalid SSL protocol version range: ssl_min_protocol_version=TLSv1.3 is above ssl_max_protocol_version=TLSv1.2"
    );
}
