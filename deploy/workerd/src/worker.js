// sitebox on workerd: the worker's entry, bundled by build.mjs.
//
// The stateless worker runs the component for every request, on a fresh
// component instance, as sitebox's own runner does: nothing a request leaves
// in the guest's memory (or a trap) reaches the next one. Which requests are
// the board's is decided by the component alone: its key-value bucket is
// opened only on the board's routes, and in the stateless worker opening it
// stops the instance and hands the request to the one Durable Object that
// owns the board's SQLite storage, which runs it again there, one request at
// a time, in one storage transaction. So static files are answered wherever
// the worker runs, and no route list is kept here. What is per isolate: the
// compiled core modules (workerd compiles them when it loads the worker) and
// the site's tree.

import { DurableObject } from "cloudflare:workers";
import { types as httpTypes } from "@bytecodealliance/preview2-shim/http";
import * as io from "@bytecodealliance/preview2-shim/io";
import * as clocks from "@bytecodealliance/preview2-shim/clocks";
import * as random from "@bytecodealliance/preview2-shim/random";
import { createCli } from "@bytecodealliance/preview2-shim/cli";
// Written by build.mjs: jco's `instantiate`, the core modules, the site.
import { instantiate, coreModules, tree, defaultBucket } from "sitebox:build";
import { createKeyValue } from "./kv.js";
import { bodyOf, respond, withBody } from "./serve.js";
import { loadTree, staticFilesystem } from "./static-fs.js";

const root = loadTree(tree);

/**
 * The component's stdout and stderr as console lines. Rust's `eprintln!`
 * writes a line in pieces, flushing each, so lines are cut at newlines only.
 */
function consoleLines(log) {
  const decoder = new TextDecoder();
  let pending = "";
  return {
    write(bytes) {
      const lines = (pending + decoder.decode(bytes, { stream: true })).split("\n");
      pending = lines.pop();
      for (const line of lines) log(line);
    },
  };
}

/**
 * The component's environment: the worker's `SITEBOX_*` text bindings, and
 * always `SITEBOX_BUCKET` (the binding, else build.mjs's `--bucket`), the one
 * name both the component and `kv.js` use.
 */
function environment(env) {
  const vars = Object.entries(env).filter(
    ([name, value]) => name.startsWith("SITEBOX_") && typeof value === "string",
  );
  return { SITEBOX_BUCKET: defaultBucket, ...Object.fromEntries(vars) };
}

/** jco's imports object, by interface name (without the version), with `keyValue`'s interfaces. */
function componentImports(vars, keyValue) {
  const cli = createCli({
    environment: vars,
    stdout: consoleLines(console.log),
    stderr: consoleLines(console.error),
  });
  const fs = staticFilesystem(root);
  return {
    "wasi:cli/environment": cli.environment,
    "wasi:cli/exit": cli.exit,
    "wasi:cli/stdin": cli.stdin,
    "wasi:cli/stdout": cli.stdout,
    "wasi:cli/stderr": cli.stderr,
    "wasi:cli/terminal-input": cli.terminalInput,
    "wasi:cli/terminal-output": cli.terminalOutput,
    "wasi:cli/terminal-stdin": cli.terminalStdin,
    "wasi:cli/terminal-stdout": cli.terminalStdout,
    "wasi:cli/terminal-stderr": cli.terminalStderr,
    "wasi:clocks/monotonic-clock": clocks.monotonicClock,
    "wasi:clocks/wall-clock": clocks.wallClock,
    "wasi:filesystem/preopens": fs.preopens,
    "wasi:filesystem/types": fs.types,
    "wasi:http/types": httpTypes,
    "wasi:io/error": io.error,
    "wasi:io/poll": io.poll,
    "wasi:io/streams": io.streams,
    "wasi:random/insecure-seed": random.insecureSeed,
    "wasi:random/random": random.random,
    "wasi:keyvalue/store": keyValue.store,
    "wasi:keyvalue/atomics": keyValue.atomics,
    "wasi:keyvalue/batch": keyValue.batch,
  };
}

