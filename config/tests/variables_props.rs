//! Property tests of `${VAR}` resolution: any string is resolved or refused without a panic,
//! and strings built of text and references resolve to the text and the values.

use proptest::prelude::*;
use sentry_load_config::{interpolate, parse_profile};

/// Cases per property: 4,096 in the test suite; `SENTRY_LOAD_PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("SENTRY_LOAD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_string_is_resolved_or_refused_without_a_panic(raw in "\\PC{0,64}") {
        let _ = interpolate(&raw);
    }

    #[test]
    fn any_reference_shaped_text_is_resolved_or_refused_without_a_panic(
        raw in "[a-z ]{0,4}(\\$\\{[A-Za-z0-9_:\\-{}$]{0,12}\\}?[a-z ]{0,4}){0,4}",
    ) {
        let _ = interpolate(&raw);
    }

    #[test]
    fn text_and_defaults_resolve_to_themselves(
        parts in proptest::collection::vec(("[a-z /.:]{0,8}", "[a-z0-9.]{1,8}"), 0..5),
    ) {
        // Each reference is to a variable no environment sets, with a default.
        let mut raw = String::new();
        let mut want = String::new();
        for (i, (text, default)) in parts.iter().enumerate() {
            raw.push_str(text);
            raw.push_str(&format!("${{SENTRY_LOAD_PROP_UNSET_{i}:-{default}}}"));
            want.push_str(text);
            want.push_str(default);
        }
        prop_assert_eq!(interpolate(&raw).unwrap(), want);
    }

    #[test]
    fn any_profile_text_is_parsed_or_refused_without_a_panic(text in "\\PC{0,200}") {
        let _ = parse_profile("fuzz.toml", &text);
    }

    #[test]
    fn a_profile_whose_values_reference_anything_parses_or_names_its_error(
        dsn in "[$a-z{}:/@0-9_\\-.]{0,40}",
        url in "[$a-z{}:/@0-9_\\-.]{0,40}",
    ) {
        let text = format!(
            "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"{dsn}\"\n[traffic]\nrate = 1\n\
             duration = \"1s\"\n[verify.clickhouse]\nurl = \"{url}\"\n"
        );
        match parse_profile("fuzz.toml", &text) {
            Ok(p) => {
                // Whatever parses lists its references, and requiring them never panics.
                let _ = p.require(&[""]);
                for u in &p.variables {
                    prop_assert!(u.key == "target.dsn" || u.key == "verify.clickhouse.url");
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
