//! The files a run's JavaScript errors need on the Sentry side: the artifact bundle (a zip with
//! `manifest.json`, the minified bundle and its sourcemap, linked by debug id and by URL) that
//! `upload-artifacts` sends through the chunk-upload and `artifactbundle/assemble` API, and
//! that `generate` writes out for inspection.

use super::js_bundle::Bundle;
use serde_json::json;
use std::io::Write;
use zip::write::SimpleFileOptions;

/// The artifact bundle zip for `bundle`, for `org` / `project` and `release`. Byte-identical
/// for the same inputs (fixed file times, fixed order).
pub fn artifact_bundle(bundle: &Bundle, org: &str, project: &str, release: &str) -> Vec<u8> {
    let url = format!("~/static/js/{}", bundle.file_name);
    let debug_id = bundle.debug_id.hyphenated().to_string();
    let min_path = format!("files/_/_/{}", bundle.file_name);
    let map_path = format!("{min_path}.map");
    let manifest = json!({
        "org": org,
        "project": project,
        "release": release,
        "debug_id": debug_id,
        "files": {
            &min_path: {
                "url": url,
                "type": "minified_source",
                "headers": {"debug-id": debug_id, "sourcemap": format!("{}.map", bundle.file_name)},
            },
            &map_path: {
                "url": format!("{url}.map"),
                "type": "source_map",
                "headers": {"debug-id": debug_id},
            },
        },
    });
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let files: [(&str, &[u8]); 3] = [
        (
            "manifest.json",
            &serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
        ),
        (&min_path, bundle.minified.as_bytes()),
        (&map_path, &bundle.sourcemap),
    ];
    for (name, bytes) in files {
        // Writing into memory cannot fail.
        let _ = zip.start_file(name, options);
        let _ = zip.write_all(bytes);
    }
    zip.finish().map(|c| c.into_inner()).unwrap_or_default()
}

/// The releases the run's JavaScript errors carry (an artifact bundle is assembled for each).
pub fn javascript_releases(releases: u32) -> Vec<String> {
    (0..releases.max(1))
        .map(|i| format!("{}{i}", super::javascript::RELEASE_PREFIX))
        .collect()
}

/// The files `generate` writes for JavaScript runs: the minified bundle, its sourcemap and
/// the artifact bundle, as `(file name, bytes)`.
pub fn bundle_files(
    bundle: &Bundle,
    org: &str,
    project: &str,
    release: &str,
) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            bundle.file_name.clone(),
            bundle.minified.as_bytes().to_vec(),
        ),
        (
            format!("{}.map", bundle.file_name),
            bundle.sourcemap.clone(),
        ),
        (
            "artifact-bundle.zip".into(),
            artifact_bundle(bundle, org, project, release),
        ),
    ]
}
