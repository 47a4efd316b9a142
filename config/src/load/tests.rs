use super::*;
use crate::ProfileError;

fn parse(text: &str) -> Result<Profile, ProfileError> {
    parse_profile("test.toml", text)
}

fn invalid(text: &str) -> crate::error::InvalidProfile {
    match parse(text) {
        Err(ProfileError::Invalid(i)) => *i,
        other => panic!("expected an invalid profile, got {other:?}"),
    }
}

const RELAY: &str = r#"
seed = 3
[target]
kind = "relay"
dsn = "http://abc@127.0.0.1:9/1"
[traffic]
rate = 10
duration = "1s"
[verify.clickhouse]
url = "http://127.0.0.1:8123"
"#;

#[test]
fn every_shipped_profile_parses() {
    for (name, text) in crate::SHIPPED_PROFILES {
        let text = text
            .replace("${SENTRY_DSN}", "http://abc@127.0.0.1:9000/1")
            .replace("${SENTRY_AUTH_TOKEN}", "token");
        if let Err(e) = parse_profile(name, &text) {
            panic!("shipped profile {name}: {e}");
        }
    }
}

#[test]
fn shipped_profiles_parse() {
    let local = parse(shipped_profile("local").unwrap()).unwrap();
    assert_eq!(*local.target.kind.get_ref(), TargetKind::Embedded);
    let smoke = shipped_profile("smoke")
        .unwrap()
        .replace("${SENTRY_DSN}", "http://abc@127.0.0.1:9000/1");
    let smoke = parse(&smoke).unwrap();
    assert_eq!(smoke.target.dsn.unwrap().get_ref().project_id(), 1);
    assert!(smoke.verify.clickhouse.is_some());
}

#[test]
fn a_minimal_relay_profile_gets_documented_defaults() {
    let p = parse(RELAY).unwrap();
    let ch = p.verify.clickhouse.unwrap();
    assert_eq!(ch.errors_table.as_str(), "errors_local");
    assert_eq!(ch.database.as_str(), "default");
    assert_eq!(p.send.max_in_flight.get(), 512);
    assert_eq!(p.traffic.get_ref().issues.get(), 10);
}

#[test]
fn an_unknown_key_names_line_column_and_key_path() {
    let text = RELAY.replace("rate = 10", "rate = 10\nratee = 11");
    let e = invalid(&text);
    assert_eq!(e.key, "traffic.ratee");
    assert_eq!(e.line, 8);
    assert_eq!(e.column, 1);
    assert!(e.message.contains("unknown field `ratee`"), "{}", e.message);
    assert!(
        e.message.contains("`rate`"),
        "allowed keys listed: {}",
        e.message
    );
}

#[test]
fn a_bad_value_names_the_value_and_what_is_allowed() {
    let e = invalid(&RELAY.replace("rate = 10", "rate = -4"));
    assert_eq!((e.key.as_str(), e.line, e.column), ("traffic.rate", 7, 8));
    assert!(e.message.contains("-4"), "{}", e.message);
    assert!(e.message.contains("above 0"), "{}", e.message);

    let e = invalid(&RELAY.replace("duration = \"1s\"", "duration = \"soon\""));
    assert_eq!(e.key, "traffic.duration");
    assert!(
        e.message.contains("soon") || e.message.contains("duration"),
        "{}",
        e.message
    );

    let e = invalid(&RELAY.replace("kind = \"relay\"", "kind = \"kafka\""));
    assert_eq!(e.key, "target.kind");
    assert!(
        e.message.contains("kafka") && e.message.contains("embedded"),
        "{}",
        e.message
    );
}

