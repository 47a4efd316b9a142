//! The shipped topologies and the operator docs, validated: every compose overlay is valid
//! compose (`docker-compose config`, Debian's package) on top of a stand-in for the
//! self-hosted base; every service an overlay touches exists in self-hosted (or is defined
//! whole by the overlay); the Kubernetes manifests parse and have what they need; the Helm
//! values only set keys the chart has; and every `sentry-load` command line quoted in the docs
//! is one the tool accepts.

use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose_dir() -> PathBuf {
    root().join("compose")
}

/// Non-comment lines of a data file.
fn data_lines(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// A YAML file, with `<<:` merge keys applied (compose files use them).
fn yaml(path: &Path) -> Value {
    let mut v: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v.apply_merge().unwrap();
    v
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// (overlay, applied on the stand-in base?) for every compose file shipped.
const OVERLAYS: &[(&str, bool)] = &[
    ("harness/docker-compose.harness.yml", true),
    ("harness/docker-compose.publish.yml", true),
    ("single-node/docker-compose.single-node.yml", true),
    ("split/docker-compose.center.yml", true),
    ("split/docker-compose.web-node.yml", false),
    ("scaled/docker-compose.scaled.yml", true),
];

fn docker_compose() -> PathBuf {
    ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("needs docker-compose (scripts/test.sh installs it)")
}

/// `docker-compose config -q` over `files`; the error output when it fails.
fn compose_config(bin: &Path, files: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let dir = compose_dir();
    let mut cmd = Command::new(bin);
    cmd.current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SENTRY_LOAD_SRC", root())
        .envs(env.iter().copied())
        .args(["--env-file", "validate/env", "--project-directory", "."]);
    for f in files {
        cmd.args(["-f", f]);
    }
    let out = cmd
        .args(["config", "-q"])
        .output()
        .expect("docker-compose runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
fn every_overlay_is_valid_compose_on_the_self_hosted_base() {
    let bin = docker_compose();
    let base = "validate/self-hosted-standin.yml";
    for (overlay, on_base) in OVERLAYS {
        let files: Vec<&str> = if *on_base {
            vec![base, overlay]
        } else {
            vec![overlay]
        };
        compose_config(&bin, &files, &[]).unwrap_or_else(|e| panic!("{overlay}: {e}"));
    }
    let isolation = [
        base,
        "scaled/docker-compose.scaled.yml",
        "scaled/docker-compose.ingest-isolation.yml",
    ];
    compose_config(&bin, &isolation, &[]).unwrap();
    // The check can fail: a misspelt key is refused, and so is a split node without its
    // address.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "services:\n  relay:\n    portz: [\"127.0.0.1:3000:3000\"]\n",
    )
    .unwrap();
    let err = compose_config(&bin, &[base, bad.to_str().unwrap()], &[]).unwrap_err();
    assert!(err.contains("portz"), "{err}");
    let blank = [("CENTER_HOST", "")];
    let err = compose_config(&bin, &["split/docker-compose.web-node.yml"], &blank).unwrap_err();
    assert!(err.contains("CENTER_HOST"), "{err}");
}

#[test]
fn overlays_touch_only_services_self_hosted_defines_or_define_them_whole() {
    let known = data_lines(&compose_dir().join("self-hosted-services.txt"));
    assert!(known.contains("relay") && known.contains("taskworker") && known.len() > 40);
    let standin = yaml(&compose_dir().join("validate/self-hosted-standin.yml"));
    for name in standin["services"].as_mapping().unwrap().keys() {
        assert!(known.contains(name.as_str().unwrap()), "stand-in {name:?}");
    }
    let mut files: Vec<&str> = OVERLAYS.iter().map(|(f, _)| *f).collect();
    files.push("scaled/docker-compose.ingest-isolation.yml");
    for file in files {
        let doc = yaml(&compose_dir().join(file));
        let services = doc["services"].as_mapping().unwrap();
        let own: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
        for (name, svc) in services {
            let name = name.as_str().unwrap();
            let whole = svc.get("image").is_some() || svc.get("build").is_some();
            assert!(
                known.contains(name) || whole,
                "{file}: `{name}` is not a self-hosted service and has no image"
            );
            // What it depends on exists, in self-hosted or in the overlay.
            let deps: Vec<String> = match svc.get("depends_on") {
                Some(Value::Sequence(s)) => s
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::Mapping(m)) => m
                    .keys()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => vec![],
            };
            for d in deps {
                assert!(
                    known.contains(&d) || own.contains(d.as_str()),
                    "{file}: {name} → {d}"
                );
            }
            // Names resolved to the center are self-hosted's.
            if let Some(Value::Sequence(hosts)) = svc.get("extra_hosts") {
                for h in hosts {
                    let host = h.as_str().unwrap().split(':').next().unwrap();
                    assert!(known.contains(host), "{file}: extra host {host}");
                }
            }
        }
    }
}

#[test]
fn kubernetes_manifests_parse_and_have_what_they_need() {
    let k8s = compose_dir().join("k8s");
    let mut shards = None;
    let mut run_ids = BTreeSet::new();
    for file in ["sentry-load-job.yaml", "sentry-load-verify.yaml"] {
        for doc in yaml_docs(&k8s.join(file)) {
            for field in ["apiVersion", "kind"] {
                assert!(doc[field].as_str().is_some(), "{file}: {field}");
            }
            assert!(
                doc["metadata"]["name"].as_str().is_some(),
                "{file}: metadata.name"
            );
            if doc["kind"] == "Job" {
                let spec = &doc["spec"]["template"]["spec"];
                assert_eq!(spec["restartPolicy"], "Never", "{file}");
                let c = &spec["containers"][0];
                assert!(c["image"].as_str().is_some());
                let env = c["env"].as_sequence().unwrap();
                let run_id = env.iter().find(|e| e["name"] == "RUN_ID").unwrap();
                run_ids.insert(run_id["value"].as_str().unwrap().to_owned());
                let args: Vec<&str> = c["args"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                if doc["spec"]["completionMode"] == "Indexed" {
                    let n = doc["spec"]["completions"].as_u64().unwrap();
                    assert_eq!(doc["spec"]["parallelism"].as_u64(), Some(n));
                    let shard = format!("$(JOB_COMPLETION_INDEX)/{n}");
                    assert!(args.contains(&shard.as_str()), "{args:?}");
                    assert!(args.windows(2).any(|w| w == ["--run-id", "$(RUN_ID)"]));
                    shards = Some(n);
                } else {
                    let n = shards.expect("the shard job comes first");
                    assert!(
                        args[0].contains(&format!(
                            "sentry-load verify /runs/$(RUN_ID)/shard-*-of-{n}"
                        )),
                        "{args:?}"
                    );
                }
            }
            if doc["kind"] == "ConfigMap" {
                // The profile it carries is one sentry-load accepts.
                let text = doc["data"]["scaled.toml"].as_str().unwrap();
                let dir = tempfile::tempdir().unwrap();
                std::fs::write(dir.path().join("scaled.toml"), text).unwrap();
                let out = Command::new(env!("CARGO_BIN_EXE_sentry-load"))
                    .args(["profiles", "check", "scaled.toml"])
                    .current_dir(dir.path())
                    .env(
                        "SENTRY_DSN",
                        "http://0123456789abcdef0123456789abcdef@sentry-relay:3000/1",
                    )
                    .env(
                        "SENTRY_LOAD_CLICKHOUSE_URL",
                        "http://sentry-clickhouse:8123",
                    )
                    .env(
                        "SENTRY_LOAD_POSTGRES_URL",
                        "postgres://postgres@sentry-postgresql:5432/sentry",
                    )
                    .env("SENTRY_AUTH_TOKEN", "token")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert_eq!(
        run_ids.len(),
        1,
        "the shards and the verify step share one run id"
    );
    assert_eq!(shards, Some(4));
}

#[test]
fn helm_values_set_only_keys_the_chart_has() {
    let keys = data_lines(&compose_dir().join("k8s/chart-keys.txt"));
    let values = yaml(&compose_dir().join("k8s/values-scaled.yaml"));
    let mut set = Vec::new();
    fn walk(v: &Value, path: String, out: &mut Vec<String>) {
        if let Value::Mapping(m) = v {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.as_str().unwrap().to_owned()
                } else {
                    format!("{path}.{}", k.as_str().unwrap())
                };
                out.push(p.clone());
                walk(x, p, out);
            }
        }
    }
    walk(&values, String::new(), &mut set);
    assert!(set.len() > 10);
    for k in &set {
        assert!(
            keys.contains(k),
            "values-scaled.yaml sets `{k}`, which the chart does not have"
        );
    }
}

/// Every `sentry-load …` command line in the docs' `sh` blocks.
fn quoted_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut joined = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(l) = line.strip_suffix('\\') {
            joined.push_str(l);
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let words = shell_words::split(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
        let words: Vec<String> = words
            .into_iter()
            .take_while(|w| !w.starts_with('#'))
            .collect();
        // The command word: after any `VAR=value` assignments.
        let first = words
            .iter()
            .position(|w| !w.contains('=') || w.starts_with('-'))
            .unwrap_or(words.len());
        let rest = &words[first..];
        let start = if rest.first().map(String::as_str) == Some("sentry-load") {
            Some(first + 1)
        } else if rest.starts_with(&["cargo", "run", "--release", "--"].map(String::from)) {
            Some(first + 4)
        } else {
            None
        };
        if let Some(i) = start
            && i < words.len()
        {
            out.push(shell_words::join(&words[i..]));
        }
    }
    out
}

#[test]
fn every_command_line_in_the_docs_is_accepted() {
    let mut total = 0;
    for doc in ["README.md", "docs/operator-guide.md", "compose/README.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        for cmd in quoted_commands(&text) {
            let mut args = shell_words::split(&cmd).unwrap();
            args.push("--help".into());
            let out = Command::new(env!("CARGO_BIN_EXE_sentry-load"))
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{doc}: `sentry-load {cmd}` is not accepted:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            total += 1;
        }
    }
    assert!(total >= 15, "{total} commands found");
    // The check can fail: an option the tool does not have is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_sentry-load"))
        .args(["compare", "a", "b", "--baseline", "c", "--help"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
