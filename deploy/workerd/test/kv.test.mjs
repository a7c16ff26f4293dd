// kv.js's semantics on a stand-in for a Durable Object's synchronous storage
// (`node --test`, no workerd needed; tests/workerd.rs runs the real one).

import assert from "node:assert/strict";
import test from "node:test";
import { createKeyValue } from "../src/kv.js";

/** `ctx.storage` with `kv` over a Map (list: sorted, by prefix) and `transactionSync`. */
function fakeStorage() {
  const map = new Map();
  const kv = {
    get: (key) => map.get(key),
    put: (key, value) => void map.set(key, structuredClone(value)),
    delete: (key) => map.delete(key),
    *list({ prefix = "" } = {}) {
      for (const key of [...map.keys()].sort()) if (key.startsWith(prefix)) yield [key, map.get(key)];
    },
  };
  const transactionSync = (f) => {
    const saved = new Map(map);
    try {
      return f();
    } catch (e) {
      map.clear();
      for (const [k, v] of saved) map.set(k, v);
      throw e;
    }
  };
  return { kv, transactionSync, map };
}

const bytes = (text) => new TextEncoder().encode(text);
const text = (value) => new TextDecoder().decode(value);

test("only the configured bucket opens", () => {
  const { store } = createKeyValue(fakeStorage(), "board");
  assert.ok(store.open("board") instanceof store.Bucket);
  assert.throws(() => store.open("sitebox"), { tag: "no-such-store" });
  assert.throws(() => store.open(""), { tag: "no-such-store" });
});

test("get, set, exists, delete", () => {
  const { store } = createKeyValue(fakeStorage(), "sitebox");
  const bucket = store.open("sitebox");
  assert.equal(bucket.get("k"), undefined);
  assert.equal(bucket.exists("k"), false);
  const value = bytes("v");
  bucket.set("k", value);
  value[0] = 0; // The stored value is a copy.
  assert.equal(text(bucket.get("k")), "v");
  assert.equal(bucket.exists("k"), true);
  bucket.delete("k");
  bucket.delete("never there");
  assert.equal(bucket.get("k"), undefined);
});

test("counters are decimal u64s, as wasmtime's", () => {
  const storage = fakeStorage();
  const { store, atomics } = createKeyValue(storage, "sitebox");
  const bucket = store.open("sitebox");
  assert.equal(atomics.increment(bucket, "n", 0n), 0n);
  assert.equal(bucket.exists("n"), true, "a read of a missing counter stores 0");
  assert.equal(atomics.increment(bucket, "n", 41n), 41n);
  assert.equal(atomics.increment(bucket, "n", 1n), 42n);
  assert.equal(text(bucket.get("n")), "42");
  bucket.set("plus", bytes("+7"));
  assert.equal(atomics.increment(bucket, "plus", 0n), 7n);
  assert.equal(text(bucket.get("plus")), "7");
  bucket.set("max", bytes("18446744073709551615"));
  assert.throws(() => atomics.increment(bucket, "max", 1n), { tag: "other" });
  assert.equal(atomics.increment(bucket, "max", 0n), 18446744073709551615n);
  for (const bad of ["", "x", "-1", "1.5", "18446744073709551616"]) {
    bucket.set("bad", bytes(bad));
    assert.throws(() => atomics.increment(bucket, "bad", 1n), { tag: "other" }, bad);
  }
  bucket.set("bad", new Uint8Array([0xff]));
  assert.throws(() => atomics.increment(bucket, "bad", 1n), { tag: "other" });
});

test("batches keep the order of the keys", () => {
  const { store, batch } = createKeyValue(fakeStorage(), "sitebox");
  const bucket = store.open("sitebox");
  batch.setMany(bucket, [
    ["a", bytes("1")],
    ["b", bytes("2")],
  ]);
  const got = batch.getMany(bucket, ["b", "missing", "a"]);
  assert.deepEqual(
    got.map((entry) => entry && [entry[0], text(entry[1])]),
    [["b", "2"], undefined, ["a", "1"]],
  );
  batch.deleteMany(bucket, ["a", "missing"]);
  assert.deepEqual(batch.getMany(bucket, ["a"]), [undefined]);
});

test("list-keys pages through every key of the bucket only", () => {
  const storage = fakeStorage();
  const { store } = createKeyValue(storage, "sitebox");
  const bucket = store.open("sitebox");
  for (let i = 0; i < 2345; i++) bucket.set(`k${String(i).padStart(4, "0")}`, bytes("x"));
  createKeyValue(storage, "sitebox2").store.open("sitebox2").set("other", bytes("x"));
  const keys = [];
  let cursor;
  let pages = 0;
  do {
    const page = bucket.listKeys(cursor);
    keys.push(...page.keys);
    cursor = page.cursor;
    assert.ok(cursor === undefined || typeof cursor === "bigint");
    pages++;
  } while (cursor !== undefined);
  assert.equal(pages, 3);
  assert.equal(keys.length, 2345);
  assert.equal(new Set(keys).size, 2345);
  assert.ok(!keys.includes("other"));
});

test("storage exceptions become other(message), never an Error", () => {
  const boom = () => {
    throw new Error("SQLITE_FULL");
  };
  const broken = { kv: { get: boom, put: boom, delete: boom, list: boom }, transactionSync: boom };
  const { store, atomics, batch } = createKeyValue(broken, "sitebox");
  const bucket = store.open("sitebox");
  const operations = [
    () => bucket.get("k"),
    () => bucket.set("k", bytes("v")),
    () => bucket.delete("k"),
    () => bucket.exists("k"),
    () => bucket.listKeys(undefined),
    () => atomics.increment(bucket, "k", 1n),
    () => batch.getMany(bucket, ["k"]),
    () => batch.setMany(bucket, [["k", bytes("v")]]),
    () => batch.deleteMany(bucket, ["k"]),
  ];
  for (const operation of operations) {
    assert.throws(operation, { tag: "other", val: "Error: SQLITE_FULL" });
  }
});

test("set-many is all or nothing", () => {
  const storage = fakeStorage();
  const put = storage.kv.put;
  storage.kv.put = (key, value) => {
    if (key.endsWith("/fails")) throw new Error("too big");
    put(key, value);
  };
  const { store, batch } = createKeyValue(storage, "sitebox");
  const bucket = store.open("sitebox");
  assert.throws(
    () =>
      batch.setMany(bucket, [
        ["ok", bytes("1")],
        ["fails", bytes("2")],
      ]),
    { tag: "other" },
  );
  assert.equal(bucket.get("ok"), undefined);
});