#[test]
fn cross_key_rules_point_at_the_right_place() {
    let e = invalid(&RELAY.replace("dsn = \"http://abc@127.0.0.1:9/1\"\n", ""));
    assert_eq!((e.key.as_str(), e.line), ("target.dsn", 4));

    let e = invalid(&RELAY.replace("[traffic]", "[traffic]\nmix = { error = 0, native = 0 }"));
    assert_eq!(e.key, "traffic.mix");

    // A relay profile may leave out read-back sources (runs then need --no-verify).
    let text = RELAY.replace("[verify.clickhouse]\nurl = \"http://127.0.0.1:8123\"\n", "");
    assert!(parse(&text).is_ok());

    let text = RELAY.replace(
        "[verify.clickhouse]\nurl = \"http://127.0.0.1:8123\"",
        "[verify.sentry_api]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n\
         [verify.postgres]\nurl = \"postgres://postgres@127.0.0.1/postgres\"",
    );
    let e = invalid(&text);
    assert_eq!((e.key.as_str(), e.line), ("verify.postgres", 12));
}

#[test]
fn every_unset_variable_in_a_scope_is_named_and_defaults_stand_in() {
    let text = RELAY
        .replace(
            "http://abc@127.0.0.1:9/1",
            "${SENTRY_LOAD_TEST_SURELY_UNSET_DSN}",
        )
        .replace(
            "url = \"http://127.0.0.1:8123\"",
            "url = \"${SENTRY_LOAD_TEST_SURELY_UNSET_CH:-http://127.0.0.1:8123}\"\n\
             password = \"${SENTRY_LOAD_TEST_SURELY_UNSET_PW}\"",
        );
    let profile = parse(&text).unwrap();
    let vars: Vec<_> = profile
        .variables
        .iter()
        .map(|u| (u.key.as_str(), u.variable.as_str(), u.missing()))
        .collect();
    assert_eq!(
        vars,
        [
            ("target.dsn", "SENTRY_LOAD_TEST_SURELY_UNSET_DSN", true),
            (
                "verify.clickhouse.url",
                "SENTRY_LOAD_TEST_SURELY_UNSET_CH",
                false
            ),
            (
                "verify.clickhouse.password",
                "SENTRY_LOAD_TEST_SURELY_UNSET_PW",
                true
            ),
        ]
    );
    let all = profile.require(&[""]).unwrap_err().to_string();
    assert!(
        all.contains("SENTRY_LOAD_TEST_SURELY_UNSET_DSN is not set"),
        "{all}"
    );
    assert!(
        all.contains("also unset: SENTRY_LOAD_TEST_SURELY_UNSET_PW (verify.clickhouse.password)"),
        "{all}"
    );
    let ch = profile.verify.clickhouse.as_ref().unwrap();
    assert_eq!(ch.url.expose().as_str(), "http://127.0.0.1:8123/");
}

#[test]
fn a_missing_environment_variable_is_named_and_no_secret_is_shown() {
    let text = RELAY.replace(
        "http://abc@127.0.0.1:9/1",
        "${SENTRY_LOAD_TEST_SURELY_UNSET_VARIABLE}",
    );
    // The profile parses without it; a command reading `target` refuses, naming it.
    let profile = parse(&text).expect("parses without its environment");
    assert!(profile.require(&["verify", "gates"]).is_ok());
    let e = match profile.require(&["target"]) {
        Err(ProfileError::Invalid(i)) => *i,
        other => panic!("expected the unset variable to be refused, got {other:?}"),
    };
    assert_eq!(e.key, "target.dsn");
    assert!(
        e.message
            .contains("SENTRY_LOAD_TEST_SURELY_UNSET_VARIABLE is not set"),
        "{}",
        e.message
    );

    let text = RELAY
        .replace("abc@", "abc:hunter2@")
        .replace("rate = 10", "rate = 0");
    let shown = ProfileError::Invalid(Box::new(invalid(&text))).to_string();
    assert!(
        !shown.contains("hunter2") || shown.contains("dsn ="),
        "{shown}"
    );
    let parsed = parse(&RELAY.replace("abc@", "abc:hunter2@")).unwrap();
    assert!(!format!("{parsed:?}").contains("hunter2"));
}

#[test]
fn names_resolve_to_local_files_before_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        load_profile("local", dir.path()).unwrap().source,
        "shipped:local"
    );
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(dir.path().join("profiles/local.toml"), RELAY).unwrap();
    let p = load_profile("local", dir.path()).unwrap();
    assert!(p.source.ends_with("profiles/local.toml"), "{}", p.source);
    assert_eq!(p.hash.len(), 16);
    match load_profile("nope", dir.path()) {
        Err(ProfileError::NotFound { available, .. }) => assert!(available.contains("smoke")),
        other => panic!("{other:?}"),
    }
}

