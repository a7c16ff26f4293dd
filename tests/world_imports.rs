//! The built component imports nothing outside the world in `wit/`, so any
//! host offering that world can run it; and the world asks for nothing beyond
//! `wasi:http/proxy` that the component does not use. The Spin component
//! (`deploy/spin/`) imports the same but Spin's `wasi:keyvalue` version.

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
    items_of(sitebox_runner::EMBEDDED_COMPONENT)
}

fn items_of(wasm: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, wasm).unwrap();
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

#[test]
fn the_spin_component_imports_spins_keyvalue_in_place_of_draft() {
    let (imports, exports) = component_items();
    let (spin_imports, spin_exports) = items_of(&std::fs::read(support::spin_component()).unwrap());
    let draft: BTreeSet<&String> = imports
        .iter()
        .filter(|name| name.starts_with("wasi:keyvalue/"))
        .collect();
    assert_eq!(draft.len(), 3, "store, atomics and batch: {draft:?}");
    assert!(draft.iter().all(|name| name.ends_with("@0.2.0-draft")));
    let expected: BTreeSet<String> = imports
        .iter()
        .map(|name| match name.strip_suffix("@0.2.0-draft") {
            Some(interface) => format!("{interface}@0.2.0-draft2"),
            None => name.clone(),
        })
        .collect();
    assert_eq!(spin_imports, expected);
    assert_eq!(spin_exports, exports);
}
