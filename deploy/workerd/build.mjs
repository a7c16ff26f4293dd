#!/usr/bin/env node
// Builds sitebox for workerd from an already built component (no Rust build):
//
//   node build.mjs --component PATH/sitebox.wasm --static DIR --out DIR
//                  [--bucket NAME] [--storage DIR] [--listen ADDR]
//
// Writes into --out: worker.js (the glue, the preview2 shim and jco's
// bindings, bundled by esbuild), the component's core modules (*.wasm), the
// site's files (site/N.bin, workerd data modules) and config.capnp. Run with
//
//   workerd serve OUT/config.capnp [--socket-addr http=127.0.0.1:PORT]
//                                  [--directory-path storage=DIR]
//
// See README.md.

import { transpile } from "@bytecodealliance/jco";
import { shimPatch } from "./shim-patch.mjs";
import * as esbuild from "esbuild";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

const usage = `usage: node build.mjs --component PATH --static DIR --out DIR [--bucket NAME] [--storage DIR] [--listen ADDR] [--proto-header NAME]
  --component  the sitebox component (wasm32-wasip2), e.g. target/component/wasm32-wasip2/component/sitebox.wasm
  --static     the site to embed, read-only, as /static
  --out        where to write worker.js, the modules and config.capnp: a new or
               empty directory, or one an earlier build wrote (only what that
               build wrote is replaced); never the site or around it
  --bucket     the key-value bucket the board uses (SITEBOX_BUCKET; default sitebox)
  --storage    the Durable Object's SQLite directory (default OUT/storage;
               at run time: workerd serve ... --directory-path storage=DIR)
  --listen     the http socket's address (default 127.0.0.1:8080;
               at run time: workerd serve ... --socket-addr http=ADDR)
  --proto-header  the header a TLS-terminating proxy names the client's scheme in
               (default X-Forwarded-Proto; "" when no proxy is in front)`;

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        component: { type: "string" },
        static: { type: "string" },
        out: { type: "string" },
        bucket: { type: "string", default: "sitebox" },
        storage: { type: "string" },
        listen: { type: "string", default: "127.0.0.1:8080" },
        "proto-header": { type: "string", default: "X-Forwarded-Proto" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    fail(`${error.message}\n${usage}`);
  }
  if (parsed.help) {
    console.log(usage);
    process.exit(0);
  }
  for (const name of ["component", "static", "out"]) {
    if (!parsed[name]) fail(`--${name} is required\n${usage}`);
  }
  if (!parsed.bucket) fail("--bucket must not be empty");
  const out = path.resolve(parsed.out);
  return {
    component: path.resolve(parsed.component),
    staticDir: path.resolve(parsed.static),
    out,
    bucket: parsed.bucket,
    storage: path.resolve(parsed.storage ?? path.join(out, "storage")),
    listen: parsed.listen,
    protoHeader: parsed["proto-header"],
  };
}

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(2);
}

/**
 * Walks the site: a tree of `{ dir: [[name, node], ...], mtime }` (pairs, so
 * no name is special, not even `__proto__`) and `{ file: N, mtime }`, with
 * the files' paths in `files[N]`. Symlinks are followed when they lead to a
 * file or a directory inside the site (as the runner serves them); the others
 * (out of the site, dangling, or to a directory the walk is inside of, which
 * would loop) are left out with a warning.
 */
function walkSite(root) {
  const realRoot = fs.realpathSync(root);
  const files = [];
  const byRealPath = new Map();
  const mtime = (stat) => [Number(stat.mtimeNs / 1_000_000_000n), Number(stat.mtimeNs % 1_000_000_000n)];
  const inside = (real) => real === realRoot || real.startsWith(realRoot + path.sep);
  // `within`: the real paths of the directories being walked, root first.
  const walk = (dir, within) => {
    const node = { dir: [], mtime: mtime(fs.statSync(dir, { bigint: true })) };
    for (const dirent of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, dirent.name);
      const shown = path.relative(root, full);
      let real;
      try {
        real = fs.realpathSync(full);
      } catch {
        console.warn(`build.mjs: leaving out ${shown}: a dangling symlink`);
        continue;
      }
      const stat = fs.statSync(real, { bigint: true });
      if (dirent.isSymbolicLink() && !inside(real)) {
        console.warn(`build.mjs: leaving out ${shown}: a symlink out of the site`);
        continue;
      }
      if (stat.isDirectory()) {
        if (within.includes(real)) {
          console.warn(`build.mjs: leaving out ${shown}: a symlink to a directory it is in (a loop)`);
          continue;
        }
        node.dir.push([dirent.name, walk(full, [...within, real])]);
        continue;
      }
      if (!stat.isFile()) {
        console.warn(`build.mjs: leaving out ${shown}: not a regular file`);
        continue;
      }
      if (!byRealPath.has(real)) {
        byRealPath.set(real, files.length);
        files.push(real);
      }
      node.dir.push([dirent.name, { file: byRealPath.get(real), mtime: mtime(stat) }]);
    }
    return node;
  };
  return { tree: walk(root, [realRoot]), files };
}

