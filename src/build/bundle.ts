/**
 * `deno task bundle`: writes dist/bundle/hostgate and dist/bundle/hostgate-agent,
 * each an executable JavaScript file whose shebang runs it with this deno and
 * the same narrow permissions `deno task compile` bakes in (the plugin's
 * lazily imported parts go to dist/bundle/hostgate.chunks/). A runtime calls
 * it exactly like a binary; the tests and the demo run these files.
 * @module
 */
import { ENTRY_POINTS, permissionFlags, type Target, v8FlagArgs } from "./targets.ts";

/** Deno's one-letter permission flags: the shebang line has 255 bytes, the path of deno is long. */
const SHORT_FLAGS: Record<string, string> = {
  "--allow-read": "-R",
  "--allow-write": "-W",
  "--allow-env": "-E",
  "--allow-net": "-N",
  "--allow-sys": "-S",
};

const outDir = new URL("../../dist/bundle/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });
const deno = Deno.execPath();

for (const target of ENTRY_POINTS) {
  const entry = new URL(`../../${target.entry}`, import.meta.url).pathname;
  const body = target.split ? await bundleSplit(target, entry) : await bundleOne(target, entry);
  const flags = [
    "run",
    "--no-config",
    "--no-lock",
    "--ext=js",
    ...v8FlagArgs(target),
    ...permissionFlags(target).map((f) => SHORT_FLAGS[f] ?? f),
  ];
  const shebang = shebangLine(target, [deno, ...flags]);
  const final = `${outDir}${target.name}`;
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, shebang + body.replace(/^#!.*\n/, ""), { mode: 0o755 });
  await Deno.chmod(tmp, 0o755);
  await Deno.rename(tmp, final);
  if (target.codeCacheDir) await warmCodeCache(final);
  console.error(`bundle: ${final}`);
}

async function denoBundle(target: Target, args: string[]): Promise<void> {
  const out = await new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      // Not --keep-names: with it deno bundle drops its createRequire shim (require undefined).
      ...(target.minify ? ["--minify"] : []),
      ...args,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle ${target.entry}: deno bundle exited ${out.code}`);
  }
}

/** One file holding the whole program; returns its text. */
async function bundleOne(target: Target, entry: string): Promise<string> {
  const js = `${outDir}${target.name}.js`;
  await denoBundle(target, ["--output", js, entry]);
  const body = await Deno.readTextFile(js);
  await Deno.remove(js);
  return body;
}

/**
 * The program split where the source imports dynamically: the entry (the
 * returned text, which becomes the executable) and chunks in
 * `<name>.chunks/` beside it, so a call loads and compiles only the code its
 * command needs (VERSION: the entry alone). The entry names its chunks by
 * absolute file URL, like its shebang names deno: a copy installed into a
 * CNI bin directory still finds them. Chunk names carry a content hash, so
 * a rebuild never changes a file an installed copy uses; chunks no build
 * made within the last day are removed.
 */
async function bundleSplit(target: Target, entry: string): Promise<string> {
  const tmpDir = await Deno.makeTempDir({ dir: outDir, prefix: `.${target.name}-split-` });
  const chunkDir = `${outDir}${target.name}.chunks`;
  try {
    await denoBundle(target, ["--code-splitting", "--outdir", tmpDir, entry]);
    const entryJs = entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, ".js");
    let body = await Deno.readTextFile(`${tmpDir}/${entryJs}`);
    await Deno.mkdir(chunkDir, { recursive: true });
    const made = new Set<string>();
    for await (const e of Deno.readDir(tmpDir)) {
      if (e.name === entryJs) continue;
      made.add(e.name);
      await Deno.rename(`${tmpDir}/${e.name}`, `${chunkDir}/${e.name}`);
      body = body.replaceAll(
        `"./${e.name}"`,
        JSON.stringify(new URL(`file://${chunkDir}/${e.name}`).href),
      );
    }
    const relative = /(?:from|import)\s*\(?\s*["']\.\.?\//.exec(body);
    if (relative) {
      throw new Error(`Cannot bundle ${target.name}: the entry still imports a relative path`);
    }
    await pruneChunks(chunkDir, made);
    return body;
  } finally {
    await Deno.remove(tmpDir, { recursive: true });
  }
}

async function pruneChunks(dir: string, keep: Set<string>): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for await (const e of Deno.readDir(dir)) {
    if (keep.has(e.name)) {
      // Touch: a chunk this build uses again is as new as the build.
      const now = new Date();
      await Deno.utime(`${dir}/${e.name}`, now, now);
      continue;
    }
    const st = await Deno.stat(`${dir}/${e.name}`);
    if ((st.mtime?.getTime() ?? 0) < dayAgo) await Deno.remove(`${dir}/${e.name}`);
  }
}

/**
 * The first line of a bundle: env runs deno with the flags, after setting
 * DENO_DIR when the target has a cache directory. Linux reads at most 255
 * bytes of it (BINPRM_BUF_SIZE) and cuts the rest silently, so a longer line
 * is an error here rather than a broken plugin later.
 */
function shebangLine(target: Target, argv: string[]): string {
  const vars = target.codeCacheDir ? [`DENO_DIR=${target.codeCacheDir}`] : [];
  const line = `#!/usr/bin/env -S ${[...vars, ...argv].join(" ")}`;
  if (new TextEncoder().encode(line).length > 255) {
    throw new Error(
      `Cannot bundle ${target.name}: its shebang is longer than the 255 bytes Linux reads (${line})`,
    );
  }
  return line + "\n";
}

/**
 * Runs the new bundle once (VERSION) so Deno stores its code cache before
 * the first real call; the plugin's first ADD then pays no compilation. A
 * copy installed elsewhere gets its own entry on its first call. Failure
 * only costs that first call its speed, so it is reported, not fatal.
 */
async function warmCodeCache(path: string): Promise<void> {
  const out = await new Deno.Command(path, {
    env: { CNI_COMMAND: "VERSION" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(`bundle: cannot warm the code cache of ${path}: exit ${out.code}`);
  }
}
