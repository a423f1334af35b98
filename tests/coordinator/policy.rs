//! Rule 10: credentials only to allowed origins; excluded URLs and opt-outs.

use refresh_coordinator::core::{split_origin, RequestPolicy, Route};

fn policy() -> RequestPolicy {
    RequestPolicy::new(
        vec![
            "https://app.example".into(),
            "https://api.example:8443".into(),
        ],
        vec![
            "/api/auth/login/".into(),
            "https://api.example:8443/public/".into(),
        ],
    )
}

#[test]
fn same_and_allowed_origins_are_coordinated() {
    let p = policy();
    assert_eq!(
        p.route("https://app.example/api/data/1/", false),
        Route::Coordinated
    );
    assert_eq!(
        p.route("https://api.example:8443/x", false),
        Route::Coordinated
    );
}

#[test]
fn foreign_origins_get_no_credentials_and_no_refresh() {
    let p = policy();
    for url in [
        "https://evil.example/api/data/1/",
        "https://app.example.evil.example/",
        "http://app.example/api/",
        "https://api.example/x",
        "https://api.example:8443.evil/x",
    ] {
        assert_eq!(p.route(url, false), Route::Foreign, "{url}");
        assert_eq!(p.route(url, true), Route::Foreign, "{url}");
        assert!(!p.allows(url), "{url}");
    }
}

#[test]
fn excluded_urls_and_opt_outs_bypass_the_refresh() {
    let p = policy();
    assert_eq!(
        p.route("https://app.example/api/auth/login/", false),
        Route::Excluded
    );
    assert_eq!(
        p.route("https://api.example:8443/public/list", true),
        Route::Excluded
    );
    assert_eq!(
        p.route("https://app.example/api/data/1/", true),
        Route::OptedOut
    );
    // A path pattern is matched against the path, not any substring.
    assert_eq!(
        p.route("https://app.example/v2/api/auth/login/", false),
        Route::Coordinated
    );
}

#[test]
fn origins_split_exactly() {
    assert_eq!(
        split_origin("https://a.example/p?q#f"),
        ("https://a.example", "/p?q#f")
    );
    assert_eq!(
        split_origin("https://a.example?q"),
        ("https://a.example", "?q")
    );
    assert_eq!(split_origin("https://a.example"), ("https://a.example", ""));
    assert_eq!(split_origin("not a url"), ("", "not a url"));
}
