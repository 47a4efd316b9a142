//! Sentry's artifact-bundle upload API, as the sim answers it: the chunk-upload options, chunk
//! uploads (plain or gzip, each named by its SHA-1), and `artifactbundle/assemble/`, which
//! answers `not_found` with the missing chunks, then `created` while it assembles, then `ok`.
//! An assembled bundle is checked the way Sentry checks it — the checksum, a zip holding a
//! `manifest.json` — and kept, so tests can see what was uploaded.
//!
//! The chunk size is deliberately small (32 KiB, 4 per request; Sentry offers 8 MiB and 64) so
//! that every client's chunking and batching is exercised.

use crate::ingest::relay_error;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Bytes per chunk the sim asks for.
pub const CHUNK_SIZE: usize = 32 * 1024;
/// Chunks per upload request the sim accepts.
pub const CHUNKS_PER_REQUEST: usize = 4;

/// One assembled bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledBundle {
    /// The bundle's SHA-1.
    pub checksum: String,
    /// The release it is bound to, if any.
    pub release: Option<String>,
    /// Projects it belongs to.
    pub projects: Vec<String>,
    /// Debug ids its manifest names.
    pub debug_ids: Vec<String>,
    /// URLs its manifest names.
    pub urls: Vec<String>,
}

/// What the upload API keeps.
pub struct ArtifactState {
    /// The organization slug it answers to.
    pub org: String,
    /// The bearer token it requires.
    pub token: String,
    chunks: Mutex<HashMap<String, Vec<u8>>>,
    /// `(checksum, release)` of assemblies started: the next ask answers `ok`.
    started: Mutex<HashSet<(String, Option<String>)>>,
    bundles: Mutex<Vec<AssembledBundle>>,
    /// Sourcemaps of the assembled bundles, parsed once, by debug id (lowercase): what
    /// processing resolves JavaScript frames with.
    sourcemaps: Mutex<HashMap<String, Arc<sourcemap::SourceMap>>>,
    /// The debug id of each minified file, by its `~/…` URL.
    debug_ids_by_url: Mutex<HashMap<String, String>>,
}

impl ArtifactState {
    /// An empty store for `org`, guarded by `token`.
    pub fn new(org: &str, token: &str) -> ArtifactState {
        ArtifactState {
            org: org.to_owned(),
            token: token.to_owned(),
            chunks: Mutex::default(),
            started: Mutex::default(),
            bundles: Mutex::default(),
            sourcemaps: Mutex::default(),
            debug_ids_by_url: Mutex::default(),
        }
    }

    /// The sourcemap of the minified file a frame's `abs_path` points at
    /// (`https://host/static/js/app.js` is uploaded as `~/static/js/app.js`).
    pub fn sourcemap_for_url(&self, abs_path: &str) -> Option<Arc<sourcemap::SourceMap>> {
        let path = url::Url::parse(abs_path).ok()?.path().to_owned();
        let id = lock(&self.debug_ids_by_url)
            .get(&format!("~{path}"))?
            .clone();
        self.sourcemap(&id)
    }

    /// The sourcemap uploaded for `debug_id`, if an assembled bundle has one.
    pub fn sourcemap(&self, debug_id: &str) -> Option<Arc<sourcemap::SourceMap>> {
        lock(&self.sourcemaps)
            .get(&debug_id.to_ascii_lowercase())
            .cloned()
    }

    /// The bundles assembled so far.
    pub fn bundles(&self) -> Vec<AssembledBundle> {
        lock(&self.bundles).clone()
    }

