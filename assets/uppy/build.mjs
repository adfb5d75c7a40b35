// Builds static/vendor/uppy/ from entry.js and the packages pinned in
// package-lock.json (run by `make vendor-uppy`, after `npm ci --ignore-scripts`).
//
// Writes uppy.min.js (one IIFE setting window.PortalUppy), uppy.min.css (core's
// and the Dashboard's styles), the CSS's inline SVG images as files (the CSP's
// default-src 'self' refuses data: images), and LICENSES.txt. Each built file
// starts with a banner naming every package bundled into it and its version;
// tests/test_vendor_uppy.py compares that banner with package-lock.json.
// Nothing here depends on the time, the machine or the directory it runs in,
// so two runs give byte-identical files.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, "../../static/vendor/uppy");
// Phones abroad are not always up to date: lower the syntax to what browsers
// of 2020-21 run (private fields become WeakMaps; esbuild cannot lower
// for Safari 14, so iOS 15 is the floor).
const TARGET = ["es2020", "chrome80", "firefox78", "safari15"];
const LICENCE_FILES = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license", "license.md", "LICENCE"];

process.chdir(HERE);

const result = await esbuild.build({
  entryPoints: ["entry.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: TARGET,
  charset: "utf8",
  legalComments: "none", // the licences go to LICENSES.txt, whole
  define: { "process.env.NODE_ENV": '"production"' },
  outfile: join(OUT, "uppy.min.js"),
  metafile: true,
  write: false,
  logLevel: "warning",
});

/** The package (name, directory) a bundled input file belongs to. */
function packageOf(input) {
  const parts = input.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return null; // entry.js itself
  const scoped = parts[at + 1].startsWith("@");
  const name = scoped ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
  return { name, dir: parts.slice(0, at + (scoped ? 3 : 2)).join("/") };
}

/** Every package with at least one byte in an output, sorted by name. */
function bundledPackages(output) {
  const found = new Map();
  for (const [input, info] of Object.entries(output.inputs)) {
    const pkg = packageOf(input);
    if (pkg && info.bytesInOutput > 0 && !found.has(pkg.name)) found.set(pkg.name, pkg.dir);
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, dir]) => {
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    if (meta.name !== name) throw new Error(`${dir}/package.json names ${meta.name}, not ${name}`);
    return { name, dir, version: meta.version, license: meta.license };
  });
}

function banner(packages) {
  const names = packages.map((p) => `${p.name}@${p.version}`).join(" ");
  return `/*! Bundled by assets/uppy (make vendor-uppy): ${names}; licences in LICENSES.txt */\n`;
}

/** data: SVG images in the CSS become files beside it, named by content. */
function extractImages(css, images) {
  return css.replace(/url\((["']?)data:image\/svg\+xml[^,]*,(.*?)\1\)/g, (_match, _quote, data) => {
    const svg = decodeURIComponent(data);
    const name = `uppy-${createHash("sha256").update(svg).digest("hex").slice(0, 12)}.svg`;
    images.set(name, svg);
    return `url(${name})`;
  });
}

/** A package's licence: its licence file, else its README's licence section
 * (a few small packages keep it there). */
function licenceText(pkg) {
  for (const file of LICENCE_FILES) {
    const path = join(pkg.dir, file);
    if (existsSync(path)) return readFileSync(path, "utf8").trim();
  }
  const readme = join(pkg.dir, "README.md");
  const lines = existsSync(readme) ? readFileSync(readme, "utf8").split("\n") : [];
  const start = lines.findIndex((line) => /^#+\s*licen[cs]e/i.test(line));
  if (start >= 0) {
    const level = lines[start].match(/^#+/)[0].length;
    const end = lines.findIndex((line, at) => at > start && /^#+\s/.test(line) &&
      line.match(/^#+/)[0].length <= level);
    const section = lines.slice(start + 1, end < 0 ? undefined : end).join("\n").trim();
    if (/permission|copyright/i.test(section)) return `(from its README.md)\n\n${section}`;
  }
  throw new Error(`${pkg.name}@${pkg.version} ships no licence text: check its terms by hand`);
}

const outputs = {};
for (const file of result.outputFiles) {
  const name = relative(OUT, file.path);
  const meta = result.metafile.outputs[relative(HERE, file.path).split("\\").join("/")];
  outputs[name] = { text: file.text, packages: bundledPackages(meta) };
}
const js = outputs["uppy.min.js"];
const css = outputs["uppy.min.css"];
if (!js || !css) throw new Error(`unexpected outputs: ${Object.keys(outputs).join(", ")}`);
for (const forbidden of ["eval(", "new Function"]) {
  if (js.text.includes(forbidden)) throw new Error(`the bundle contains ${forbidden}: the CSP refuses it`);
}

const images = new Map();
const cssText = extractImages(css.text, images);
if (cssText.includes("data:")) throw new Error("a data: URL is left in the CSS: the CSP refuses it");

const everything = new Map([...js.packages, ...css.packages].map((p) => [p.name, p]));
const licences = [...everything.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) =>
  `${"=".repeat(76)}\n${p.name} ${p.version} (${p.license})\n${"=".repeat(76)}\n\n${licenceText(p)}\n`);

mkdirSync(OUT, { recursive: true });
for (const old of readdirSync(OUT)) rmSync(join(OUT, old));
writeFileSync(join(OUT, "uppy.min.js"), banner(js.packages) + js.text);
writeFileSync(join(OUT, "uppy.min.css"), banner(css.packages) + cssText);
for (const [name, svg] of [...images.entries()].sort()) writeFileSync(join(OUT, name), svg);
writeFileSync(join(OUT, "LICENSES.txt"),
  "Third-party code in static/vendor/uppy/, with each package's licence.\n\n" +
  licences.join("\n"));
console.log(`vendor-uppy: ${[...everything.keys()].length} packages, ${images.size} images -> ${relative(process.cwd(), OUT)}`);