/** What a build wrote into --out, so the next one removes that and nothing else. */
const MANIFEST = ".sitebox-build.json";

/** A path's real location, for a path that may not exist yet (its nearest existing parent resolved). */
function realPath(target) {
  const missing = [];
  let existing = target;
  while (!fs.existsSync(existing)) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(fs.realpathSync(existing), ...missing);
}

const within = (inner, outer) => inner === outer || inner.startsWith(outer + path.sep);

/**
 * Checks --out and removes what the last build into it wrote (its manifest's
 * files), nothing else: a site, a worker or wasm of the user's stay. Refuses
 * an --out that is the site, inside it or around it, or that holds files no
 * build wrote.
 */
function prepareOut({ out, staticDir }) {
  const realOut = realPath(out);
  const realSite = fs.realpathSync(staticDir);
  if (within(realOut, realSite) || within(realSite, realOut)) {
    fail(`--out ${out} overlaps --static ${staticDir}: give a directory beside the site`);
  }
  fs.mkdirSync(out, { recursive: true });
  const manifest = path.join(out, MANIFEST);
  if (!fs.existsSync(manifest)) {
    if (fs.readdirSync(out).length > 0) {
      fail(`--out ${out} holds files no build wrote: give a new or empty directory`);
    }
    return;
  }
  for (const name of JSON.parse(fs.readFileSync(manifest, "utf8"))) {
    if (typeof name !== "string" || path.isAbsolute(name) || name.split(/[\\/]/).includes("..")) {
      fail(`${manifest} names ${JSON.stringify(name)}, not a file of a build`);
    }
    fs.rmSync(path.join(out, name), { force: true });
  }
  try {
    fs.rmdirSync(path.join(out, "site"));
  } catch {
    // Absent, or holding files of the user's: left as it is.
  }
  fs.rmSync(manifest);
}

