//! Sentry web's endpoints a harness asks before a run, as the sim answers them:
//!
//! - `GET /api/client-config/`: the page bootstrap, unauthenticated, with `isSelfHosted` and
//!   `isSelfHostedErrorsOnly` (getsentry/sentry `src/sentry/web/client_config.py`; read by
//!   `static/app/views/integrationPipeline/pipelineView.tsx`, `BOOTSTRAP_URL`);
//! - `GET /api/0/projects/<org>/<project>/`: a project by slug or id, `{"id": "<id>",
//!   "slug": …}` (ids are strings in Sentry's API).

use crate::artifacts::project_slug;
use crate::ingest::relay_error;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// What the endpoints answer from.
pub struct WebState {
    /// The organization slug.
    pub org: String,
    /// The bearer token the API requires.
    pub token: String,
    /// The projects' ids.
    pub projects: Vec<u64>,
    /// Whether the install runs errors-only.
    pub errors_only: bool,
}

/// `GET /api/client-config/`.
pub async fn client_config(State(w): State<Arc<WebState>>) -> Response {
    axum::Json(json!({
        "isSelfHosted": true,
        "isSelfHostedErrorsOnly": w.errors_only,
    }))
    .into_response()
}

/// `GET /api/0/projects/<org>/<project>/`.
pub async fn project(
    State(w): State<Arc<WebState>>,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&headers, &w.token, &w.org, &org) {
        return *r;
    }
    let found = w
        .projects
        .iter()
        .find(|id| project_slug(**id) == project || id.to_string() == project);
    match found {
        Some(id) => {
            axum::Json(json!({ "id": id.to_string(), "slug": project_slug(*id) })).into_response()
        }
        None => relay_error(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
            &[],
        ),
    }
}

/// Sentry's API authentication, as the sim checks it for every API endpoint: a bearer token
/// (401 "Authentication credentials were not provided." without one, 401 "Invalid token" for
/// another), and the organization of the path (404 for another). The error is the answer.
pub(crate) fn authorize(
    headers: &HeaderMap,
    token: &str,
    org: &str,
    asked: &str,
) -> Result<(), Box<Response>> {
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
        Some(t) if t != token => relay_error(StatusCode::UNAUTHORIZED, "Invalid token", &[]),
        Some(_) if asked != org => relay_error(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
            &[],
        ),
        Some(_) => return Ok(()),
    };
    Err(Box::new(refused))
}
