use super::*;
use crate::parse_profile;
use proptest::prelude::*;

const PROFILE: &str = r#"
seed = 3
[target]
kind = "relay"
dsn = "http://0123456789abcdef:dsnsecret@127.0.0.1:9/1"
[traffic]
rate = 10
duration = "1s"
[verify.clickhouse]
url = "http://127.0.0.1:8123"
password = "chpass"
[verify.postgres]
url = "postgres://postgres:pgpass@127.0.0.1:5432/postgres?sslmode=disable&password=qpass"
[verify.sentry_api]
url = "http://127.0.0.1:9000"
token = "sntrys_literal"
"#;

const SECRETS: [&str; 6] = [
    "dsnsecret",
    "chpass",
    "pgpass",
    "qpass",
    "sntrys_literal",
    "abcdef:dsnsecret",
];

#[test]
fn every_literal_secret_becomes_a_reference_named_by_its_key() {
    let r = redact(PROFILE);
    for s in SECRETS {
        assert!(!r.text.contains(s), "{s} survived:\n{}", r.text);
    }
    assert!(r.text.contains(
        "dsn = \"http://0123456789abcdef:${SENTRY_LOAD_REDACTED_TARGET_DSN_PASSWORD}@127.0.0.1:9/1\""
    ));
    assert!(
        r.text
            .contains("password = \"${SENTRY_LOAD_REDACTED_VERIFY_CLICKHOUSE_PASSWORD}\"")
    );
    assert!(r.text.contains(
        "postgres://postgres:${SENTRY_LOAD_REDACTED_VERIFY_POSTGRES_URL_PASSWORD}@127.0.0.1:5432/\
         postgres?sslmode=disable&password=${SENTRY_LOAD_REDACTED_VERIFY_POSTGRES_URL_PASSWORD}"
    ));
    assert!(
        r.text
            .contains("token = \"${SENTRY_LOAD_REDACTED_VERIFY_SENTRY_API_TOKEN}\"")
    );
    assert_eq!(
        r.keys,
        [
            "target.dsn",
            "verify.clickhouse.password",
            "verify.postgres.url",
            "verify.sentry_api.token"
        ]
    );
    // What is kept is still the same profile, every secret now asked of the environment.
    let p = parse_profile("kept.toml", &r.text).unwrap();
    let wanted: Vec<_> = p.variables.iter().map(|v| v.variable.as_str()).collect();
    assert!(
        wanted.contains(&"SENTRY_LOAD_REDACTED_VERIFY_SENTRY_API_TOKEN"),
        "{wanted:?}"
    );
    assert!(
        wanted.contains(&"SENTRY_LOAD_REDACTED_TARGET_DSN_PASSWORD"),
        "{wanted:?}"
    );
    // A command that reads a redacted key asks for its variable, naming why.
    let e = p.require(&["verify"]).unwrap_err().to_string();
    assert!(e.contains("wrote this secret literally"), "{e}");
    assert!(p.require(&["traffic"]).is_ok());
}

#[test]
fn references_stay_and_defaults_that_hold_secrets_go() {
    let text = "[a]\ntoken = \"${TOKEN}\"\nother_token = \"${T:-literal}\"\n\
                url = \"postgres://u:${PGPASS}@h/db\"\n\
                mirror_url = \"${PG:-postgres://u:pw@h/db}\"\n\
                plain_url = \"${PG:-postgres://u@h/db}\"\n\
                api_token = \"${A}${B}\"\nsecret_mix = \"x${A}\"\n";
    let r = redact(text);
    assert_eq!(
        r.keys,
        ["a.other_token", "a.mirror_url", "a.secret_mix"],
        "{}",
        r.text
    );
    assert!(r.text.contains("token = \"${TOKEN}\""));
    assert!(r.text.contains("url = \"postgres://u:${PGPASS}@h/db\""));
    assert!(
        r.text
            .contains("mirror_url = \"${SENTRY_LOAD_REDACTED_A_MIRROR_URL}\"")
    );
    assert!(!r.text.contains("literal") && !r.text.contains(":pw@"));
}