const STAGED: &str = r#"
seed = 3
[target]
kind = "embedded"
[traffic]
arrivals = "poisson"
[[traffic.stages]]
ramp_to = 100
duration = "10s"
[[traffic.stages]]
spike = { base = 100, peak = 1000, for = "5s" }
duration = "30s"
"#;

#[test]
fn staged_traffic_parses() {
    let p = parse(STAGED).unwrap();
    let t = p.traffic.get_ref();
    assert_eq!(t.stages.len(), 2);
    assert_eq!(t.arrivals, crate::ArrivalProcess::Poisson);
    assert!(t.rate.is_none());
}

#[test]
fn traffic_forms_and_stage_shapes_are_checked() {
    let e = invalid(&STAGED.replace("[traffic]", "[traffic]\nrate = 5"));
    assert_eq!(e.key, "traffic.rate");
    assert!(e.message.contains("remove `rate`"), "{}", e.message);

    let e = invalid(&STAGED.replace("ramp_to = 100", "ramp_to = 100\nhold = 4"));
    assert_eq!((e.key.as_str(), e.line), ("traffic.stages[0]", 7));
    assert!(e.message.contains("exactly one of"), "{}", e.message);

    let e = invalid(&STAGED.replace("for = \"5s\"", "for = \"5s\", at = \"28s\""));
    assert_eq!(e.key, "traffic.stages[1].spike");
    assert!(e.message.contains("does not fit"), "{}", e.message);

    let e = invalid(&RELAY.replace("duration = \"1s\"", "duration = \"1s\"\ncount = 5"));
    assert_eq!(e.key, "traffic.count");

    let e = invalid(&RELAY.replace("duration = \"1s\"", ""));
    assert_eq!(e.key, "traffic.duration");

    let zero = "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\n\
                [[traffic.stages]]\nhold = 0\nduration = \"5s\"\n";
    assert!(invalid(zero).message.contains("plan 0.00 events"));
}

#[test]
fn a_mirror_has_its_own_destination_and_read_back() {
    let text = format!(
        "{RELAY}[mirror]\ndsn = \"http://def@127.0.0.1:19/4\"\n\
         [mirror.verify.clickhouse]\nurl = \"http://127.0.0.1:18123\"\n"
    );
    let p = parse(&text).unwrap();
    let m = p.mirror.unwrap().into_inner();
    assert_eq!(m.dsns()[0].0.project_id(), 4);
    assert!(m.verify.clickhouse.is_some());

    let e = invalid(&format!(
        "{RELAY}[mirror]\n[mirror.verify]\ndeadline = \"5s\"\n"
    ));
    assert_eq!(e.key, "mirror.dsn");
    let embedded = "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 1\nduration = \"1s\"\n\
                    [mirror]\ndsn = \"http://def@127.0.0.1:19/4\"\n";
    assert_eq!(invalid(embedded).key, "mirror");
}

#[test]
fn realism_knobs_resolve_with_defaults_per_kind() {
    use sentry_load_common::EventKind;
    let text = format!(
        "{RELAY}[traffic.error]\nissues = 7\nenvironments = [\"production\", \"staging\"]\n\
         breadcrumbs = {{ min = 0, max = 40 }}\nsize = {{ p50 = \"6 KiB\", p99 = \"60 KiB\" }}\n\
         [traffic.transaction]\nnames = 300\nspans = {{ min = 10, max = 200 }}\n\
         [traffic.native]\nattachment_size = {{ p50 = \"100 KiB\", p99 = \"2 MiB\" }}\n"
    );
    let p = parse(&text).unwrap();
    let r = p.traffic.get_ref().realism();
    let error = r.of(EventKind::Error);
    assert_eq!(error.groups, 7);
    assert_eq!(error.environments, ["production", "staging"]);
    assert_eq!((error.breadcrumbs.min, error.breadcrumbs.max), (0, 40));
    assert_eq!(error.size.unwrap().p99.as_u64(), 60 * 1024);
    let tx = r.of(EventKind::Transaction);
    assert_eq!((tx.groups, tx.spans.min, tx.spans.max), (300, 10, 200));
    assert_eq!(
        r.of(EventKind::Native).attachment_size.p99.as_u64(),
        2 << 20
    );
    // Unset tables take the defaults; issues come from `traffic.issues`.
    let js = r.of(EventKind::Javascript);
    assert_eq!(js.groups, 10);
    assert_eq!(js.environments, ["production"]);
    assert!(js.size.is_none());
}

