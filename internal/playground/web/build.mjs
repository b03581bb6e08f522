// Builds the self-contained GraphiQL bundle embedded by internal/playground:
//
//   cd internal/playground/web && npm ci && node build.mjs
//
// writes ../dist/graphiql.js, ../dist/graphiql.css, ../dist/assets/* (fonts and images that
// the stylesheet would otherwise inline as data: URLs, so the page's CSP can stay 'self') and
// copies public/* (the favicon) alongside.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: { graphiql: join(here, 'src', 'main.jsx') },
  outdir: dist,
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // graphql-ws's root entry also carries the server; the page only needs the client.
  plugins: [
    {
      name: 'graphql-ws-client-only',
      setup(b) {
        b.onResolve({ filter: /^graphql-ws$/ }, (args) =>
          b.resolve('graphql-ws/client', { kind: args.kind, resolveDir: args.resolveDir }),
        );
      },
    },
  ],
  legalComments: 'eof',
  charset: 'utf8',
  sourcemap: false,
  logLevel: 'info',
});

for (const f of await readdir(join(here, 'public'))) await copyFile(join(here, 'public', f), join(dist, f));

// Move data: URLs out of the stylesheet into content-addressed files.
const ext = { 'font/woff2': 'woff2', 'font/woff': 'woff', 'image/png': 'png', 'image/svg+xml': 'svg', 'image/gif': 'gif' };
const cssPath = join(dist, 'graphiql.css');
let css = await readFile(cssPath, 'utf8');
await mkdir(join(dist, 'assets'), { recursive: true });
const written = new Set();
css = await replaceAsync(css, /url\(\s*(["']?)data:([a-z0-9.+\/-]+);base64,([A-Za-z0-9+\/=]+)\1\s*\)/gi, async (_m, _q, mime, b64) => {
  const e = ext[mime.toLowerCase()];
  if (!e) throw new Error(`build: unexpected data: URL of type ${mime} in graphiql.css`);
  const bytes = Buffer.from(b64, 'base64');
  const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${e}`;
  if (!written.has(name)) {
    await writeFile(join(dist, 'assets', name), bytes);
    written.add(name);
  }
  return `url(assets/${name})`;
});
if (/url\(\s*["']?(data:|https?:|\/\/)/i.test(css)) throw new Error('build: graphiql.css still loads something not from this origin');
await writeFile(cssPath, css);

for (const f of ['graphiql.js', 'graphiql.css']) {
  const text = await readFile(join(dist, f), 'utf8');
  const cdn = text.match(/(https?:)?\/\/[a-z0-9.-]*(unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|googleapis\.com|gstatic\.com|esm\.sh|skypack\.dev)/i);
  if (cdn) throw new Error(`build: ${f} references a CDN: ${cdn[0]}`);
}

// dist/.build.json (a dotfile, so go:embed leaves it out) ties the output to its inputs: the
// Go tests recompute the inputs' hash and fail when the source changed without a rebuild.
const outputs = {};
for (const f of await listFiles(dist)) outputs[f] = sha256(await readFile(join(dist, f)));
const lock = JSON.parse(await readFile(join(here, 'package-lock.json'), 'utf8'));
const pkg = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));
const versions = {};
for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).sort()) {
  versions[name] = lock.packages[`node_modules/${name}`].version;
}
await writeFile(
  join(dist, '.build.json'),
  JSON.stringify({ inputs: await inputsHash(), versions, outputs }, null, 2) + '\n',
);

let total = 0;
for (const f of await listFiles(dist)) {
  const { size } = await stat(join(dist, f));
  total += size;
  console.log(`${f.padEnd(40)} ${(size / 1024).toFixed(1).padStart(9)} KiB`);
}
console.log(`${'total'.padEnd(40)} ${(total / 1024).toFixed(1).padStart(9)} KiB`);

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

// inputsHash must agree with inputsHash in ../playground_test.go.
async function inputsHash() {
  const files = ['build.mjs', 'package.json', 'package-lock.json'];
  for (const d of ['src', 'public']) for (const f of await listFiles(join(here, d))) files.push(`${d}/${f}`);
  files.sort();
  let text = '';
  for (const f of files) text += `${f}\n${sha256(await readFile(join(here, f)))}\n`;
  return sha256(text);
}

async function replaceAsync(s, re, fn) {
  const parts = [];
  let last = 0;
  for (const m of s.matchAll(re)) {
    parts.push(s.slice(last, m.index), await fn(...m));
    last = m.index + m[0].length;
  }
  parts.push(s.slice(last));
  return parts.join('');
}

async function listFiles(dir, prefix = '') {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}
