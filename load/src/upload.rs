//! Uploads the run's artifact bundles the way `sentry-cli sourcemaps upload --release R` does,
//! before any JavaScript error is sent: ask `chunk-upload/` for the server's chunking options,
//! upload the chunks the server does not have yet (gzip-compressed when it accepts that), then
//! ask `artifactbundle/assemble/` to assemble them and wait until it reports `ok` — one bundle
//! per release the JavaScript events carry, each its own zip (its manifest names the release,
//! so each has its own checksum).
//!
//! One zip assembled again for another release would not be bound to it: Sentry caches an
//! assemble's state per organization and checksum for ten minutes and answers a repeat `ok`
//! without assembling (getsentry/sentry `src/sentry/tasks/assemble.py`, `_get_cache_key`:
//! `assemble-status:` + sha1 of `org id | checksum | task`, `set_assemble_status(…, ex=600)`;
//! `src/sentry/api/endpoints/organization_artifactbundle_assemble.py`: a cached `ok` returns at
//! once, schedules nothing). The events also carry the bundle's debug id, which makes the
//! lookup independent of the release where Sentry supports debug ids.
//!
//! ```text
//! GET  /api/0/organizations/<org>/chunk-upload/         → {"url", "chunkSize", "chunksPerRequest", "compression", …}
//! POST <url> multipart file_gzip=<chunk> (filename = chunk sha1)
//! POST /api/0/organizations/<org>/artifactbundle/assemble/
//!      {"checksum", "chunks", "projects", "version"}    → {"state": "created"|"assembling"|"ok"|"not_found"|"error", "missingChunks"}
//! ```

use sentry_load_common::redact;
use sentry_load_config::Secret;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use std::time::Duration;

/// Where and as whom to upload.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// Sentry web's base URL.
    pub url: url::Url,
    /// A secret-free description of `url`, for messages.
    pub shown: String,
    /// The auth token (its `Debug` shows `***`).
    pub token: Secret,
    /// Organization slug.
    pub org: String,
    /// Project slug or id.
    pub project: String,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    /// The bundle's size.
    pub bytes: usize,
    /// Chunks the bundle was split into.
    pub chunks: usize,
    /// Chunks actually sent (the server had the others).
    pub sent: usize,
    /// Releases a bundle was assembled for, one bundle each.
    pub releases: usize,
}

/// An upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The server could not be reached.
    #[error("{0}: unreachable: {1}")]
    Unreachable(String, String),
    /// The server answered with an error.
    #[error("{url}: HTTP {status}: {body}")]
    Refused {
        /// The endpoint (redacted).
        url: String,
        /// The status.
        status: u16,
        /// What it said (shortened).
        body: String,
    },
    /// Assembly failed or did not finish in time.
    #[error("assembling the artifact bundle for release {release}: {detail}")]
    Assemble {
        /// The release.
        release: String,
        /// What went wrong.
        detail: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChunkOptions {
    url: String,
    chunk_size: usize,
    chunks_per_request: usize,
    #[serde(default)]
    max_request_size: Option<usize>,
    #[serde(default)]
    compression: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssembleAnswer {
    state: String,
    #[serde(default)]
    missing_chunks: Vec<String>,
    #[serde(default)]
    detail: Option<String>,
}

fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP client for the upload API.
fn client() -> Result<reqwest::Client, UploadError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| UploadError::Unreachable("http client".into(), e.to_string()))
}

impl UploadTarget {
    /// `<url>/api/0/organizations/<org>/<path>`.
    fn org_api(&self, path: &str) -> url::Url {
        let mut u = self.url.clone();
        u.set_path(&format!(
            "{}/api/0/organizations/{}/{path}",
            self.url.path().trim_end_matches('/'),
            self.org
        ));
        u
    }

    /// The server's chunking options, with the chunk URL made absolute.
    async fn chunk_options(
        &self,
        client: &reqwest::Client,
    ) -> Result<(ChunkOptions, url::Url), UploadError> {
        let options: ChunkOptions = send_json(
            &self.shown,
            client
                .get(self.org_api("chunk-upload/"))
                .bearer_auth(self.token.expose()),
        )
        .await?;
        let chunk_url = match url::Url::parse(&options.url) {
            Ok(u) => u,
            // A relative URL is relative to the server (getsentry/sentry
            // `src/sentry/api/endpoints/chunk.py`: relative for some sentry-cli versions,
            // absolute from `system.upload-url-prefix` or the region URL otherwise).
            Err(_) => self
                .url
                .join(&options.url)
                .map_err(|e| UploadError::Unreachable(self.shown.clone(), e.to_string()))?,
        };
        Ok((options, chunk_url))
    }

