//! `report.json` has a checked-in JSON Schema (`reports/report.schema.json`), generated from
//! the report model: the checked-in file must equal what the model generates (regenerate with
//! `SENTRY_LOAD_WRITE_SCHEMA=1 cargo test -p sentry-load-reports --test schema`), and reports
//! validate against it while broken ones do not.

use sentry_load_reports::Report;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/report.schema.json");

fn generated() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap()
}

#[test]
fn the_checked_in_schema_is_the_models() {
    let generated = generated();
    if std::env::var_os("SENTRY_LOAD_WRITE_SCHEMA").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(SCHEMA_PATH, text).unwrap();
    }
    let checked_in: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap();
    assert_eq!(
        checked_in, generated,
        "reports/report.schema.json is stale: regenerate it (see this file's doc)"
    );
}

#[test]
fn reports_validate_and_broken_ones_do_not() {
    let schema = generated();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/report.json")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let mut no_loss = report.clone();
    no_loss.as_object_mut().unwrap().remove("loss");
    assert!(!validator.is_valid(&no_loss));
    let mut bad_count = report.clone();
    bad_count["visibility"]["seen"] = serde_json::json!("many");
    assert!(!validator.is_valid(&bad_count));
    // The fixture round-trips through the model too.
    let parsed: Report = serde_json::from_value(report).unwrap();
    assert_eq!(parsed.schema_version, sentry_load_reports::SCHEMA_VERSION);
}
