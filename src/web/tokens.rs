//! Bearer mode's token pair and where it is kept.

use alloc::string::String;
use core::cell::RefCell;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use super::options::field;
use super::platform::report;

/// The token pair of bearer mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access: String,
    /// Absent when the app only has an access token, or the server does not
    /// rotate and answered a refresh with an access token alone.
    pub refresh: Option<String>,
}

impl Tokens {
    /// Reads `{access, refresh}`; `None` unless `access` is a non-empty string.
    pub fn from_js(value: &JsValue) -> Option<Self> {
        let access = field(value, "access")
            .as_string()
            .filter(|a| !a.is_empty())?;
        let refresh = field(value, "refresh")
            .as_string()
            .filter(|r| !r.is_empty());
        Some(Self { access, refresh })
    }

    pub fn to_js(&self) -> JsValue {
        let object = Object::new();
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &"access".into(), &self.access.as_str().into());
        let refresh = self.refresh.as_deref().map_or(JsValue::NULL, JsValue::from);
        let _ = Reflect::set(&object, &"refresh".into(), &refresh);
        object.into()
    }
}

/// Where bearer tokens live: in memory by default (gone on reload, out of
/// reach of other scripts' storage reads), or wherever the app's `get`/`set`
/// keep them.
#[derive(Debug)]
pub enum TokenStore {
    Memory(RefCell<Option<Tokens>>),
    /// An object with `get()` returning `{access, refresh}` or null, and
    /// `set(tokens or null)`.
    App(JsValue),
}

impl Default for TokenStore {
    fn default() -> Self {
        Self::Memory(RefCell::new(None))
    }
}

impl TokenStore {
    /// The current tokens. An app store that throws is reported and counts
    /// as "no tokens", which leads to a 401 and a clean session end rather
    /// than a stuck request.
    pub fn get(&self) -> Option<Tokens> {
        match self {
            Self::Memory(tokens) => tokens.try_borrow().ok().and_then(|t| t.clone()),
            Self::App(store) => match call_method(store, "get", None) {
                Ok(value) => Tokens::from_js(&value),
                Err(error) => {
                    report(&error);
                    None
                }
            },
        }
    }

    /// Replaces the tokens (`None` clears them).
    pub fn set(&self, tokens: Option<&Tokens>) {
        match self {
            Self::Memory(slot) => {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = tokens.cloned();
                }
            }
            Self::App(store) => {
                let value = tokens.map_or(JsValue::NULL, Tokens::to_js);
                if let Err(error) = call_method(store, "set", Some(&value)) {
                    report(&error);
                }
            }
        }
    }
}

fn call_method(
    object: &JsValue,
    name: &str,
    argument: Option<&JsValue>,
) -> Result<JsValue, JsValue> {
    let method: js_sys::Function = field(object, name).dyn_into()?;
    match argument {
        Some(argument) => method.call1(object, argument),
        None => method.call0(object),
    }
}