    /// Where Sentry says chunks go, once that address accepts a connection from here: a
    /// self-hosted `system.url-prefix` set to a name this machine cannot reach fails here,
    /// before the run, instead of in the middle of the upload.
    pub async fn chunk_url_reachable(&self) -> Result<url::Url, UploadError> {
        let (_, url) = self.chunk_options(&client()?).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let shown = redact::url(&url);
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(_)) => Ok(url),
            Ok(Err(e)) => Err(UploadError::Unreachable(shown, e.to_string())),
            Err(_) => Err(UploadError::Unreachable(
                shown,
                "no connection within 10 s".into(),
            )),
        }
    }

    /// The id of the project the target names (`GET /api/0/projects/<org>/<project>/`,
    /// whose `id` is a string).
    pub async fn project_id(&self) -> Result<u64, UploadError> {
        #[derive(Deserialize)]
        struct Project {
            id: String,
        }
        let mut u = self.url.clone();
        u.set_path(&format!(
            "{}/api/0/projects/{}/{}/",
            self.url.path().trim_end_matches('/'),
            self.org,
            self.project
        ));
        let p: Project = send_json(
            &self.shown,
            client()?.get(u).bearer_auth(self.token.expose()),
        )
        .await?;
        p.id.parse().map_err(|_| UploadError::Refused {
            url: self.shown.clone(),
            status: 200,
            body: format!("project id `{}` is not a number", p.id),
        })
    }
}

