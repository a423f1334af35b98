//! The body of a token request as a [`Fields`] to check.

use axum::body::Body;
use axum::http::HeaderMap;

use crate::body::{content_type, parse_data, read_limited, Fields};
use crate::error::ApiError;

/// Reads, parses and opens the body as DRF's `request.data`.
///
/// # Errors
/// 413, 400 (parse error, not a dict) or 415 as DRF would answer.
pub async fn fields(headers: &HeaderMap, body: Body) -> Result<Fields, ApiError> {
    let bytes = read_limited(headers, body).await?;
    let data = parse_data(&content_type(headers), &bytes)?;
    Fields::from_data(data)
}
