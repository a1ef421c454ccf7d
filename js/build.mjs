// Bundle every page script in src/pages/ into ../src/istifta/web/static/js/,
// one minified IIFE per page, and print each bundle's size and gzip size.

import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const pages = join(here, 'src', 'pages');
const outdir = join(here, '..', 'src', 'istifta', 'web', 'static', 'js');

const entries = existsSync(pages)
  ? readdirSync(pages).filter((name) => name.endsWith('.js')).sort().map((name) => join(pages, name))
  : [];

if (entries.length === 0) {
  console.log('build: no page scripts in js/src/pages/; nothing to build');
  process.exit(0);
}

mkdirSync(outdir, { recursive: true });
await build({
  absWorkingDir: here,
  entryPoints: entries,
  outdir,
  bundle: true,
  format: 'iife',
  // ES2020 (BigInt) lowered further for old Android browsers: BigInt sets the floor.
  target: ['es2020', 'chrome67', 'firefox68', 'safari14.1'],
  platform: 'browser',
  minify: true,
  treeShaking: true,
  sourcemap: false,
  legalComments: 'eof', // noble's MIT notice ships with the code
  logLevel: 'warning',
});

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`.padStart(10);
for (const entry of entries) {
  const name = basename(entry);
  const code = readFileSync(join(outdir, name));
  console.log(`${name.padEnd(24)} ${kb(code.length)}  gzip ${kb(gzipSync(code, { level: 9 }).length)}`);
}
