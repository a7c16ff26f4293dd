// The site as a read-only wasi:filesystem tree, for the `/static` preopen.
//
// Why not preview2-shim's in-memory filesystem: its tree is writable (every
// descriptor has read, write and mutate-directory rights) and it reports every
// timestamp as 0, so sitebox's ETags (size + mtime) would collide across
// deploys. This adapter plugs into the shim's `createFilesystem` (whose
// Descriptor class the transpiled component checks resources against) and
// serves the tree build.mjs embedded: file bytes from workerd data modules and
// the files' real mtimes. Every mutation fails with `read-only`.
//
// The tree has no symlinks: build.mjs follows those that stay inside the site
// and leaves out the others (see README.md).
//
// Entries: `{ dir: { name: entry, ... }, mtime }` or `{ bytes: Uint8Array, mtime }`,
// `mtime` as `{ seconds: bigint, nanoseconds: number }`.

import { createFilesystem } from "@bytecodealliance/preview2-shim/filesystem";
import { inputStreamCreate } from "@bytecodealliance/preview2-shim/io";

/** Resolves `path` below `base` (a directory entry), as cap-std does: no absolute paths, no `..` above `base`. */
function resolve(base, path) {
  if (path.startsWith("/")) throw "not-permitted";
  const stack = [base];
  for (const name of path.split("/")) {
    if (name === "" || name === ".") continue;
    const current = stack[stack.length - 1];
    if (!current.dir) throw "not-directory";
    if (name === "..") {
      if (stack.length === 1) throw "not-permitted";
      stack.pop();
      continue;
    }
    const child = Object.hasOwn(current.dir, name) ? current.dir[name] : undefined;
    if (!child) throw "no-entry";
    stack.push(child);
  }
  return stack[stack.length - 1];
}

const typeOf = (entry) => (entry.dir ? "directory" : "regular-file");

function stat(entry) {
  return {
    type: typeOf(entry),
    linkCount: 1n,
    size: entry.dir ? 0n : BigInt(entry.bytes.byteLength),
    dataAccessTimestamp: entry.mtime,
    dataModificationTimestamp: entry.mtime,
    statusChangeTimestamp: entry.mtime,
  };
}

const readOnly = () => {
  throw "read-only";
};
const badDescriptor = () => {
  throw "bad-descriptor";
};

/** A descriptor's implementation (the shim wraps it in its Descriptor class). */
class Node {
  constructor(entry) {
    this.entry = entry;
  }
  getType() {
    return typeOf(this.entry);
  }
  getFlags() {
    return { read: true };
  }
  stat() {
    return stat(this.entry);
  }
  statAt(_pathFlags, path) {
    return stat(resolve(this.entry, path));
  }
  openAt(_pathFlags, path, openFlags, flags) {
    if (openFlags.create || openFlags.truncate || flags.write || flags.mutateDirectory) {
      readOnly();
    }
    const entry = resolve(this.entry, path);
    if (openFlags.directory && !entry.dir) throw "not-directory";
    return new Node(entry);
  }
  read(length, offset) {
    if (this.entry.dir) throw "is-directory";
    const bytes = this.entry.bytes;
    const start = Math.min(Number(offset), bytes.byteLength);
    const end = Math.min(start + Number(length), bytes.byteLength);
    return [bytes.slice(start, end), end >= bytes.byteLength];
  }
  readViaStream(offset) {
    if (this.entry.dir) throw "is-directory";
    const bytes = this.entry.bytes;
    let position = Math.min(Number(offset), bytes.byteLength);
    // A file is in memory, so a "blocking" read never waits.
    return inputStreamCreate({
      blockingRead(length) {
        if (position >= bytes.byteLength) throw { tag: "closed" };
        const chunk = bytes.slice(position, position + Number(length));
        position += chunk.byteLength;
        return chunk;
      },
    });
  }
  readDirectory() {
    if (!this.entry.dir) throw "not-directory";
    const entries = Object.keys(this.entry.dir)
      .sort()
      .map((name) => ({ name, type: typeOf(this.entry.dir[name]) }));
    let next = 0;
    return { readDirectoryEntry: () => entries[next++] };
  }
  readlinkAt(path) {
    resolve(this.entry, path);
    throw "invalid"; // No symlinks in this tree.
  }
  isSameObject(other) {
    return other instanceof Node && other.entry === this.entry;
  }
  metadataHash() {
    return { upper: this.entry.id, lower: 0n };
  }
  metadataHashAt(_pathFlags, path) {
    return { upper: resolve(this.entry, path).id, lower: 0n };
  }
  advise() {}
  sync() {}
  syncData() {}
}
// Everything that writes: a read-only descriptor cannot, the tree refuses.
for (const name of ["writeViaStream", "appendViaStream", "setSize", "setTimes", "write"]) {
  Node.prototype[name] = badDescriptor;
}
for (const name of [
  "createDirectoryAt",
  "setTimesAt",
  "linkAt",
  "removeDirectoryAt",
  "renameAt",
  "symlinkAt",
  "unlinkFileAt",
]) {
  Node.prototype[name] = readOnly;
}

/**
 * Turns the embedded tree (directories as [name, node] pairs, files as
 * ArrayBuffers, mtimes as [seconds, nanoseconds]) into entries, once per isolate.
 */
export function loadTree(tree) {
  let nextId = 0n;
  const load = (node) => {
    const mtime = { seconds: BigInt(node.mtime[0]), nanoseconds: node.mtime[1] };
    const id = ++nextId;
    if (node.dir) {
      const dir = Object.create(null);
      for (const [name, child] of node.dir) dir[name] = load(child);
      return { dir, mtime, id };
    }
    return { bytes: new Uint8Array(node.data), mtime, id };
  };
  return load(tree);
}

/** `wasi:filesystem/types` and `preopens` with only `/static`, the tree read-only. */
export function staticFilesystem(root) {
  return createFilesystem({
    adapter: { getRoot: (entry) => new Node(entry) },
    preopens: { "/static": root },
  });
}
