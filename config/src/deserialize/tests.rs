use super::*;
use crate::load::profile_errors;

fn errors(text: &str) -> Vec<String> {
    profile_errors("p.toml", text)
        .iter()
        .map(|e| {
            let i = e.invalid().expect("located");
            format!("{}:{} {}: {}", i.line, i.column, i.key, i.message)
        })
        .collect()
}

const GOOD: &str = "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://abc@127.0.0.1:9/1\"\n\
                    [traffic]\nrate = 10\nduration = \"1s\"\n\
                    [verify.sentry_api]\nurl = \"http://127.0.0.1:9\"\ntoken = \"${T}\"\n";

#[test]
fn a_good_profile_has_no_error() {
    assert_eq!(errors(GOOD), Vec::<String>::new());
}

#[test]
fn every_error_is_reported_in_file_order_with_the_closest_key() {
    let text = GOOD
        .replace("rate = 10", "rate = -5\nduraton = \"2s\"")
        .replace("token = ", "tokn = \"x\"\ntoken = ")
        .replace("seed = 1", "seed = 1\ndescripton = \"typo\"");
    let found = errors(&text);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].starts_with("2:1 descripton: unknown field"),
        "{found:#?}"
    );
    assert!(
        found[0].ends_with("did you mean `description`?"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("7:8 traffic.rate: invalid rate -5"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("8:1 traffic.duraton: unknown field"),
        "{found:#?}"
    );
    assert!(found[2].ends_with("did you mean `duration`?"), "{found:#?}");
    assert!(
        found[3].contains("verify.sentry_api.tokn: unknown field"),
        "{found:#?}"
    );
    assert!(found[3].ends_with("did you mean `token`?"), "{found:#?}");
}

#[test]
fn a_misspelt_variant_is_named_with_the_one_meant() {
    let found = errors(&GOOD.replace("kind = \"relay\"", "kind = \"rellay\""));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("unknown variant `rellay`"), "{found:#?}");
    assert!(found[0].ends_with("did you mean `relay`?"), "{found:#?}");
}

#[test]
fn a_required_key_taken_out_is_not_reported_again_as_missing() {
    // `url` is required: once its bad value is taken out, "missing field `url`" follows only
    // from that, and is not an error of the file.
    let found = errors(&GOOD.replace("url = \"http://127.0.0.1:9\"", "url = \"not a url\""));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("verify.sentry_api.url"), "{found:#?}");
}

#[test]
fn a_rule_over_several_keys_is_checked_once_the_keys_parse() {
    let text = "seed = 1\nbogus = 2\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 10\n\
                duration = \"1s\"\n[verify.clickhouse]\nurl = \"http://127.0.0.1:9\"\n";
    let found = errors(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("bogus: unknown field"), "{found:#?}");
    assert!(found[1].contains("embedded"), "{found:#?}");
}

#[test]
fn every_syntax_error_is_reported_and_nothing_past_them() {
    let found = errors("seed = \n[traffic]\nrate = = 3\n");
    assert!(found.len() >= 2, "{found:#?}");
    assert!(found[0].starts_with("1:"), "{found:#?}");
    assert!(found.iter().any(|e| e.starts_with("3:")), "{found:#?}");
}

#[test]
fn a_file_of_errors_is_cut_at_the_limit() {
    let mut text = GOOD.to_owned();
    text.insert_str(
        0,
        &(0..200).map(|i| format!("k{i} = 1\n")).collect::<String>(),
    );
    assert_eq!(errors(&text).len(), MAX_ERRORS);
}

#[test]
fn the_first_error_is_the_one_loading_reports() {
    let text = GOOD.replace("rate = 10", "rate = -5");
    let first = crate::parse_profile("p.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(first.contains("invalid rate -5"), "{first}");
}
