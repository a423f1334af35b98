//! The options object of `createAuthFetch`, read and checked once.
//!
//! Every option is optional; the defaults are the ones documented in the
//! README and the TypeScript types. A wrong type is a `TypeError` naming the
//! option, thrown when the coordinator is created rather than on some later
//! request.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::Url;

use super::tokens::TokenStore;
use crate::core::{Config, RequestPolicy};

/// How the credential travels.
#[derive(Debug)]
pub enum Mode {
    /// HttpOnly cookies the browser attaches (`credentials: 'include'`).
    Cookie,
    /// An `Authorization: <scheme> <access>` header from the token store.
    Bearer { scheme: String, store: TokenStore },
}

/// The refresh request.
#[derive(Debug)]
pub struct RefreshEndpoint {
    /// Absolute URL.
    pub url: String,
    pub method: String,
    /// Header name and cookie name of a CSRF token sent with cookie-mode
    /// refreshes.
    pub csrf: Option<(String, String)>,
}

#[derive(Debug)]
pub struct Options {
    pub mode: Mode,
    pub refresh: RefreshEndpoint,
    /// Absolute URL of the login endpoint; a success there through the
    /// coordinator starts a new session in cookie mode.
    pub login_url: String,
    pub policy: RequestPolicy,
    pub core: Config,
    pub fetch: Function,
    pub on_session_expired: Option<Function>,
    pub on_event: Option<Function>,
}

const COOKIE_REFRESH: &str = "/api/auth/token/refresh/";
const COOKIE_LOGIN: &str = "/api/auth/login/";
const BEARER_REFRESH: &str = "/api/token/refresh/";
const BEARER_LOGIN: &str = "/api/token/";

impl Options {
    /// Reads `options` (undefined and null mean all defaults).
    ///
    /// # Errors
    /// A `TypeError` naming the first option of the wrong type or value.
    pub fn read(options: &JsValue) -> Result<Self, JsValue> {
        let o = if options.is_undefined() || options.is_null() {
            Object::new().into()
        } else if options.is_object() {
            options.clone()
        } else {
            return Err(type_error("options", "must be an object"));
        };
        let o = Fields {
            object: o,
            prefix: "",
        };
        let base = location_field("href");

        let mode = match o.string("mode")?.as_deref() {
            None | Some("cookie") => Mode::Cookie,
            Some("bearer") => Mode::Bearer {
                scheme: o.string("authScheme")?.unwrap_or_else(|| "Bearer".into()),
                store: token_store(&o.raw("tokenStore"))?,
            },
            Some(_) => return Err(type_error("mode", "must be 'cookie' or 'bearer'")),
        };
        let (default_refresh, default_login) = match mode {
            Mode::Cookie => (COOKIE_REFRESH, COOKIE_LOGIN),
            Mode::Bearer { .. } => (BEARER_REFRESH, BEARER_LOGIN),
        };
        let refresh_url = absolute(
            "refreshUrl",
            o.string("refreshUrl")?
                .as_deref()
                .unwrap_or(default_refresh),
            base.as_deref(),
        )?;
        let login_url = absolute(
            "loginUrl",
            o.string("loginUrl")?.as_deref().unwrap_or(default_login),
            base.as_deref(),
        )?;
        let csrf = match o.raw("csrf") {
            v if v.is_undefined() || v.is_null() => None,
            object => {
                let csrf = Fields {
                    object,
                    prefix: "csrf.",
                };
                Some((
                    csrf.string("header")?
                        .unwrap_or_else(|| "X-CSRFToken".into()),
                    csrf.string("cookie")?.unwrap_or_else(|| "csrftoken".into()),
                ))
            }
        };
        let refresh = RefreshEndpoint {
            url: refresh_url.clone(),
            method: o.string("refreshMethod")?.unwrap_or_else(|| "POST".into()),
            csrf,
        };

        let mut origins = Vec::new();
        match o.strings("allowedOrigins")? {
            Some(list) => {
                for entry in list {
                    origins.push(origin_of("allowedOrigins", &entry)?);
                }
            }
            None => origins.extend(location_field("origin")),
        }
        let mut excluded = o.strings("exclude")?.unwrap_or_default();
        // The coordinator's own endpoints never wait behind a refresh.
        excluded.push(refresh_url);
        excluded.push(login_url.clone());

        let defaults = Config::default();
        let retry = Fields {
            object: o.raw("retry"),
            prefix: "retry.",
        };
        let core = Config {
            max_retries: retry.count("limit")?.unwrap_or(defaults.max_retries),
            backoff_base: retry.millis("baseDelay")?.unwrap_or(defaults.backoff_base),
            backoff_max: retry.millis("maxDelay")?.unwrap_or(defaults.backoff_max),
            max_retry_after: retry
                .millis("maxRetryAfter")?
                .unwrap_or(defaults.max_retry_after),
            refresh_timeout: o
                .millis("refreshTimeout")?
                .unwrap_or(defaults.refresh_timeout),
            waiter_timeout: o.millis("waitTimeout")?.unwrap_or(defaults.waiter_timeout),
            probe_after_lost_answer: matches!(mode, Mode::Cookie),
        };

        let fetch = match o.function("fetch")? {
            Some(f) => f,
            None => global_fetch()?,
        };
        Ok(Self {
            mode,
            refresh,
            login_url,
            policy: RequestPolicy::new(origins, excluded),
            core,
            fetch,
            on_session_expired: o.function("onSessionExpired")?,
            on_event: o.function("onEvent")?,
        })
    }
}

