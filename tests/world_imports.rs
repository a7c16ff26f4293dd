//! The built component imports nothing outside the world in `wit/`, so any
//! host offering that world can run it; and the world asks for nothing beyond
//! `wasi:http/proxy` that the component does not use. The Spin component
//! (`deploy/spin/`) imports the same but Spin's `wasi:keyvalue` version. The
//! wasi:http 0.3 component (`--features p3`) exports `wasi:http/handler@0.3`
//! and imports `wasi:http/types@0.3` besides the world `sitebox-p3-imports`.

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

/// What `world` in `wit/` imports.
fn world_imports(world: &str) -> BTreeSet<String> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(support::repo_root().join("wit")).unwrap();
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    interfaces(&resolve, world, false)
}

fn p3_component_items() -> (BTreeSet<String>, BTreeSet<String>) {
    items_of(&std::fs::read(support::p3_component()).unwrap())
}

#[test]
fn the_p3_component_exports_the_0_3_handler() {
    let (_, exports) = p3_component_items();
    assert!(
        exports.len() == 1
            && exports
                .iter()
                .all(|name| name.starts_with("wasi:http/handler@0.3.")),
        "exports: {exports:?}"
    );
}

#[test]
fn the_p3_component_imports_its_world_and_wasi_http_types_0_3() {
    let p3_world = world_imports("sitebox-p3-imports");
    let p2_world = world_imports("sitebox");
    let beyond_0_2: Vec<_> = p3_world.difference(&p2_world).collect();
    assert!(
        beyond_0_2.is_empty(),
        "sitebox-p3-imports asks for what the 0.2 world does not: {beyond_0_2:?}"
    );
    let (imports, _) = p3_component_items();
    let (http, rest): (BTreeSet<String>, BTreeSet<String>) = imports
        .into_iter()
        .partition(|name| name.starts_with("wasi:http/"));
    assert!(
        http.len() == 1
            && http
                .iter()
                .all(|name| name.starts_with("wasi:http/types@0.3.")),
        "wasi:http imports: {http:?}"
    );
    let outside: Vec<_> = rest.difference(&p3_world).collect();
    assert!(
        outside.is_empty(),
        "imports outside sitebox-p3-imports: {outside:?}"
    );
    assert!(!rest.iter().any(|name| name.starts_with("wasi:sockets")));
}