/** A Cap'n Proto text literal (its escapes are C's, not JSON's). */
function capnpString(text) {
  const escaped = text.replace(/[\\"\x00-\x1f\x7f]/g, (c) =>
    c === "\\" || c === '"' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return `"${escaped}"`;
}

function capnpConfig({ modules, bucket, storage, listen, protoHeader }) {
  const moduleLines = modules.map(
    ({ name, kind }) => `    (name = ${capnpString(name)}, ${kind} = embed ${capnpString(name)}),`,
  );
  return `# Written by build.mjs; see README.md. Run: workerd serve config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .sitebox),
    # The Durable Object's SQLite files (the board): --directory-path storage=DIR
    (name = "storage", disk = (path = ${capnpString(storage)}, writable = true)),
  ],
  # --socket-addr http=ADDR overrides the address.${protoHeader ? `
  # Behind a proxy that terminates TLS, the request's scheme is the one the
  # proxy names in ${protoHeader} (the board's same-origin check needs it).` : ""}
  sockets = [(name = "http", address = ${capnpString(listen)}, service = "main",
              http = (${protoHeader ? `forwardedProtoHeader = ${capnpString(protoHeader)}` : ""}))],
);

const sitebox :Workerd.Worker = (
  compatibilityDate = "2025-09-01",
  modules = [
${moduleLines.join("\n")}
  ],
  bindings = [
    (name = "SITE", durableObjectNamespace = "Site"),
    # The component's environment: every SITEBOX_* binding that is text.
    (name = "SITEBOX_BUCKET", text = ${capnpString(bucket)}),
    # The admin's password hash is taken from workerd's own environment
    # when it starts, so it is in no file (unset: no admin, no clearing).
    (name = "SITEBOX_ADMIN_PASSWORD_HASH", fromEnvironment = "SITEBOX_ADMIN_PASSWORD_HASH"),
  ],
  durableObjectNamespaces = [
    (className = "Site", uniqueKey = "sitebox-site", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "storage"),
);
`;
}

async function main() {
  const opts = options();
  const started = performance.now();
  if (!fs.statSync(opts.staticDir, { throwIfNoEntry: false })?.isDirectory()) {
    fail(`--static ${opts.staticDir} is not a directory`);
  }
  prepareOut(opts);

  // 1. The component to core modules plus JS bindings, instantiated by our
  // glue (sync instantiation: per request, from precompiled modules; workerd
  // does not compile wasm from bytes at run time).
  const { files: transpiled } = await transpile(fs.readFileSync(opts.component), {
    name: "sitebox",
    instantiation: "sync",
    noTypescript: true,
    nodejsCompat: false,
    quiet: true,
  });

  // 2. Staging: the generated files esbuild bundles (bindings, `sitebox:build`).
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), "sitebox-workerd-"));
  const { tree, files } = walkSite(opts.staticDir);
  const coreNames = Object.keys(transpiled).filter((name) => name.endsWith(".wasm"));
  const modules = [
    { name: "worker.js", kind: "esModule" },
    ...coreNames.map((name) => ({ name, kind: "wasm" })),
    ...files.map((_, index) => ({ name: `site/${index}.bin`, kind: "data" })),
  ];
  // Listed before anything is written, so a build that fails halfway is
  // still cleaned up by the next.
  const written = [...modules.map(({ name }) => name), "config.capnp"];
  fs.writeFileSync(path.join(opts.out, MANIFEST), `${JSON.stringify(written, null, 1)}\n`);

  for (const [name, bytes] of Object.entries(transpiled)) {
    if (name.endsWith(".wasm")) {
      fs.writeFileSync(path.join(opts.out, name), bytes);
    } else if (name.endsWith(".js")) {
      fs.mkdirSync(path.dirname(path.join(staging, name)), { recursive: true });
      fs.writeFileSync(path.join(staging, name), bytes);
    }
  }
  fs.mkdirSync(path.join(opts.out, "site"), { recursive: true });
  files.forEach((real, index) => fs.copyFileSync(real, path.join(opts.out, `site/${index}.bin`)));
  // The tree's files as imports of their data modules (ArrayBuffers).
  const fileImports = files.map((_, index) => `import f${index} from "./site/${index}.bin";`);
  const treeSource = JSON.stringify(tree).replace(/\{"file":(\d+),/g, '{"data":f$1,');
  const generated = [
    `export { instantiate } from "./sitebox.js";`,
    ...coreNames.map((name, index) => `import m${index} from "./${name}";`),
    ...fileImports,
    `export const coreModules = { ${coreNames.map((name, index) => `${JSON.stringify(name)}: m${index}`).join(", ")} };`,
    `export const tree = ${treeSource};`,
    `export const defaultBucket = ${JSON.stringify(opts.bucket)};`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(staging, "build.js"), generated);

  // 3. One ES module for workerd; the wasm and data modules stay separate
  // (workerd loads them as modules), as do the runtime's own imports.
  const patched = { count: 0 };
  await esbuild.build({
    entryPoints: [path.join(here, "src/worker.js")],
    outfile: path.join(opts.out, "worker.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["cloudflare:*", "node:*"],
    logLevel: "warning",
    // preview2-shim's wasi:http, with sitebox's fixes (see shim-patch.mjs).
    legalComments: "none",
    plugins: [
      shimPatch(patched),
      {
        name: "sitebox-build",
        setup(build) {
          build.onResolve({ filter: /^sitebox:build$/ }, () => ({ path: path.join(staging, "build.js") }));
          build.onResolve({ filter: /\.(wasm|bin)$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
  fs.rmSync(staging, { recursive: true, force: true });
  if (patched.count !== 1) fail("preview2-shim's http.js was not patched: see shim-patch.mjs");

  fs.mkdirSync(opts.storage, { recursive: true });
  fs.writeFileSync(path.join(opts.out, "config.capnp"), capnpConfig({ modules, ...opts }));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `build.mjs: ${path.join(opts.out, "config.capnp")}: ${files.length} site files, ` +
      `${coreNames.length} core modules, bucket ${JSON.stringify(opts.bucket)}, ` +
      `storage ${opts.storage} (${seconds} s)`,
  );
}

await main();
