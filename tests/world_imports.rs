//! The built component imports nothing outside the world in `wit/`, so any
//! host offering that world can run it; and the world asks for nothing beyond
//! `wasi:http/proxy` that the component does not use.

use sitebox_tests as support;

use std::collections::BTreeSet;
use wit_parser::{Resolve, WorldId};

fn interfaces(resolve: &Resolve, world: WorldId, exports: bool) -> BTreeSet<String> {
    let world = &resolve.worlds[world];
    let items = if exports {
        &world.exports
    } else {
        &world.imports
    };
    items
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect()
}

fn parse_worlds() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(support::repo_root().join("wit")).unwrap();
    let sitebox = resolve.select_world(&[package], Some("sitebox")).unwrap();
    let proxy = resolve
        .select_world(&[package], Some("wasi:http/proxy@0.2.12"))
        .unwrap();
    (
        interfaces(&resolve, sitebox, false),
        interfaces(&resolve, sitebox, true),
        interfaces(&resolve, proxy, false),
    )
}

fn component_items() -> (BTreeSet<String>, BTreeSet<String>) {
    let engine = wasmtime::Engine::default();
    let component =
        wasmtime::component::Component::new(&engine, sitebox_runner::EMBEDDED_COMPONENT).unwrap();
    let ty = component.component_type();
    let imports = ty
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    (imports, exports)
}

#[test]
fn the_component_imports_only_its_world() {
    let (world_imports, _, _) = parse_worlds();
    let (imports, _) = component_items();
    let outside: Vec<_> = imports.difference(&world_imports).collect();
    assert!(
        outside.is_empty(),
        "imports outside wit/world.wit: {outside:?}"
    );
    assert!(!imports.iter().any(|name| name.starts_with("wasi:sockets")));
}

#[test]
fn the_world_adds_to_the_proxy_only_what_the_component_uses() {
    let (world_imports, _, proxy_imports) = parse_worlds();
    let (imports, _) = component_items();
    let unused: Vec<_> = world_imports
        .difference(&proxy_imports)
        .filter(|name| !imports.contains(*name))
        .collect();
    assert!(
        unused.is_empty(),
        "wit/world.wit grants what the component never imports: {unused:?}"
    );
}

#[test]
fn the_component_exports_the_incoming_handler() {
    let (_, world_exports, _) = parse_worlds();
    let (_, exports) = component_items();
    assert_eq!(
        world_exports,
        BTreeSet::from(["wasi:http/incoming-handler@0.2.12".to_owned()])
    );
    assert_eq!(exports, world_exports);
}
