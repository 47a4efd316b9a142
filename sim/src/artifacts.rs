//! Sentry's artifact-bundle upload API, as the sim answers it: the chunk-upload options, chunk
//! uploads (plain or gzip, each named by its SHA-1), and `artifactbundle/assemble/`, which
//! answers `not_found` with the missing chunks, then `created` while it assembles, then `ok`.
//! An assembled bundle is checked the way Sentry checks it — the checksum, a zip holding a
//! `manifest.json` — and kept, so tests can see what was uploaded.
//!
//! The assemble state is cached per (organization, checksum) for ten minutes, as Sentry caches
//! it (getsentry/sentry `src/sentry/tasks/assemble.py`: key `assemble-status:` + sha1 of
//! `org id | checksum | task`, `ex=600`): while it is cached, asking again — for another
//! release too — answers the cached state and assembles nothing, so the bundle is not bound
//! to that release (`src/sentry/api/endpoints/organization_artifactbundle_assemble.py`: a
//! cached `ok` returns `{"state":"ok","detail":null,"missingChunks":[]}` at once). After it
//! expires, assembling the same checksum again binds the bundle to the new release too
//! (`_create_or_update_artifact_bundle` updates the bundle found by its id).
//!
//! A bundle serves events the way Sentry looks sourcemaps up (getsentry/sentry
//! `src/sentry/debug_files/artifact_bundles.py` at 003a5e843d38ed1f9f65f54e00377e291cb86339,
//! `query_artifact_bundles_containing_file`): by debug id first, among the bundles of the
//! event's project, whatever the release (`get_artifact_bundles_containing_debug_id` filters
//! on organization, project and debug id only); without a debug id, by the frame's URL among
//! the bundles bound to the event's release (`get_artifact_bundles_containing_url`; a URL is
//! only valid with a release: getsentry/symbolicator `crates/symbolicator-js/src/api_lookup.rs`
//! at 87e6456fe8072f6bcfa61b87c1633958b8d96dfa).
//!
//! The chunk size is deliberately small (32 KiB, 4 per request; Sentry offers 8 MiB and 64) so
//! that every client's chunking and batching is exercised.

use crate::chunk_store::ChunkStore;
use crate::ingest::relay_error;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Bytes per chunk the sim asks for.
pub const CHUNK_SIZE: usize = 32 * 1024;
/// Chunks per upload request the sim accepts.
pub const CHUNKS_PER_REQUEST: usize = 4;

/// The most bytes an artifact bundle's files may unpack to, all together: the sim keeps its
/// sourcemaps in memory, and a zip's headers may lie about sizes.
pub const BUNDLE_UNPACKED_LIMIT: usize = 256 * 1024 * 1024;

/// Why a compressed stream was not read.
enum Unpacked {
    /// It unpacks to more than its limit.
    TooLarge,
    /// It is not what it claims to be.
    Invalid(std::io::Error),
}

/// Everything `r` unpacks to, if that is at most `limit` bytes; reads at most `limit + 1`.
fn read_bounded(r: impl Read, limit: usize) -> Result<Vec<u8>, Unpacked> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(Unpacked::Invalid)?;
    if out.len() > limit {
        return Err(Unpacked::TooLarge);
    }
    Ok(out)
}

/// How long an assemble's state is cached per (organization, checksum).
pub const ASSEMBLE_CACHE: std::time::Duration = std::time::Duration::from_secs(600);

/// One assembled bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledBundle {
    /// The bundle's SHA-1.
    pub checksum: String,
    /// The releases it is bound to, in the order they were bound.
    pub releases: Vec<String>,
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
    /// The slug of each project (Sentry's default project, id 1, is `internal`).
    project_slugs: HashMap<u64, String>,
    /// The chunk-upload URL the options answer, when not the sim's own (relative) one: what a
    /// Sentry with a `system.url-prefix` this machine cannot reach answers.
    pub chunk_url: Option<String>,
    chunks: Mutex<ChunkStore>,
    /// The cached assemble state per checksum (one organization), and when it was set.
    states: Mutex<HashMap<String, (&'static str, std::time::Instant)>>,
    bundles: Mutex<Vec<AssembledBundle>>,
    /// Sourcemaps of the assembled bundles, parsed once, by debug id (lowercase): what
    /// processing resolves JavaScript frames with.
    sourcemaps: Mutex<HashMap<String, Arc<sourcemap::SourceMap>>>,
    /// The debug id of each minified file, by its `~/…` URL and the checksum of the bundle
    /// holding it.
    debug_ids_by_url: Mutex<HashMap<(String, String), String>>,
    /// Releases created through the releases API (Sentry 9's release files), per project.
    releases: Mutex<std::collections::HashSet<(u64, String)>>,
    /// Release files by project, release and name: their bytes and `Sourcemap` header.
    release_files: Mutex<HashMap<ReleaseFileKey, ReleaseFile>>,
    /// Sourcemaps read from release files, parsed once, by project, release and name.
    release_maps: Mutex<HashMap<ReleaseFileKey, Arc<sourcemap::SourceMap>>>,
}