fn token_store(store: &JsValue) -> Result<TokenStore, JsValue> {
    if store.is_undefined() || store.is_null() {
        return Ok(TokenStore::default());
    }
    let methods = Fields {
        object: store.clone(),
        prefix: "tokenStore.",
    };
    if methods.function("get")?.is_none() || methods.function("set")?.is_none() {
        return Err(type_error(
            "tokenStore",
            "must have get() and set(tokens) methods",
        ));
    }
    Ok(TokenStore::App(store.clone()))
}

/// The global `fetch`, taken when the coordinator is created: if the app
/// later replaces `globalThis.fetch` with the coordinator itself, the
/// coordinator must not call itself.
fn global_fetch() -> Result<Function, JsValue> {
    Reflect::get(&js_sys::global(), &"fetch".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| type_error("fetch", "is required: this environment has no global fetch"))
}

pub(crate) fn field(o: &JsValue, name: &str) -> JsValue {
    if o.is_object() {
        Reflect::get(o, &name.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Typed reads of one options object; `prefix` names it in error messages
/// (`""` for the top level, `"retry."` for `options.retry`).
struct Fields<'a> {
    object: JsValue,
    prefix: &'a str,
}

impl Fields<'_> {
    fn raw(&self, key: &str) -> JsValue {
        field(&self.object, key)
    }

    fn error(&self, key: &str, problem: &str) -> JsValue {
        type_error(&[self.prefix, key].concat(), problem)
    }

    fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        let v = self.raw(key);
        if v.is_undefined() {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| self.error(key, "must be a string"))
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, JsValue> {
        let v = self.raw(key);
        if v.is_undefined() {
            return Ok(None);
        }
        let bad = || self.error(key, "must be an array of strings");
        if !Array::is_array(&v) {
            return Err(bad());
        }
        Array::from(&v)
            .iter()
            .map(|item| item.as_string().ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn function(&self, key: &str) -> Result<Option<Function>, JsValue> {
        let v = self.raw(key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.dyn_into::<Function>()
            .map(Some)
            .map_err(|_| self.error(key, "must be a function"))
    }

    fn number(&self, key: &str, what: &str) -> Result<Option<f64>, JsValue> {
        let v = self.raw(key);
        if v.is_undefined() {
            return Ok(None);
        }
        match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
            _ => Err(self.error(key, what)),
        }
    }

    fn millis(&self, key: &str) -> Result<Option<Duration>, JsValue> {
        Ok(self
            .number(key, "must be a number of milliseconds, 0 or more")?
            .map(|n| Duration::from_millis(n as u64)))
    }

    fn count(&self, key: &str) -> Result<Option<u32>, JsValue> {
        Ok(self
            .number(key, "must be a whole number, 0 or more")?
            .map(|n| n as u32))
    }
}

/// A field of `globalThis.location`, absent outside a page or worker.
fn location_field(name: &str) -> Option<String> {
    field(&field(&js_sys::global(), "location"), name).as_string()
}

fn absolute(name: &str, url: &str, base: Option<&str>) -> Result<String, JsValue> {
    let parsed = match base {
        Some(base) => Url::new_with_base(url, base),
        None => Url::new(url),
    };
    parsed
        .map(|u| u.href())
        .map_err(|_| type_error(name, "must be a URL (absolute, outside a page)"))
}

fn origin_of(name: &str, url: &str) -> Result<String, JsValue> {
    Url::new(url).map(|u| u.origin()).map_err(|_| {
        type_error(
            name,
            "must list absolute origins like 'https://api.example.com'",
        )
    })
}

pub(crate) fn type_error(name: &str, problem: &str) -> JsValue {
    let message = ["refresh-coordinator: options.", name, " ", problem].concat();
    js_sys::TypeError::new(&message).into()
}