#[test]
fn realism_knobs_are_checked_against_relays_limits() {
    let bad = |table: &str| invalid(&format!("{RELAY}{table}"));
    let e = bad("[traffic.error]\nbreadcrumbs = { min = 10, max = 5 }\n");
    assert_eq!((e.key.as_str(), e.line), ("traffic.error.breadcrumbs", 12));
    assert!(e.message.contains("min = 10, max = 5"), "{}", e.message);
    let e = bad("[traffic.javascript]\nsize = { p50 = \"10 KiB\", p99 = \"2 MiB\" }\n");
    assert_eq!(e.key, "traffic.javascript.size");
    let e = bad("[traffic.native]\nenvironments = [\"prod/eu\"]\n");
    assert_eq!(e.key, "traffic.native.environments");
    assert!(e.message.contains("prod/eu"), "{}", e.message);
    let e = bad("[traffic.transaction]\nspans = { min = 1, max = 5000 }\n");
    assert_eq!(e.key, "traffic.transaction.spans");
    // Knobs that do not apply to a kind are unknown keys there.
    let e = bad("[traffic.transaction]\nbreadcrumbs = { min = 1, max = 5 }\n");
    assert_eq!(e.key, "traffic.transaction.breadcrumbs");
    let e = bad("[traffic.error]\nattachment_size = { p50 = 1, p99 = 2 }\n");
    assert_eq!(e.key, "traffic.error.attachment_size");
}

#[test]
fn javascript_against_a_relay_needs_an_artifacts_table() {
    let text = RELAY.replace("[traffic]", "[traffic]\nmix = { javascript = 1 }");
    let e = invalid(&text);
    assert_eq!(e.key, "traffic.mix.javascript");
    assert!(e.message.contains("[artifacts]"), "{}", e.message);
    let with = format!("{text}[artifacts]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n");
    let p = parse(&with).unwrap();
    let a = p.artifacts.unwrap();
    assert_eq!(
        (a.get_ref().org.as_str(), a.get_ref().project.as_str()),
        ("sentry", "internal")
    );
}

#[test]
fn a_store_target_takes_no_transactions_and_is_looked_up_by_event_id() {
    let store = RELAY.replace("dsn = ", "protocol = \"store\"\ndsn = ");
    let e = invalid(&store.replace(
        "duration = \"1s\"",
        "duration = \"1s\"\nmix = { error = 1, transaction = 1 }",
    ));
    assert_eq!(e.key, "target.protocol");
    assert!(e.message.contains("takes no transactions"), "{}", e.message);
    let p = parse(&format!(
        "{store}[verify.sentry_api]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n"
    ))
    .unwrap();
    let api = p.verify.sentry_api.unwrap();
    assert_eq!(api.lookup, Some(crate::ApiLookup::EventIds));
    assert_eq!(api.discover_per_second, Some(0));
    let p = parse(&format!(
        "{RELAY}[verify.sentry_api]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n"
    ))
    .unwrap();
    let api = p.verify.sentry_api.unwrap();
    assert_eq!(api.lookup, Some(crate::ApiLookup::Discover));
    assert_eq!(api.discover_per_second, Some(25));
}