/// A release file's project, release and name.
type ReleaseFileKey = (u64, String, String);
/// A release file's bytes and its `Sourcemap` header.
type ReleaseFile = (Vec<u8>, Option<String>);

/// The slug the sim gives project `id`: `internal` for 1, as self-hosted names its first
/// project (DESIGN: `sentry_project`, default `internal`, id 1), `project-<id>` otherwise.
pub fn project_slug(id: u64) -> String {
    if id == 1 {
        "internal".to_owned()
    } else {
        format!("project-{id}")
    }
}

impl ArtifactState {
    /// An empty store for `org` and its projects, guarded by `token`.
    pub fn new(org: &str, token: &str, projects: impl IntoIterator<Item = u64>) -> ArtifactState {
        ArtifactState {
            org: org.to_owned(),
            token: token.to_owned(),
            project_slugs: projects.into_iter().map(|p| (p, project_slug(p))).collect(),
            chunk_url: None,
            releases: Mutex::default(),
            release_files: Mutex::default(),
            release_maps: Mutex::default(),
            chunks: Mutex::new(ChunkStore::new()),
            states: Mutex::default(),
            bundles: Mutex::default(),
            sourcemaps: Mutex::default(),
            debug_ids_by_url: Mutex::default(),
        }
    }

    /// Whether a bundle's `projects` (slugs or ids) include project `id`.
    fn belongs_to(&self, b: &AssembledBundle, id: u64) -> bool {
        let slug = self.project_slugs.get(&id);
        b.projects
            .iter()
            .any(|p| Some(p) == slug || p.parse() == Ok(id))
    }

    /// The sourcemap for the minified file a frame's `abs_path` points at, in an event of
    /// `project` and `release` that names `debug_id` for that file (`None`: no image of that
    /// file): by debug id among the project's bundles, else by the file's `~/…` URL
    /// (`https://host/static/js/app.js` is uploaded as `~/static/js/app.js`) among the bundles
    /// bound to the release.
    pub fn sourcemap_for(
        &self,
        project: u64,
        release: Option<&str>,
        debug_id: Option<&str>,
        abs_path: &str,
    ) -> Option<Arc<sourcemap::SourceMap>> {
        let bundles = lock(&self.bundles).clone();
        if let Some(id) = debug_id {
            let id = id.to_ascii_lowercase();
            let ours = bundles.iter().any(|b| {
                self.belongs_to(b, project)
                    && b.debug_ids.iter().any(|d| d.eq_ignore_ascii_case(&id))
            });
            if ours && let Some(map) = lock(&self.sourcemaps).get(&id).cloned() {
                return Some(map);
            }
        }
        let release = release?;
        let path = format!("~{}", url::Url::parse(abs_path).ok()?.path());
        let urls = lock(&self.debug_ids_by_url);
        let id = bundles
            .iter()
            .rev()
            .filter(|b| b.releases.iter().any(|r| r == release) && self.belongs_to(b, project))
            .find_map(|b| urls.get(&(b.checksum.clone(), path.clone())))
            .cloned();
        drop(urls);
        match id {
            Some(id) => lock(&self.sourcemaps)
                .get(&id.to_ascii_lowercase())
                .cloned(),
            None => self.release_file_map(project, release, abs_path, &path),
        }
    }

    /// The sourcemap of a minified file uploaded as release files (Sentry 9's way): the file
    /// by its full URL or its `~/…` name, its map named by its `Sourcemap` header or its
    /// `sourceMappingURL` comment, relative to the file (getsentry/sentry at tag 9.1.2:
    /// `src/sentry/models/releasefile.py`, blob 7a55366c86e3fa1d1a0611f1e6a896dcf6760ba2;
    /// `src/sentry/lang/javascript/processor.py`, blob
    /// ce218fce8f31b9f0a1db6bf1cbb1cb56b0a19b04, `discover_sourcemap`).
    fn release_file_map(
        &self,
        project: u64,
        release: &str,
        abs_path: &str,
        tilde: &str,
    ) -> Option<Arc<sourcemap::SourceMap>> {
        let files = lock(&self.release_files);
        let get = |name: &str| files.get(&(project, release.to_owned(), name.to_owned()));
        let (name, (minified, header)) = [abs_path, tilde]
            .into_iter()
            .find_map(|n| get(n).map(|f| (n.to_owned(), f)))?;
        let map_ref = header.clone().or_else(|| {
            let text = std::str::from_utf8(minified).ok()?;
            let at = text.rfind("sourceMappingURL=")?;
            Some(text[at + "sourceMappingURL=".len()..].trim().to_owned())
        })?;
        let map_name = match name.rfind('/') {
            Some(slash) if !map_ref.contains("://") && !map_ref.starts_with('~') => {
                format!("{}{map_ref}", &name[..=slash])
            }
            _ => map_ref,
        };
        let key = (project, release.to_owned(), map_name.clone());
        if let Some(map) = lock(&self.release_maps).get(&key) {
            return Some(map.clone());
        }
        let map = Arc::new(sourcemap::SourceMap::from_slice(&get(&map_name)?.0).ok()?);
        drop(files);
        lock(&self.release_maps).insert(key, map.clone());
        Some(map)
    }

