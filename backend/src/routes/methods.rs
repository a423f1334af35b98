//! What DRF answers for a method a view does not have: 405 with the
//! `Allow` header, and for OPTIONS the view's metadata.

use std::future::Future;
use std::pin::Pin;

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{json_response, ApiError};

type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A method-router fallback for a view that allows `allow` and is called
/// `name` in DRF's OPTIONS metadata.
pub fn only(
    allow: &'static str,
    name: &'static str,
) -> impl Fn(Method) -> Answer + Clone + Send + Sync + 'static {
    move |method: Method| -> Answer {
        Box::pin(async move {
            if method == Method::OPTIONS {
                metadata(allow, name)
            } else {
                ApiError::MethodNotAllowed { method, allow }.into_response()
            }
        })
    }
}

/// DRF's `SimpleMetadata` for a view, without the `actions` part.
fn metadata(allow: &'static str, name: &'static str) -> Response {
    let mut response = json_response(
        StatusCode::OK,
        &json!({
            "name": name,
            "description": "",
            "renders": ["application/json", "text/html"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        }),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
