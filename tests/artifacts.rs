//! The artifact-bundle upload against the sim's chunk-upload and assemble API: chunking and
//! batching by the server's options, deduplication of chunks the server has, a bundle per
//! release (one zip assembled twice is bound once: Sentry caches the assemble per
//! organization and checksum), the manifest's debug id, and the exit codes of
//! `upload-artifacts`.

mod support;

use sentry_load_engine::generate::artifacts::artifact_bundle;
use sentry_load_engine::generate::js_bundle::Bundle;
use sentry_load_engine::upload::{UploadTarget, upload_artifact_bundles};
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

/// A bundle with the minified file grown past several chunks, with bytes that do not
/// compress away.
fn large_bundle() -> Bundle {
    let mut bundle = Bundle::generate(3);
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
    bundle
}

#[tokio::test]
async fn a_large_bundle_is_chunked_batched_deduplicated_and_assembled_per_release() {
    let sim = sim().await;
    let bundle = large_bundle();
    let releases = ["storefront@3.8.0", "storefront@3.8.1"];
    let bundles: Vec<(String, Vec<u8>)> = releases
        .iter()
        .map(|r| {
            (
                r.to_string(),
                artifact_bundle(&bundle, "sentry", "internal", r),
            )
        })
        .collect();
    let chunk = sentry_load_sim::artifacts::CHUNK_SIZE;
    let expected_chunks: usize = bundles.iter().map(|(_, z)| z.len().div_ceil(chunk)).sum();
    assert!(
        expected_chunks > 2 * sentry_load_sim::artifacts::CHUNKS_PER_REQUEST,
        "{expected_chunks}"
    );
    let first = upload_artifact_bundles(&target(&sim, "upload-token"), &bundles)
        .await
        .unwrap();
    assert_eq!(
        (first.chunks, first.sent, first.releases),
        (expected_chunks, expected_chunks, 2)
    );
    // The server has every chunk now: a second upload sends none.
    let again = upload_artifact_bundles(&target(&sim, "upload-token"), &bundles)
        .await
        .unwrap();
    assert_eq!(again.sent, 0);
    let assembled = sim.artifact_bundles();
    assert_eq!(assembled.len(), 2, "{assembled:?}");
    for (b, release) in assembled.iter().zip(releases) {
        assert_eq!(b.releases, [release]);
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

/// What the harness did before: one zip assembled for every release. Sentry answers the
/// repeats `ok` from its cache and binds nothing, so only the first release has the bundle;
/// once the cache expires, assembling again binds the next release too.
#[tokio::test]
async fn one_zip_assembled_for_several_releases_is_bound_to_the_first_only() {
    let sim = sim().await;
    let zip = artifact_bundle(
        &Bundle::generate(4),
        "sentry",
        "internal",
        "storefront@3.8.0",
    );
    let same_zip = |r: &str| (r.to_owned(), zip.clone());
    let t = target(&sim, "upload-token");
    let summary = upload_artifact_bundles(
        &t,
        &[same_zip("storefront@3.8.0"), same_zip("storefront@3.8.1")],
    )
    .await
    .unwrap();
    assert_eq!(summary.releases, 2, "both assembles answered ok");
    let assembled = sim.artifact_bundles();
    assert_eq!(assembled.len(), 1);
    assert_eq!(assembled[0].releases, ["storefront@3.8.0"]);
    sim.expire_assemble_cache();
    upload_artifact_bundles(&t, &[same_zip("storefront@3.8.1")])
        .await
        .unwrap();
    assert_eq!(
        sim.artifact_bundles()[0].releases,
        ["storefront@3.8.0", "storefront@3.8.1"]
    );
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_named_without_the_token() {
    let sim = sim().await;
    let zip = artifact_bundle(&Bundle::generate(1), "sentry", "internal", "r");
    let err = upload_artifact_bundles(&target(&sim, "not-the-token"), &[("r".to_owned(), zip)])
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
    for (i, b) in bundles.iter().enumerate() {
        assert_eq!(b.releases, [format!("storefront@3.8.{i}")]);
        assert_eq!(
            b.debug_ids,
            [Bundle::generate(5).debug_id.hyphenated().to_string()]
        );
    }
    sim.stop().await.unwrap();
}

/// A JavaScript error as the sim resolves it: by its `sourcemap` image's debug id whatever
/// its release, by URL only within the bundles bound to its release, and never through
/// another project's bundle.
#[tokio::test]
async fn javascript_frames_resolve_by_debug_id_or_by_release() {
    use sentry_load_common::{EventKind, RunId};
    let sim = sim().await;
    let seed = 6;
    let bundle = Bundle::generate(seed);
    let zip = artifact_bundle(&bundle, "sentry", "internal", "storefront@3.8.0");
    upload_artifact_bundles(
        &target(&sim, "upload-token"),
        &[("storefront@3.8.0".to_owned(), zip)],
    )
    .await
    .unwrap();
    let generator = sentry_load_engine::Generator::new(
        RunId::parse("js").unwrap(),
        seed,
        &sentry_load_config::RealismKnobs::defaults(4),
        &[EventKind::Javascript],
    );
    let client = reqwest::Client::new();
    let addr = sim.addr();
    // Sends event `seq` with `release`, with or without its debug image, to `project`;
    // returns the processing errors and the first frame's file as the API shows them.
    let resolve = |seq: u64, release: &'static str, image: bool| {
        let built = generator.envelope(seq, EventKind::Javascript, std::time::SystemTime::now());
        let (_, items) = sentry_load_common::envelope::split(&built.body).unwrap();
        let mut event: serde_json::Value = serde_json::from_slice(items[0].payload).unwrap();
        assert_eq!(event["debug_meta"]["images"][0]["type"], "sourcemap");
        assert_eq!(event["debug_meta"]["images"][0]["code_file"], bundle.url());
        event["release"] = serde_json::json!(release);
        if !image {
            event.as_object_mut().unwrap().remove("debug_meta");
        }
        let id = built.event_id.simple().to_string();
        let client = client.clone();
        async move {
            let resp = client
                .post(format!("http://{addr}/api/1/store/"))
                .header(
                    "x-sentry-auth",
                    "Sentry sentry_version=7, sentry_key=0123456789abcdef0123456789abcdef",
                )
                .json(&event)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let details = loop {
                let r = client
                    .get(format!(
                        "http://{addr}/api/0/projects/sentry/1/events/{id}/"
                    ))
                    .bearer_auth("upload-token")
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    break r.json::<serde_json::Value>().await.unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            let file = details["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["type"] == "exception")
                .map(|e| e["data"]["values"][0]["stacktrace"]["frames"][0]["filename"].clone())
                .unwrap();
            (details["errors"].as_array().unwrap().len(), file)
        }
    };
    let minified = serde_json::json!(format!("/static/js/{}", bundle.file_name));
    let (errors, file) = resolve(1, "storefront@3.8.0", false).await;
    assert_eq!(errors, 0, "by URL within the bound release");
    assert_ne!(file, minified);
    let (errors, file) = resolve(2, "storefront@3.8.1", false).await;
    assert_eq!(errors, 1, "no bundle bound to 3.8.1, and no debug id");
    assert_eq!(file, minified);
    let (errors, file) = resolve(3, "storefront@3.8.1", true).await;
    assert_eq!(errors, 0, "the debug id needs no release");
    assert_ne!(file, minified);
    sim.stop().await.unwrap();
}

/// A bomb: `len` zero bytes, which deflate to about a thousandth of that.
fn zeros(len: usize) -> Vec<u8> {
    vec![0; len]
}

/// Compressed uploads are unpacked no further than their limit: a gzip chunk to a chunk's
/// size, a bundle's files to `BUNDLE_UNPACKED_LIMIT` all together, whatever the zip claims.
#[tokio::test]
async fn compressed_uploads_are_unpacked_no_further_than_their_limit() {
    use std::io::Write;
    let sim = sim().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros(64 << 20)).unwrap();
    let bomb = gz.finish().unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file_gzip",
        reqwest::multipart::Part::bytes(bomb).file_name("0000000000000000000000000000000000000000"),
    );
    let resp = reqwest::Client::new()
        .post(format!(
            "http://{}/api/0/organizations/sentry/chunk-upload/",
            sim.addr()
        ))
        .bearer_auth("upload-token")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains("unpacks to more than 32768 bytes"), "{body}");

    // A bundle whose one file unpacks past the limit: the assemble says so.
    let limit = sentry_load_sim::artifacts::BUNDLE_UNPACKED_LIMIT;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    zip.start_file("manifest.json", deflated).unwrap();
    zip.write_all(
        br#"{"files": {"files/_/_/big.js": {"url": "~/big.js", "type": "minified_source"}}}"#,
    )
    .unwrap();
    zip.start_file("files/_/_/big.js", deflated).unwrap();
    let block = zeros(1 << 20);
    for _ in 0..(limit >> 20) + 1 {
        zip.write_all(&block).unwrap();
    }
    let zip = zip.finish().unwrap().into_inner();
    assert!(zip.len() < limit / 100, "{}", zip.len());
    let err = upload_artifact_bundles(&target(&sim, "upload-token"), &[("r".to_owned(), zip)])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unpack to more than"), "{err}");
    assert!(sim.artifact_bundles().is_empty());
    sim.stop().await.unwrap();
}

/// An assemble that names one uploaded chunk ten thousand times (320 MB of file from 32 KB
/// held) is refused before the file is put together.
#[tokio::test]
async fn an_assemble_naming_a_chunk_over_and_over_is_refused_before_it_is_built() {
    use sha1::{Digest, Sha1};
    let sim = sim().await;
    let chunk = vec![7u8; sentry_load_sim::artifacts::CHUNK_SIZE];
    let checksum: String = Sha1::digest(&chunk)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = format!("http://{}/api/0/organizations/sentry", sim.addr());
    let client = reqwest::Client::new();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(chunk).file_name(checksum.clone()),
    );
    let resp = client
        .post(format!("{base}/chunk-upload/"))
        .bearer_auth("upload-token")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let assemble = serde_json::json!({
        "checksum": "0".repeat(40),
        "chunks": vec![checksum; 10_000],
        "projects": ["internal"],
    });
    let resp = client
        .post(format!("{base}/artifactbundle/assemble/"))
        .bearer_auth("upload-token")
        .json(&assemble)
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["state"], "error", "{answer}");
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("would be 327680000 bytes, over"),
        "{detail}"
    );
    sim.stop().await.unwrap();
}