    /// The project a path's `<project>` (slug or id) names.
    fn project_named(&self, name: &str) -> Option<u64> {
        self.project_slugs
            .iter()
            .find(|(id, slug)| *slug == name || id.to_string() == name)
            .map(|(id, _)| *id)
    }

    /// The bundles assembled so far.
    pub fn bundles(&self) -> Vec<AssembledBundle> {
        lock(&self.bundles).clone()
    }

    fn authorize(&self, org: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
        crate::web::authorize(headers, &self.token, &self.org, org)
    }

    /// The project a release path names, once the request is authorized.
    fn release_project(
        &self,
        org: &str,
        project: &str,
        headers: &HeaderMap,
    ) -> Result<u64, Box<Response>> {
        self.authorize(org, headers)?;
        self.project_named(project).ok_or_else(|| {
            Box::new(relay_error(
                StatusCode::NOT_FOUND,
                "The requested resource does not exist",
                &[],
            ))
        })
    }
}

impl ArtifactState {
    /// The assemble state cached for `checksum`, if it has not expired.
    fn cached_state(&self, checksum: &str) -> Option<&'static str> {
        let states = lock(&self.states);
        let (state, at) = states.get(checksum)?;
        (at.elapsed() < ASSEMBLE_CACHE).then_some(*state)
    }

    /// Forgets every cached assemble state, as ten minutes passing would (for tests).
    pub fn expire_assemble_cache(&self) {
        lock(&self.states).clear();
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
        "url": s
            .chunk_url
            .clone()
            .unwrap_or_else(|| format!("/api/0/organizations/{org}/chunk-upload/")),
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
                // Unpacked no further than a chunk may be: a small gzip bomb costs nothing.
                match read_bounded(flate2::read::GzDecoder::new(&data[..]), CHUNK_SIZE) {
                    Ok(out) => out,
                    Err(Unpacked::TooLarge) => {
                        return bad(format!(
                            "chunk {checksum}: its file_gzip unpacks to more than {CHUNK_SIZE} bytes"
                        ));
                    }
                    Err(Unpacked::Invalid(_)) => return bad("a file_gzip chunk is not gzip"),
                }
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
            .filter(|c| chunks.get(c).is_none())
            .cloned()
            .collect()
    };
    if !missing.is_empty() {
        return axum::Json(json!({ "state": "not_found", "missingChunks": missing }))
            .into_response();
    }
    if let Some(state) = s.cached_state(&req.checksum) {
        return axum::Json(json!({ "state": state, "detail": null, "missingChunks": [] }))
            .into_response();
    }
    let file: Result<Vec<u8>, Vec<String>> = {
        let chunks = lock(&s.chunks);
        let parts: Vec<Option<&[u8]>> = req.chunks.iter().map(|c| chunks.get(c)).collect();
        // A chunk may be named many times: the file is bounded as a bundle's contents are.
        let size: usize = parts.iter().flatten().map(|p| p.len()).sum();
        if size > BUNDLE_UNPACKED_LIMIT {
            return axum::Json(json!({
                "state": "error",
                "detail": format!("the file would be {size} bytes, over {BUNDLE_UNPACKED_LIMIT}"),
                "missingChunks": [],
            }))
            .into_response();
        }
        if parts.iter().all(Option::is_some) {
            Ok(parts.into_iter().flatten().flatten().copied().collect())
        } else {
            Err(req
                .chunks
                .iter()
                .zip(&parts)
                .filter(|(_, p)| p.is_none())
                .map(|(c, _)| c.clone())
                .collect())
        }
    };
    // Forgotten since the check above (the store is bounded): ask for them again.
    let file = match file {
        Ok(file) => file,
        Err(missing) => {
            return axum::Json(json!({ "state": "not_found", "missingChunks": missing }))
                .into_response();
        }
    };
    let checked = if sha1_hex(&file) != req.checksum {
        Err("the assembled file does not match its checksum".to_owned())
    } else {
        read_manifest(&file)
    };
    match checked {
        Ok((debug_ids, urls, maps, minified)) => {
            lock(&s.states).insert(req.checksum.clone(), ("ok", std::time::Instant::now()));
            lock(&s.debug_ids_by_url).extend(
                minified
                    .into_iter()
                    .map(|(url, id)| ((req.checksum.clone(), url), id)),
            );
            // A sourcemap that does not parse is left out: its frames stay unresolved, as
            // they would in Sentry.
            lock(&s.sourcemaps).extend(maps.into_iter().filter_map(|(id, map)| {
                let parsed = sourcemap::SourceMap::from_slice(&map).ok()?;
                Some((id.to_ascii_lowercase(), Arc::new(parsed)))
            }));
            let mut bundles = lock(&s.bundles);
            match bundles.iter_mut().find(|b| b.checksum == req.checksum) {
                // Assembled again after the cache expired: the same bundle, bound to the new
                // release too.
                Some(b) => {
                    b.releases
                        .extend(req.version.filter(|v| !b.releases.contains(v)));
                    for p in req.projects {
                        if !b.projects.contains(&p) {
                            b.projects.push(p);
                        }
                    }
                }
                None => bundles.push(AssembledBundle {
                    checksum: req.checksum,
                    releases: req.version.into_iter().collect(),
                    projects: req.projects,
                    debug_ids,
                    urls,
                }),
            }
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
    // Every file is unpacked within what is left of one budget, whatever its header claims.
    let mut budget = BUNDLE_UNPACKED_LIMIT;
    let mut unpack = |name: &str, entry: zip::read::ZipFile<'_, _>| {
        let out = read_bounded(entry, budget).map_err(|e| match e {
            Unpacked::TooLarge => format!(
                "the bundle's files unpack to more than {BUNDLE_UNPACKED_LIMIT} bytes \
                 (at {name}); this sim holds them in memory"
            ),
            Unpacked::Invalid(e) => format!("{name}: {e}"),
        })?;
        budget -= out.len();
        Ok::<_, String>(out)
    };
    let text = unpack(
        "manifest.json",
        zip.by_name("manifest.json")
            .map_err(|_| "the bundle has no manifest.json".to_owned())?,
    )?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("manifest.json: {e}"))?;
    let files = manifest["files"]
        .as_object()
        .ok_or("manifest.json has no `files`")?;
    let mut debug_ids = Vec::new();
    let mut urls = Vec::new();
    let mut maps = Vec::new();
    let mut minified = Vec::new();
    for (path, entry) in files {
        let content = unpack(
            path,
            zip.by_name(path)
                .map_err(|_| format!("manifest.json names {path}, which the bundle lacks"))?,
        )?;
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

/// `POST /api/0/projects/<org>/<project>/releases/` with `{"version"}`: 201, or 208 when the
/// release exists (Sentry 9's releases API).
pub async fn create_release(
    State(s): State<Arc<ArtifactState>>,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let project = match s.release_project(&org, &project, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let version = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    let Some(version) = version.filter(|v| !v.is_empty() && !v.contains('/')) else {
        return bad("version: This field is required.");
    };
    let created = lock(&s.releases).insert((project, version.clone()));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::ALREADY_REPORTED
    };
    (status, axum::Json(json!({ "version": version }))).into_response()
}

/// `POST /api/0/projects/<org>/<project>/releases/<version>/files/`: multipart `file`,
/// `name`, `header`; 201, 409 when the name exists, 400 without a file.
pub async fn upload_release_file(
    State(s): State<Arc<ArtifactState>>,
    Path((org, project, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let project = match s.release_project(&org, &project, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if !lock(&s.releases).contains(&(project, version.clone())) {
        return relay_error(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
            &[],
        );
    }
    let (mut file, mut name, mut header) = (None, None, None);
    while let Ok(Some(field)) = form.next_field().await {
        let field_name = field.name().unwrap_or_default().to_owned();
        let Ok(data) = field.bytes().await else {
            return bad("could not read the upload");
        };
        match field_name.as_str() {
            "file" => file = Some(data.to_vec()),
            "name" => name = Some(String::from_utf8_lossy(&data).into_owned()),
            "header" => {
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((k, v)) = text.split_once(':')
                    && matches!(
                        k.trim().to_ascii_lowercase().as_str(),
                        "sourcemap" | "x-sourcemap"
                    )
                {
                    header = Some(v.trim().to_owned());
                }
            }
            _ => {}
        }
    }
    let Some(file) = file else {
        return bad("Missing uploaded file");
    };
    let Some(name) = name else {
        return bad("File name must be specified");
    };
    let mut files = lock(&s.release_files);
    let key = (project, version, name.clone());
    if files.contains_key(&key) {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({ "detail": "A file matching this name already exists for the given release" })),
        )
            .into_response();
    }
    files.insert(key, (file, header));
    (StatusCode::CREATED, axum::Json(json!({ "name": name }))).into_response()
}
