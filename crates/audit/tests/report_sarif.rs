//! The SARIF renderer, validated against the OASIS SARIF 2.1.0 schema (errata 01, draft-04).

use pgharden_audit::Report;
use pgharden_audit::report;
use serde_json::Value;

fn sample() -> Report {
    serde_json::from_str(include_str!("fixtures/report-sample.json")).expect("sample report")
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/sarif-schema-2.1.0.json")).expect("schema");
    jsonschema::draft4::options().should_validate_formats(true).build(&schema).expect("schema compiles")
}

fn assert_valid(v: &Value) {
    let validator = validator();
    let errors: Vec<String> =
        validator.iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");
}

#[test]
fn sarif_validates_against_the_schema() {
    let out = report::sarif(&sample());
    let v: Value = serde_json::from_str(&out).expect("sarif is json");
    assert_valid(&v);
}

#[test]
fn the_schema_check_is_real() {
    let out = report::sarif(&sample());
    let mut v: Value = serde_json::from_str(&out).expect("json");
    v["runs"][0]["results"][0]["kind"] = "bogus".into();
    assert!(!validator().is_valid(&v));
    let mut v: Value = serde_json::from_str(&out).expect("json");
    v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    assert!(!validator().is_valid(&v));
}

#[test]
fn sarif_of_empty_report_validates() {
    let mut r = sample();
    r.findings.clear();
    r.target.data_dir = None;
    let v: Value = serde_json::from_str(&report::sarif(&r)).expect("json");
    assert_valid(&v);
    assert_eq!(v["runs"][0]["results"], Value::Array(vec![]));
}

#[test]
fn sarif_header_and_rules() {
    let v: Value = serde_json::from_str(&report::sarif(&sample())).expect("json");
    assert_eq!(v["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(1));
    let driver = &v["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "pgharden");
    assert_eq!(driver["version"], "0.1.0");
    assert!(driver.get("informationUri").is_none());
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 9);
    let port = &rules[0];
    assert_eq!(port["id"], "other.port");
    assert_eq!(port["name"], "OtherPort");
    assert_eq!(port["shortDescription"]["text"], "The server listens only on the approved port");
    assert!(
        port["fullDescription"]["text"]
            .as_str()
            .expect("text")
            .contains("PGS9-00-000100, CD12-00-000100, CD16-00-003500")
    );
    assert_eq!(port["help"]["text"], "set port = 5432 in postgresql.conf and restart");
    assert_eq!(port["defaultConfiguration"]["level"], "warning");
    assert_eq!(port["properties"]["pgs9"], "PGS9-00-000100");
    assert_eq!(port["properties"]["cd16"], "CD16-00-003500");
    assert_eq!(port["properties"]["severity"], "medium");
    let level =
        |id: &str| rules.iter().find(|r| r["id"] == id).map(|r| r["defaultConfiguration"]["level"].clone());
    assert_eq!(level("tls.ssl"), Some("error".into()));
    assert_eq!(level("logging.connections"), Some("note".into()));
}

#[test]
fn sarif_results() {
    let v: Value = serde_json::from_str(&report::sarif(&sample())).expect("json");
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 9);
    let result = |id: &str| {
        results.iter().find(|r| r["ruleId"] == id).unwrap_or_else(|| panic!("no result {id}")).clone()
    };

    let port = result("other.port");
    assert_eq!(port["kind"], "fail");
    assert_eq!(port["level"], "warning");
    assert_eq!(port["ruleIndex"], 0);
    assert_eq!(
        port["message"]["text"],
        "The server listens only on the approved port\n/etc/postgresql/16/main/postgresql.conf:64: port = 5433"
    );
    let loc = &port["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "file:///etc/postgresql/16/main/postgresql.conf"
    );
    assert_eq!(loc["physicalLocation"]["region"]["startLine"], 64);
    assert_eq!(loc["logicalLocations"][0]["name"], "db1.example.com:5432 (/var/lib/postgresql/16/main)");

    // A relative configuration file resolves against PGDATA.
    let ssl = result("tls.ssl");
    assert_eq!(ssl["level"], "error");
    let art = &ssl["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(art["uri"], "postgresql.conf");
    assert_eq!(art["uriBaseId"], "PGDATA");
    assert_eq!(v["runs"][0]["originalUriBaseIds"]["PGDATA"]["uri"], "file:///var/lib/postgresql/16/main/");

    // No file in the evidence: only the logical location.
    let conn = result("logging.connections");
    assert_eq!(conn["level"], "note");
    assert!(conn["locations"][0].get("physicalLocation").is_none());
    assert!(conn["locations"][0]["logicalLocations"][0]["name"].is_string());

    let pass = result("audit.outcome");
    assert_eq!(pass["kind"], "pass");
    assert_eq!(pass["level"], "none");
    for id in ["files.log-perms", "privileges.superusers", "host.updates", "encryption.pgcrypto"] {
        let r = result(id);
        assert_eq!(r["kind"], "review", "{id}");
        assert_eq!(r["level"], "none", "{id}");
    }
    assert_eq!(result("files.log-perms")["properties"]["status"], "not-checked");
    assert_eq!(result("host.updates")["properties"]["status"], "manual");
}

#[test]
fn several_findings_share_one_rule() {
    let mut r = sample();
    let mut again = r.findings[0].clone();
    again.evidence = vec!["/etc/postgresql/16/main/conf.d/port.conf:2: port = 5434".into()];
    r.findings.push(again);
    let v: Value = serde_json::from_str(&report::sarif(&r)).expect("json");
    assert_valid(&v);
    assert_eq!(v["runs"][0]["tool"]["driver"]["rules"].as_array().map(Vec::len), Some(9));
    assert_eq!(v["runs"][0]["results"][9]["ruleIndex"], 0);
}
