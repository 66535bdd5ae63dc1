//! The transform query parser: any query and `Accept` header parse without panicking, and a
//! parsed query's canonical form is a fixed point (parsing it gives the same query back), so
//! a redirect to the canonical URL can never loop.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixgate::request::TransformQuery;
use pixgate_fuzz::{MAX_SIDE, query_and_accept};

fuzz_target!(|data: &[u8]| {
    let Some((raw, accept)) = query_and_accept(data) else {
        return;
    };
    let Ok(query) = TransformQuery::parse(raw, accept, MAX_SIDE) else {
        return;
    };
    for side in [query.width, query.height].into_iter().flatten() {
        assert!((1..=MAX_SIDE).contains(&side), "{raw:?}: side {side}");
    }
    assert!((1..=100).contains(&query.quality), "{raw:?}");

    let canonical = query.canonical_with_signature();
    let again = TransformQuery::parse(&canonical, accept, MAX_SIDE)
        .unwrap_or_else(|e| panic!("{raw:?}: canonical form {canonical:?} is refused: {e}"));
    assert_eq!(again.canonical_with_signature(), canonical, "{raw:?}");
    assert_eq!(again.canonical(), query.canonical(), "{raw:?}");
    // The canonical form drops what changes nothing (`fit` without both sides, `q` for PNG,
    // `enlarge` without a side) but keeps every field a rendition depends on.
    assert_eq!(
        (again.width, again.height, again.format, &again.signature),
        (query.width, query.height, query.format, &query.signature),
        "{raw:?}"
    );
    // What the router derives from a parsed query must not panic either.
    let _ = (query.signed_forms(), query.signing_form(), query.size());
    let _ = query.render_spec(6);
});
