// sitebox on workerd: the worker's entry, bundled by build.mjs.
//
// Every request goes to one Durable Object instance (the board lives in its
// SQLite storage, so all requests must meet the same storage, one at a time),
// which runs the component's wasi:http incoming handler on a fresh component
// instance, as sitebox's own runner does: nothing a request leaves in the
// guest's memory (or a trap) reaches the next one. What is per isolate: the
// compiled core modules (workerd compiles them when it loads the worker) and
// the site's tree.

import { DurableObject } from "cloudflare:workers";
import { handleIncomingRequest, types as httpTypes } from "@bytecodealliance/preview2-shim/http";
import * as io from "@bytecodealliance/preview2-shim/io";
import * as clocks from "@bytecodealliance/preview2-shim/clocks";
import * as random from "@bytecodealliance/preview2-shim/random";
import { createCli } from "@bytecodealliance/preview2-shim/cli";
// Written by build.mjs: jco's `instantiate`, the core modules, the site.
import { instantiate, coreModules, tree, defaultBucket } from "sitebox:build";
import { createKeyValue } from "./kv.js";
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

/** The component's environment: the worker's `SITEBOX_*` text bindings. */
function environment(env) {
  const vars = Object.entries(env).filter(
    ([name, value]) => name.startsWith("SITEBOX_") && typeof value === "string",
  );
  return Object.fromEntries(vars);
}

export class Site extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    const vars = environment(env);
    const bucket = vars.SITEBOX_BUCKET ?? defaultBucket;
    const cli = createCli({
      environment: vars,
      stdout: consoleLines(console.log),
      stderr: consoleLines(console.error),
    });
    const fs = staticFilesystem(root);
    const kv = createKeyValue(ctx.storage, bucket);
    // jco's imports object, by interface name (without the version).
    this.imports = {
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
      "wasi:keyvalue/store": kv.store,
      "wasi:keyvalue/atomics": kv.atomics,
      "wasi:keyvalue/batch": kv.batch,
    };
  }

  async fetch(request) {
    try {
      const component = instantiate((name) => coreModules[name], this.imports);
      // The shim reads the whole body first, so the component's blocking
      // reads of it never wait; the component runs to its end synchronously,
      // so requests cannot interleave inside it.
      return await handleIncomingRequest(request, component.incomingHandler.handle);
    } catch (error) {
      // A trap: this request's instance is gone, the next gets a new one.
      console.error(`sitebox: the component failed: ${error?.stack ?? error}`);
      return new Response("Internal Server Error\n", { status: 500 });
    }
  }
}

export default {
  fetch(request, env) {
    return env.SITE.get(env.SITE.idFromName("site")).fetch(request);
  },
};