    fn authorize(&self, org: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        let refused = match bearer {
            None => relay_error(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
                &[],
            ),
            Some(t) if t != self.token => {
                relay_error(StatusCode::UNAUTHORIZED, "Invalid token", &[])
            }
            Some(_) if org != self.org => relay_error(
                StatusCode::NOT_FOUND,
                "The requested resource does not exist",
                &[],
            ),
            Some(_) => return Ok(()),
        };
        Err(Box::new(refused))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad(detail: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": detail.into() })),
    )
        .into_response()
}

/// `GET /api/0/organizations/<org>/chunk-upload/`.
pub async fn options(
    State(s): State<Arc<ArtifactState>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = s.authorize(&org, &headers) {
        return *r;
    }
    axum::Json(json!({
        "url": format!("/api/0/organizations/{org}/chunk-upload/"),
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxFileSize": 2_147_483_648u64,
        "maxRequestSize": 33_554_432,
        "concurrency": 1,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ["artifact_bundles", "release_files", "sources", "debug_files"],
    }))
    .into_response()
}

/// `POST /api/0/organizations/<org>/chunk-upload/`: multipart `file` / `file_gzip` parts, each
/// named by its SHA-1.
pub async fn upload(
    State(s): State<Arc<ArtifactState>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Err(r) = s.authorize(&org, &headers) {
        return *r;
    }
    let mut count = 0;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("invalid multipart body: {e}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Some(checksum) = field.file_name().map(str::to_owned) else {
            return bad("a chunk without a file name (its SHA-1)");
        };
        let Ok(data) = field.bytes().await else {
            return bad("could not read a chunk");
        };
        let data = match name.as_str() {
            "file" => data.to_vec(),
            "file_gzip" => {
                let mut out = Vec::new();
                if flate2::read::GzDecoder::new(&data[..])
                    .read_to_end(&mut out)
                    .is_err()
                {
                    return bad("a file_gzip chunk is not gzip");
                }
                out
            }
            other => return bad(format!("unknown field `{other}`")),
        };
        if data.len() > CHUNK_SIZE || sha1_hex(&data) != checksum {
            return bad(format!("chunk {checksum}: wrong size or checksum"));
        }
        count += 1;
        if count > CHUNKS_PER_REQUEST {
            return bad(format!(
                "more than {CHUNKS_PER_REQUEST} chunks in one request"
            ));
        }
        lock(&s.chunks).insert(checksum, data);
    }
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssembleRequest {
    checksum: String,
    chunks: Vec<String>,
    projects: Vec<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    dist: Option<String>,
}

/// `POST /api/0/organizations/<org>/artifactbundle/assemble/`.
pub async fn assemble(
    State(s): State<Arc<ArtifactState>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = s.authorize(&org, &headers) {
        return *r;
    }
    let req: AssembleRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("Invalid json body: {e}")),
    };
    let hex40 = |c: &str| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex40(&req.checksum) || !req.chunks.iter().all(|c| hex40(c)) {
        return bad("checksums must be 40 hex digits");
    }
    if req.projects.is_empty() {
        return bad("You need to specify at least one project");
    }
    if req.version.is_none() && req.dist.is_some() {
        return bad("You need to specify a release together with a dist");
    }
    let missing: Vec<String> = {
        let chunks = lock(&s.chunks);
        req.chunks
            .iter()
            .filter(|c| !chunks.contains_key(*c))
            .cloned()
            .collect()
    };
    if !missing.is_empty() {
        return axum::Json(json!({ "state": "not_found", "missingChunks": missing }))
            .into_response();
    }
    let key = (req.checksum.clone(), req.version.clone());
    if lock(&s.started).contains(&key) {
        return axum::Json(json!({ "state": "ok", "detail": null, "missingChunks": [] }))
            .into_response();
    }
    let file: Vec<u8> = {
        let chunks = lock(&s.chunks);
        req.chunks
            .iter()
            .flat_map(|c| chunks[c].iter().copied())
            .collect()
    };
    let checked = if sha1_hex(&file) != req.checksum {
        Err("the assembled file does not match its checksum".to_owned())
    } else {
        read_manifest(&file)
    };
    match checked {
        Ok((debug_ids, urls, maps, minified)) => {
            lock(&s.started).insert(key);
            lock(&s.debug_ids_by_url).extend(minified);
            // A sourcemap that does not parse is left out: its frames stay unresolved, as
            // they would in Sentry.
            lock(&s.sourcemaps).extend(maps.into_iter().filter_map(|(id, map)| {
                let parsed = sourcemap::SourceMap::from_slice(&map).ok()?;
                Some((id.to_ascii_lowercase(), Arc::new(parsed)))
            }));
            lock(&s.bundles).push(AssembledBundle {
                checksum: req.checksum,
                release: req.version,
                projects: req.projects,
                debug_ids,
                urls,
            });
            axum::Json(json!({ "state": "created", "missingChunks": [] })).into_response()
        }
        Err(detail) => {
            axum::Json(json!({ "state": "error", "detail": detail, "missingChunks": [] }))
                .into_response()
        }
    }
}

/// What an artifact bundle holds: debug ids, URLs, each sourcemap with its debug id, and each
/// minified file's URL with its debug id.
type BundleContents = (
    Vec<String>,
    Vec<String>,
    Vec<(String, Vec<u8>)>,
    Vec<(String, String)>,
);

/// The manifest's debug ids and URLs, and the sourcemaps; an error when the file is not an
/// artifact bundle.
fn read_manifest(file: &[u8]) -> Result<BundleContents, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    let mut text = String::new();
    zip.by_name("manifest.json")
        .map_err(|_| "the bundle has no manifest.json".to_owned())?
        .read_to_string(&mut text)
        .map_err(|e| format!("manifest.json: {e}"))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("manifest.json: {e}"))?;
    let files = manifest["files"]
        .as_object()
        .ok_or("manifest.json has no `files`")?;
    let mut debug_ids = Vec::new();
    let mut urls = Vec::new();
    let mut maps = Vec::new();
    let mut minified = Vec::new();
    for (path, entry) in files {
        let mut content = Vec::new();
        zip.by_name(path)
            .map_err(|_| format!("manifest.json names {path}, which the bundle lacks"))?
            .read_to_end(&mut content)
            .map_err(|e| format!("{path}: {e}"))?;
        if entry["type"].as_str() == Some("source_map")
            && let Some(id) = entry["headers"]["debug-id"].as_str()
        {
            maps.push((id.to_owned(), content));
        }
        if entry["type"].as_str() == Some("minified_source")
            && let (Some(url), Some(id)) =
                (entry["url"].as_str(), entry["headers"]["debug-id"].as_str())
        {
            minified.push((url.to_owned(), id.to_owned()));
        }
        if let Some(url) = entry["url"].as_str() {
            urls.push(url.to_owned());
        }
        if let Some(id) = entry["headers"]["debug-id"].as_str()
            && !debug_ids.iter().any(|d| d == id)
        {
            debug_ids.push(id.to_owned());
        }
    }
    Ok((debug_ids, urls, maps, minified))
}
