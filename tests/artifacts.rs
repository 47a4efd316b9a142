//! The artifact-bundle upload against the sim's chunk-upload and assemble API: chunking and
//! batching by the server's options, deduplication of chunks the server has, one assembly per
//! release, the manifest's debug id, and the exit codes of `upload-artifacts`.

mod support;

use sentry_load_engine::generate::artifacts::artifact_bundle;
use sentry_load_engine::generate::js_bundle::Bundle;
use sentry_load_engine::upload::{UploadTarget, upload_artifact_bundle};
use sentry_load_sim::SimConfig;
use support::{sentry_load, shown};

async fn sim() -> sentry_load_sim::SimHandle {
    let config = SimConfig::in_memory(1, "0123456789abcdef0123456789abcdef", "upload-token");
    sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

fn target(sim: &sentry_load_sim::SimHandle, token: &str) -> UploadTarget {
    UploadTarget {
        url: format!("http://{}/", sim.addr()).parse().unwrap(),
        shown: format!("http://{}/", sim.addr()),
        token: sentry_load_config::Secret::new(token),
        org: "sentry".into(),
        project: "internal".into(),
    }
}

#[tokio::test]
async fn a_large_bundle_is_chunked_batched_deduplicated_and_assembled_per_release() {
    let sim = sim().await;
    let mut bundle = Bundle::generate(3);
    // Grow the minified file past several chunks, with bytes that do not compress away.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let filler: String = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    bundle.minified.push_str(&format!("//{filler}\n"));
    let zip = artifact_bundle(&bundle, "sentry", "internal", "storefront@3.8.0");
    let chunk = sentry_load_sim::artifacts::CHUNK_SIZE;
    let expected_chunks = zip.len().div_ceil(chunk);
    assert!(
        expected_chunks > sentry_load_sim::artifacts::CHUNKS_PER_REQUEST,
        "{expected_chunks}"
    );
    let releases = vec!["storefront@3.8.0".to_owned(), "storefront@3.8.1".to_owned()];
    let first = upload_artifact_bundle(&target(&sim, "upload-token"), &zip, &releases)
        .await
        .unwrap();
    assert_eq!(
        (first.chunks, first.sent, first.releases),
        (expected_chunks, expected_chunks, 2)
    );
    // The server has every chunk now: a second upload sends none.
    let again = upload_artifact_bundle(&target(&sim, "upload-token"), &zip, &releases)
        .await
        .unwrap();
    assert_eq!(again.sent, 0);
    let bundles = sim.artifact_bundles();
    assert_eq!(bundles.len(), 2, "{bundles:?}");
    for (b, release) in bundles.iter().zip(&releases) {
        assert_eq!(b.release.as_deref(), Some(release.as_str()));
        assert_eq!(b.projects, ["internal"]);
        assert_eq!(b.debug_ids, [bundle.debug_id.hyphenated().to_string()]);
        assert!(
            b.urls
                .iter()
                .any(|u| u == &format!("~/static/js/{}", bundle.file_name))
        );
    }
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_named_without_the_token() {
    let sim = sim().await;
    let zip = artifact_bundle(&Bundle::generate(1), "sentry", "internal", "r");
    let err = upload_artifact_bundle(&target(&sim, "not-the-token"), &zip, &["r".to_owned()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("not-the-token"), "{err}");
    assert!(sim.artifact_bundles().is_empty());

    // The command: exit 2 for a refused token, 0 once it is right.
    let dir = tempfile::tempdir().unwrap();
    let profile = |token: &str| {
        format!(
            "seed = 5\n[target]\nkind = \"relay\"\ndsn = \"http://0123456789abcdef0123456789abcdef@{addr}/1\"\n\
             [traffic]\nrate = 1\nduration = \"1s\"\nmix = {{ javascript = 1 }}\n\
             [artifacts]\nurl = \"http://{addr}/\"\ntoken = \"{token}\"\n",
            addr = sim.addr()
        )
    };
    std::fs::write(dir.path().join("bad.toml"), profile("wrong")).unwrap();
    let out = sentry_load(dir.path(), &["upload-artifacts", "--profile", "bad.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(!shown(&out).contains("wrong"), "{}", shown(&out));
    std::fs::write(dir.path().join("good.toml"), profile("upload-token")).unwrap();
    let out = sentry_load(dir.path(), &["upload-artifacts", "--profile", "good.toml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let bundles = sim.artifact_bundles();
    assert_eq!(bundles.len(), 3, "one per default release: {bundles:?}");
    assert_eq!(
        bundles[0].debug_ids,
        [Bundle::generate(5).debug_id.hyphenated().to_string()]
    );
    sim.stop().await.unwrap();
}
