use super::super::{Routing, Source, route};
use crate::http::site_path::SitePath;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

    /// Issue 31: for any rule and any request, a redirect on this site stays
    /// on it: its `Location` never starts with `//` or `/\`.
    #[test]
    fn a_relative_location_never_leaves_the_site(
        from in "(/[ab]|/:[ab]|/\\*|\\*|/){1,3}",
        to in "/(:splat|:a|:b|/|[ab]|\\\\|%2F|%5C|\\?q=1|#f){0,4}",
        status in proptest::sample::select(vec!["301", "302", "200", "404", "301!"]),
        request in "(/[ab.]{0,2}){0,3}/?",
        query in proptest::option::of("[a-c=]{0,3}"),
    ) {
        let rules = format!("{from} {to} {status}");
        let request = if request.is_empty() { "/".to_owned() } else { request };
        let Ok(path) = SitePath::parse(&request) else { return Ok(()) };
        for exists in [|_: &SitePath| false, |_: &SitePath| true] {
            let routing = route(Source::File(&rules), &path, query.as_deref(), exists);
            if let Routing::Redirect { location, .. } = routing {
                proptest::prop_assert!(location.starts_with('/'), "{rules}: {location}");
                proptest::prop_assert!(
                    !location.starts_with("//") && !location.starts_with("/\\"),
                    "{rules} at {request}: {location}"
                );
            }
        }
    }
}