/**
 * Runs the component on `request` (its body in memory) with `imports`, the
 * handler wrapped by `around`; a trap is a 500 (this instance is gone, the
 * next request gets a new one), unless `around` says otherwise by throwing.
 */
async function runComponent(request, imports, around = (handle) => handle) {
  try {
    const component = instantiate((name) => coreModules[name], imports);
    return await respond(request, around(component.incomingHandler.handle));
  } catch (error) {
    if (error instanceof BoardRequest) throw error;
    console.error(`sitebox: the component failed: ${error?.stack ?? error}`);
    return new Response("Internal Server Error\n", { status: 500 });
  }
}

/** Thrown when the component, in the stateless worker, asked for the board's storage. */
class BoardRequest extends Error {}

/**
 * The stateless worker's key-value: opening the bucket marks the request as
 * the board's (`asked`) and stops the instance there, before it has done
 * anything a second run could repeat.
 */
function boardRouting() {
  const routing = { asked: false };
  const ask = () => {
    routing.asked = true;
    throw new BoardRequest("the board's storage is in the Durable Object");
  };
  routing.keyValue = {
    store: { Bucket: class Bucket {}, open: ask },
    atomics: { increment: ask },
    batch: { getMany: ask, setMany: ask, deleteMany: ask },
  };
  return routing;
}

/**
 * A key-value whose bucket cannot be opened (`other`): with it the component
 * answers the board's requests with its own 503 and `Retry-After`, as it
 * does when any host's storage is down.
 */
function unavailableKeyValue(reason) {
  const open = () => {
    throw { tag: "other", val: reason };
  };
  return {
    store: { Bucket: class Bucket {}, open },
    atomics: { increment: open },
    batch: { getMany: open, setMany: open, deleteMany: open },
  };
}

/** `handle`, marking a trap that came from asking for the board as a `BoardRequest`. */
function routedBy(routing) {
  return (handle) => (incoming, responseOut) => {
    routing.asked = false;
    try {
      return handle(incoming, responseOut);
    } catch (error) {
      // jco turns what an import throws into a trap of its own making.
      throw routing.asked ? new BoardRequest("the board's", { cause: error }) : error;
    }
  };
}

/**
 * The Durable Object that owns the board: it runs the requests the stateless
 * worker hands it, one at a time, each in one storage transaction, so what a
 * request writes is committed only with its answer (a trap after a write
 * rolls the write back).
 */
export class Site extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    const vars = environment(env);
    this.imports = componentImports(vars, createKeyValue(ctx.storage, vars.SITEBOX_BUCKET));
    this.inTransaction = (handle) => (incoming, responseOut) =>
      ctx.storage.transactionSync(() => handle(incoming, responseOut));
  }

  async fetch(request) {
    return runComponent(request, this.imports, this.inTransaction);
  }
}

/** The stateless worker's imports and routing, made on its first request (they need `env`). */
let stateless;

/** The Durable Object's answer to `request`; the component's 503 if the object failed. */
async function boardAnswer(request, body, env) {
  try {
    return await env.SITE.get(env.SITE.idFromName("site")).fetch(withBody(request, body));
  } catch (error) {
    // The object threw instead of answering: its storage failed where no
    // code of ours sees it (workerd's commit after the request, SQLITE_FULL
    // or SQLITE_IOERR_WRITE, which rolls the request's writes back), or the
    // object was reset or overloaded. The request's component answers as
    // when storage is down.
    console.error(`sitebox: the board's Durable Object failed: ${error?.message ?? error}`);
    return runComponent(withBody(request, body), stateless.unavailable);
  }
}

export default {
  async fetch(request, env) {
    if (!stateless) {
      const routing = boardRouting();
      const imports = componentImports(environment(env), routing.keyValue);
      const unavailable = componentImports(
        environment(env),
        unavailableKeyValue("the board's Durable Object failed"),
      );
      stateless = { imports, around: routedBy(routing), unavailable };
    }
    const body = await bodyOf(request);
    try {
      return await runComponent(withBody(request, body), stateless.imports, stateless.around);
    } catch (error) {
      if (!(error instanceof BoardRequest)) throw error;
      return boardAnswer(request, body, env);
    }
  },
};