#[test]
fn slugs_and_user_names_resolve_their_variables() {
    let text = format!(
        "{RELAY}user = \"${{SENTRY_LOAD_TEST_SURELY_UNSET_USER:-reader}}\"\n\
         [verify.sentry_api]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n\
         org = \"${{SENTRY_LOAD_TEST_SURELY_UNSET_ORG:-acme}}\"\n\
         [artifacts]\nurl = \"http://127.0.0.1:9000\"\ntoken = \"t\"\n\
         org = \"${{SENTRY_LOAD_TEST_SURELY_UNSET_ORG:-acme}}\"\n\
         project = \"${{SENTRY_LOAD_TEST_SURELY_UNSET_PROJECT:-web}}\"\n"
    );
    let p = parse(&text).unwrap();
    assert_eq!(p.verify.clickhouse.as_ref().unwrap().user, "reader");
    assert_eq!(p.verify.sentry_api.as_ref().unwrap().org, "acme");
    let a = p.artifacts.as_ref().unwrap().get_ref();
    assert_eq!((a.org.as_str(), a.project.as_str()), ("acme", "web"));
}

#[test]
fn absurd_schedules_and_waits_are_refused_with_their_key() {
    let e = invalid(
        &RELAY
            .replace("duration = \"1s\"", "count = 1")
            .replace("rate = 10", "rate = 1e-300"),
    );
    assert_eq!(e.key, "traffic.count");
    assert!(
        e.message.contains("1e-300/s take 1.000e300 s"),
        "{}",
        e.message
    );
    for long in ["500000000000years", "367days"] {
        let e = invalid(&RELAY.replace("\"1s\"", &format!("\"{long}\"")));
        assert_eq!(e.key, "traffic.duration");
        assert!(e.message.contains("longest schedule"), "{}", e.message);
    }
    for (add, key, says) in [
        ("[send]\ntimeout = \"0s\"", "send.timeout", "above zero"),
        (
            "[send]\ntimeout = \"500000000000years\"",
            "send.timeout",
            "at most 1day",
        ),
        (
            "[send]\ngive_up_after = \"9999days\"",
            "send.give_up_after",
            "at most 1day",
        ),
        (
            "[send]\nlate_after = \"9999days\"",
            "send.late_after",
            "at most 1day",
        ),
        (
            "[verify]\ndeadline = \"9999days\"",
            "verify.deadline",
            "at most 1day",
        ),
        (
            "[verify]\npoll_interval = \"9999days\"",
            "verify.poll_interval",
            "at most 1day",
        ),
    ] {
        let text = RELAY.replace(
            "[verify.clickhouse]",
            &format!("{add}\n[verify.clickhouse]"),
        );
        let e = invalid(&text);
        assert_eq!(e.key, key, "{add}: {}", e.message);
        assert!(e.message.contains(says), "{add}: {}", e.message);
    }
    let spike = |s: &str| {
        format!(
            "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\n[[traffic.stages]]\n\
             duration = \"1m\"\nspike = {{ base = 1, peak = 2, {s} }}\n"
        )
    };
    for s in [
        "for = \"10s\", at = \"500000000000years\"",
        "for = \"500000000000years\"",
    ] {
        let e = invalid(&spike(s));
        assert!(e.message.contains("longest schedule"), "{s}: {}", e.message);
    }
    // Stages that add up past the limit are refused at the one that crosses it.
    let mut long = "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\n".to_owned();
    for _ in 0..3 {
        long.push_str("[[traffic.stages]]\nhold = 1\nduration = \"200days\"\n");
    }
    let e = invalid(&long);
    assert_eq!(e.key, "traffic.stages[1].duration", "{}", e.message);
}

#[test]
fn more_projects_than_the_journal_can_index_are_refused() {
    let mut text = "seed = 1\n[target]\nkind = \"relay\"\n[traffic]\nrate = 1\nduration = \"1s\"\n\
                    [verify.clickhouse]\nurl = \"http://127.0.0.1:8123\"\n"
        .to_owned();
    for i in 0..=MAX_TARGETS {
        text.push_str(&format!(
            "[[target.projects]]\ndsn = \"http://k@127.0.0.1:9/{}\"\n",
            i + 1
        ));
    }
    let e = invalid(&text);
    assert_eq!(e.key, "target.projects");
    assert!(e.message.contains("at most 65536"), "{}", e.message);
}