#[test]
fn a_value_over_several_lines_keeps_the_line_count() {
    let text =
        "[verify.sentry_api]\ntoken = \"\"\"\nline one\nline two\"\"\"\nurl = \"http://h\"\n";
    let r = redact(text);
    assert_eq!(r.text.lines().count(), text.lines().count(), "{}", r.text);
    assert!(!r.text.contains("line one"));
    let table: toml::Table = toml::from_str(&r.text).unwrap();
    assert_eq!(
        table["verify"]["sentry_api"]["token"].as_str(),
        Some("${SENTRY_LOAD_REDACTED_VERIFY_SENTRY_API_TOKEN}")
    );
    // The line after keeps its number: an error there points at the same line.
    assert_eq!(r.text.lines().nth(4), Some("url = \"http://h\""));
}

#[test]
fn offsets_past_a_rewritten_value_move_with_it() {
    let text = "token = \"ab\"\nx = 1\n";
    let r = redact(text);
    let x = text.find("x =").unwrap();
    assert_eq!(&r.text[r.offset(x)..r.offset(x) + 3], "x =");
    let inside = text.find("ab").unwrap();
    assert_eq!(r.offset(inside), text.find('"').unwrap());
}

#[test]
fn text_that_does_not_parse_is_masked_line_by_line() {
    let text = "[verify.sentry_api]\ntoken = \"sntrys_open\nurl = \"postgres://u:pw@h/db\" x\n";
    let r = redact(text);
    assert!(
        !r.text.contains("sntrys_open") && !r.text.contains(":pw@"),
        "{}",
        r.text
    );
    assert_eq!(r.text.lines().count(), text.lines().count());
}

#[test]
fn an_error_snippet_never_shows_a_literal_secret() {
    let text = "seed = 1\n[verify]\nsentry_api = { url = \"http://u:pw@h:9000\", \
                token = \"sntrys_inline\", bogus = 1 }\n";
    let e = parse_profile("p.toml", text).unwrap_err().to_string();
    assert!(!e.contains("sntrys_inline") && !e.contains(":pw@"), "{e}");
    let caret_line = e.lines().last().unwrap();
    let source_line = e.lines().rev().nth(1).unwrap();
    let caret = caret_line.find('^').unwrap();
    assert_eq!(&source_line[caret..caret + 5], "bogus", "{e}");
    // So is a syntax error's.
    let e = parse_profile("p.toml", "[verify.sentry_api]\ntoken = \"sntrys_open\n")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("sntrys_open"), "{e}");
}

proptest! {
    #[test]
    fn no_literal_token_or_password_survives(
        secret in "[ -~]{4,40}",
        user in "[a-z]{1,8}",
        pass in "[A-Za-z0-9]{4,20}",
    ) {
        prop_assume!(!secret.contains("${"));
        let text = format!(
            "[verify.sentry_api]\ntoken = {}\n[verify.postgres]\nurl = \"postgres://{user}:{pass}@h/db\"\n",
            toml::Value::String(secret.clone())
        );
        // A secret that is also a piece of the rest of the text cannot be told from it.
        prop_assume!(!text.replacen(&secret, "", 1).contains(&secret));
        let r = redact(&text);
        prop_assert!(!r.text.contains(&secret), "{}", r.text);
        prop_assert!(!r.text.contains(&format!(":{pass}@")), "{}", r.text);
        let kept: toml::Table = toml::from_str(&r.text).unwrap();
        prop_assert_eq!(
            kept["verify"]["sentry_api"]["token"].as_str(),
            Some("${SENTRY_LOAD_REDACTED_VERIFY_SENTRY_API_TOKEN}")
        );
    }

    #[test]
    fn any_text_is_redacted_without_panic_and_keeps_its_lines(text in "(?s).{0,200}") {
        let r = redact(&text);
        prop_assert_eq!(r.text.matches('\n').count(), text.matches('\n').count());
        prop_assert!(r.offset(text.len()) <= r.text.len());
    }
}
