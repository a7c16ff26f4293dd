// wasi:keyvalue@0.2.0-draft (store, atomics, batch) over a SQLite-backed
// Durable Object's synchronous `ctx.storage.kv`.
//
// Why synchronous storage: component imports are synchronous JS calls, and
// `ctx.storage.kv` is the Durable Object API that answers without a promise.
// Writes made during one request are committed together by workerd, and the
// response waits until they are durable (the output gate).
//
// The semantics follow wasmtime-wasi-keyvalue: counters are the decimal ASCII
// of a u64 (missing = 0), `list-keys` pages with the cursor as an offset into
// the sorted keys. Only the configured bucket opens; every storage exception
// becomes `other(message)`, which the component answers with a 503 instead of
// trapping (a thrown Error would trap the instance).
//
// jco's conventions: a WIT resource is a JS class (checked with instanceof),
// `result` errors are thrown values (`{ tag: "no-such-store" }`), u64 is a BigInt,
// `option` is the value or undefined, `list<u8>` a Uint8Array.

const U64_MAX = (1n << 64n) - 1n;
/** Keys per `list-keys` page. */
const PAGE = 1000;

const other = (message) => ({ tag: "other", val: message });
const isKvError = (e) =>
  e !== null && typeof e === "object" && ["no-such-store", "access-denied", "other"].includes(e.tag);

/** Runs `operation`, turning anything it throws that is not already a keyvalue error into `other`. */
function guarded(operation) {
  try {
    return operation();
  } catch (e) {
    throw isKvError(e) ? e : other(String(e));
  }
}

/** A stored value as the bytes the component wrote (structured clone keeps the Uint8Array). */
function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw other(`stored value is not bytes (${typeof value})`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const ascii = new TextEncoder();

/** Rust's `u64::from_str` on the value's UTF-8, as wasmtime parses a counter. */
function parseCounter(bytes) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw other("counter value is not UTF-8");
  }
  if (!/^\+?[0-9]+$/.test(text)) throw other(`counter value ${JSON.stringify(text)} is not a u64`);
  const n = BigInt(text);
  if (n > U64_MAX) throw other(`counter value ${text} is too large for a u64`);
  return n;
}

/**
 * The three interfaces for jco's imports object, on `storage` (a SQLite-backed
 * Durable Object's `ctx.storage`), opening only the bucket named `bucketName`.
 */
export function createKeyValue(storage, bucketName) {
  const kv = storage.kv;
  // Keys live under a prefix per bucket name (encoded, so no name's prefix
  // is another's).
  const prefix = `${encodeURIComponent(bucketName)}/`;

  class Bucket {
    get(key) {
      return guarded(() => {
        const value = kv.get(prefix + key);
        return value === undefined ? undefined : asBytes(value);
      });
    }
    set(key, value) {
      guarded(() => kv.put(prefix + key, value.slice()));
    }
    delete(key) {
      guarded(() => kv.delete(prefix + key));
    }
    exists(key) {
      return guarded(() => kv.get(prefix + key) !== undefined);
    }
    listKeys(cursor) {
      return guarded(() => {
        const offset = cursor === undefined ? 0n : cursor;
        const keys = [];
        let skipped = 0n;
        let more = false;
        for (const [key] of kv.list({ prefix })) {
          if (skipped < offset) {
            skipped++;
            continue;
          }
          if (keys.length === PAGE) {
            more = true;
            break;
          }
          keys.push(key.slice(prefix.length));
        }
        return { keys, cursor: more ? offset + BigInt(PAGE) : undefined };
      });
    }
  }

  const store = {
    Bucket,
    open(identifier) {
      if (identifier !== bucketName) throw { tag: "no-such-store" };
      return new Bucket();
    },
  };

  const atomics = {
    increment(_bucket, key, delta) {
      return guarded(() => {
        const stored = kv.get(prefix + key);
        const current = stored === undefined ? 0n : parseCounter(asBytes(stored));
        const next = current + delta;
        if (next > U64_MAX) throw other("overflow incrementing value");
        // Written back normalized (as wasmtime does), but only when that
        // changes what is stored: a read with delta 0 costs no write.
        const text = next.toString();
        if (stored === undefined || delta !== 0n || utf8.decode(asBytes(stored)) !== text) {
          kv.put(prefix + key, ascii.encode(text));
        }
        return next;
      });
    },
  };

  const batch = {
    getMany(_bucket, keys) {
      return guarded(() =>
        keys.map((key) => {
          const value = kv.get(prefix + key);
          return value === undefined ? undefined : [key, asBytes(value)];
        }),
      );
    },
    setMany(_bucket, keyValues) {
      // All or nothing, in one SQLite transaction.
      guarded(() =>
        storage.transactionSync(() => {
          for (const [key, value] of keyValues) kv.put(prefix + key, value.slice());
        }),
      );
    },
    deleteMany(_bucket, keys) {
      guarded(() =>
        storage.transactionSync(() => {
          for (const key of keys) kv.delete(prefix + key);
        }),
      );
    },
  };

  return { store, atomics, batch };
}