/// Uploads and assembles each `(release, bundle zip)` in turn.
pub async fn upload_artifact_bundles(
    target: &UploadTarget,
    bundles: &[(String, Vec<u8>)],
) -> Result<UploadSummary, UploadError> {
    let client = client()?;
    let api = |path: &str| target.org_api(path);
    let (options, chunk_url) = target.chunk_options(&client).await?;
    let gzip = options.compression.iter().any(|c| c == "gzip");
    let per_request = options.chunks_per_request.max(1);
    let max_request = options.max_request_size.unwrap_or(usize::MAX);
    let mut sent = 0;
    let mut summary = UploadSummary {
        bytes: bundles.iter().map(|(_, b)| b.len()).sum(),
        chunks: 0,
        sent: 0,
        releases: bundles.len(),
    };
    for (release, bundle) in bundles {
        let chunks: Vec<&[u8]> = bundle.chunks(options.chunk_size.max(1)).collect();
        let checksums: Vec<String> = chunks.iter().map(|c| sha1_hex(c)).collect();
        let checksum = sha1_hex(bundle);
        summary.chunks += chunks.len();
        let mut attempts = 0;
        loop {
            let body = serde_json::json!({
                "checksum": checksum,
                "chunks": checksums,
                "projects": [target.project],
                "version": release,
            });
            let answer: AssembleAnswer = send_json(
                &target.shown,
                client
                    .post(api("artifactbundle/assemble/"))
                    .bearer_auth(target.token.expose())
                    .json(&body),
            )
            .await?;
            attempts += 1;
            match answer.state.as_str() {
                "ok" => break,
                "error" => {
                    return Err(UploadError::Assemble {
                        release: release.clone(),
                        detail: answer.detail.unwrap_or_else(|| "state error".into()),
                    });
                }
                "not_found" if !answer.missing_chunks.is_empty() => {
                    let missing: Vec<usize> = checksums
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| answer.missing_chunks.contains(c))
                        .map(|(i, _)| i)
                        .collect();
                    let mut group: Vec<usize> = Vec::new();
                    let mut group_bytes = 0;
                    for i in missing {
                        if !group.is_empty()
                            && (group.len() == per_request
                                || group_bytes + chunks[i].len() > max_request)
                        {
                            upload_chunks(
                                &client, &chunk_url, target, &chunks, &checksums, &group, gzip,
                            )
                            .await?;
                            sent += group.len();
                            group.clear();
                            group_bytes = 0;
                        }
                        group_bytes += chunks[i].len();
                        group.push(i);
                    }
                    if !group.is_empty() {
                        upload_chunks(
                            &client, &chunk_url, target, &chunks, &checksums, &group, gzip,
                        )
                        .await?;
                        sent += group.len();
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
            if attempts > 240 {
                return Err(UploadError::Assemble {
                    release: release.clone(),
                    detail: format!("still `{}` after {attempts} polls", answer.state),
                });
            }
        }
    }
    summary.sent = sent;
    Ok(summary)
}

async fn upload_chunks(
    client: &reqwest::Client,
    url: &url::Url,
    target: &UploadTarget,
    chunks: &[&[u8]],
    checksums: &[String],
    which: &[usize],
    gzip: bool,
) -> Result<(), UploadError> {
    let mut form = reqwest::multipart::Form::new();
    for &i in which {
        let (field, bytes) = if gzip {
            ("file_gzip", crate::generate::gzip(chunks[i]))
        } else {
            ("file", chunks[i].to_vec())
        };
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(checksums[i].clone())
            .mime_str("application/octet-stream")
            .map_err(|e| UploadError::Unreachable(target.shown.clone(), e.to_string()))?;
        form = form.part(field, part);
    }
    let resp = client
        .post(url.clone())
        .bearer_auth(target.token.expose())
        .multipart(form)
        .send()
        .await
        .map_err(|e| UploadError::Unreachable(target.shown.clone(), e.to_string()))?;
    check(&target.shown, resp).await.map(|_| ())
}

async fn send_json<T: for<'de> Deserialize<'de>>(
    shown: &str,
    req: reqwest::RequestBuilder,
) -> Result<T, UploadError> {
    let resp = req
        .send()
        .await
        .map_err(|e| UploadError::Unreachable(shown.to_owned(), e.to_string()))?;
    let body = check(shown, resp).await?;
    serde_json::from_slice(&body).map_err(|e| UploadError::Refused {
        url: shown.to_owned(),
        status: 200,
        body: format!("unexpected answer: {e}"),
    })
}

/// The largest answer of the upload API read.
const MAX_ANSWER: usize = 4 << 20;

async fn check(shown: &str, resp: reqwest::Response) -> Result<Vec<u8>, UploadError> {
    let status = resp.status();
    let body = sentry_load_common::http::read_body(resp, MAX_ANSWER)
        .await
        .map_err(|e| UploadError::Unreachable(shown.to_owned(), e.to_string()))?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(UploadError::Refused {
            url: shown.to_owned(),
            status: status.as_u16(),
            body: text,
        });
    }
    Ok(body)
}

/// One release file for Sentry 9's release-files API.
#[derive(Debug, Clone)]
pub struct ReleaseFile {
    /// Its name, the URL or `~/path` frames are looked up by.
    pub name: String,
    /// A `Key: value` header stored with it (`Sourcemap: app.js.map`).
    pub header: Option<String>,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Uploads `files` as release files of each of `releases`, the way Sentry 9 takes
/// sourcemaps (it has no artifact bundles nor debug ids): `POST
/// /api/0/projects/<org>/<project>/releases/` with `{"version"}` (an existing release is
/// fine), then `POST …/releases/<version>/files/` as multipart `file`, `name` and `header`
/// (an existing file, 409, is fine) (getsentry/sentry at tag 9.1.2:
/// `src/sentry/api/endpoints/project_release_files.py`, blob
/// f60cf3fc982583598cf48b6c8605dd0feffb11b7). Returns how many files were uploaded.
pub async fn upload_release_files(
    target: &UploadTarget,
    files: &[ReleaseFile],
    releases: &[String],
) -> Result<usize, UploadError> {
    let client = client()?;
    let project_api = |path: &str| {
        let mut u = target.url.clone();
        u.set_path(&format!(
            "{}/api/0/projects/{}/{}/{path}",
            target.url.path().trim_end_matches('/'),
            target.org,
            target.project
        ));
        u
    };
    let mut uploaded = 0;
    for release in releases {
        let resp = client
            .post(project_api("releases/"))
            .bearer_auth(target.token.expose())
            .json(&serde_json::json!({ "version": release }))
            .send()
            .await
            .map_err(|e| UploadError::Unreachable(target.shown.clone(), e.to_string()))?;
        if resp.status().as_u16() != 208 && resp.status().as_u16() != 409 {
            check(&target.shown, resp).await?;
        }
        let files_url = project_api(&format!("releases/{release}/files/"));
        for f in files {
            let mut form = reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(f.bytes.clone())
                        .file_name(f.name.rsplit('/').next().unwrap_or("file").to_owned()),
                )
                .text("name", f.name.clone());
            if let Some(h) = &f.header {
                form = form.text("header", h.clone());
            }
            let resp = client
                .post(files_url.clone())
                .bearer_auth(target.token.expose())
                .multipart(form)
                .send()
                .await
                .map_err(|e| UploadError::Unreachable(target.shown.clone(), e.to_string()))?;
            if resp.status().as_u16() == 409 {
                continue;
            }
            check(&target.shown, resp).await?;
            uploaded += 1;
        }
    }
    Ok(uploaded)
}
