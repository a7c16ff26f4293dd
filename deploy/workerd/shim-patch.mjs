// The fixes build.mjs applies to preview2-shim's wasi:http (0.26.1, pinned in
// package.json) as esbuild bundles it; each is an exact replacement that must
// match once, so a shim that changed fails the build instead of shipping
// unpatched. Why patch rather than wrap: the code at fault is the shim's
// private functions and fields, which no wrapper reaches.
//
// - Header values: the shim checks a value the component sets against
//   RFC 9110's field-value (tab, visible ASCII, bytes 0x80-0xFF) after decoding
//   it as UTF-8, so any character beyond Latin-1 (`X-Note: 日本`, from a
//   site's `_headers`) failed the check and the page was a 500. It checks the
//   bytes now, as the runner does; workerd sends the value as UTF-8, the bytes
//   the component wrote (a value that is not UTF-8 goes out with U+FFFD).
// - Methods: the shim gave every method as a WASI enum case, so one outside
//   wasi:http's list (PROPFIND, QUERY...) trapped the component; it is
//   `other(name)` now, which the component answers with a 501.

import fs from "node:fs";

const HELPERS = `
// sitebox (shim-patch.mjs): header values checked as bytes, methods as WASI's.
const siteboxBytesToString = (bytes) => {
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return text;
};
const siteboxWasiMethods = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const siteboxWasiMethod = (method) =>
    siteboxWasiMethods.has(method) ? { tag: method.toLowerCase() } : { tag: "other", val: method };
`;

const REPLACEMENTS = [
  // validateHeaderValue: the value's bytes, not its UTF-8.
  [
    'const str = typeof value === "string" ? value : utf8Decoder.decode(value);',
    'const str = typeof value === "string" ? value : siteboxBytesToString(value);',
  ],
  // IncomingRequest's method: `other(NAME)` beyond wasi:http's list.
  [
    `        const method = this.#request.method.toLowerCase();
        return { tag: method };`,
    "        return siteboxWasiMethod(this.#request.method);",
  ],
];

/** Applies the replacements to the shim's http.js source; throws if one does not match exactly once. */
export function patchShimHttp(source, file) {
  let patched = source;
  for (const [from, to] of REPLACEMENTS) {
    const count = patched.split(from).length - 1;
    if (count !== 1) {
      throw new Error(`shim-patch.mjs: ${file}: expected one ${JSON.stringify(from.slice(0, 60))}, found ${count}`);
    }
    patched = patched.replace(from, () => to);
  }
  return HELPERS + patched;
}

/** The esbuild plugin: the shim's browser http.js, patched; `patched.count` is how many files it patched. */
export function shimPatch(patched) {
  return {
    name: "sitebox-shim-patch",
    setup(build) {
      build.onLoad({ filter: /preview2-shim[\\/]dist[\\/]browser[\\/]http\.js$/ }, (args) => {
        const contents = patchShimHttp(fs.readFileSync(args.path, "utf8"), args.path);
        patched.count++;
        return { contents, loader: "js" };
      });
    },
  };
}
